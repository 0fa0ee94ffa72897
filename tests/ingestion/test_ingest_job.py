"""The job end to end on real local Spark (files dealt to one task per core): several files in one job,
results in input order, exact counts, the contract's columns and the tables' field IDs, reruns that skip by
sha256, refusals that stop only their file; and the commit's crash safety."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from tlc_samples import QUARANTINE_SCHEMA, current_table, ingest, lake_schema, partition_table

from ingestion import job, lake, lake_commit, manifest, synthetic
from ingestion.contract import MANIFEST_KEYS, iceberg_table
from ingestion.errors import InputSetError, ReconciliationError


def _snapshot(*folders: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


PARTITION_FIELDS = (pa.field("year", pa.int32()), pa.field("month", pa.int32()))


def _no_spark():
    raise AssertionError("Spark was started although nothing was left to ingest")


@pytest.fixture(scope="module")
def ingested(spark, tmp_path_factory):
    """Five inputs in one job: three good files of two datasets, one refused by the plan (truncated)
    and one refused inside its Spark task (March's trips named April)."""
    base = tmp_path_factory.mktemp("job")
    raw, lake_root, quarantine_root = base / "raw", base / "lake", base / "quarantine"
    february = synthetic.generate_month(raw, "yellow", 2024, 2, rows=3000, seed=7, bad_share=0.05, chunk_rows=1000)
    january = synthetic.generate_month(raw, "yellow", 2024, 1, rows=3000, seed=7, bad_share=0.05, chunk_rows=1000)
    green = synthetic.generate_month(raw, "green", 2024, 1, rows=1000, seed=7, bad_share=0.05, fmt="csv")
    march = synthetic.generate_month(base / "other", "yellow", 2024, 3, rows=400, seed=7, bad_share=0.0)
    truncated = raw / "yellow_tripdata_2024-03.parquet"
    truncated.write_bytes((base / "other" / march["source_file"]).read_bytes()[:-100])
    mislabeled = raw / "yellow_tripdata_2024-04.parquet"
    mislabeled.write_bytes((base / "other" / march["source_file"]).read_bytes())
    inputs = [
        str(raw / february["source_file"]),
        str(truncated),
        str(raw / january["source_file"]),
        str(raw / green["source_file"]),
        str(mislabeled),
    ]
    messages: list[str] = []
    results = job.run_ingestion(
        inputs, str(lake_root), str(quarantine_root), progress=messages.append, spark_factory=lambda: spark
    )
    return {
        "raw": raw,
        "lake": lake_root,
        "quarantine": quarantine_root,
        "inputs": inputs,
        "expected": {0: february, 2: january, 3: green},
        "results": results,
        "messages": messages,
    }


def test_one_job_results_in_input_order_and_refusals_stop_only_their_file(ingested):
    results = ingested["results"]
    assert [r.source_file for r in results] == [Path(p).name for p in ingested["inputs"]]
    assert [r.status for r in results] == ["ingested", "refused", "ingested", "ingested", "refused"]
    assert results[1].error == "yellow_tripdata_2024-03.parquet: truncated or corrupt Parquet (no footer)"
    assert results[4].error == (
        "yellow_tripdata_2024-04.parquet: 400 of 400 pickups fall outside 2024-04: the file name's month looks"
        " wrong; rename the file to the month of its trips"
    )
    for refused in (results[1], results[4]):
        report = json.loads(Path(refused.rejection_report).read_text())
        assert report["problem"] == refused.problem and report["source_path"] == refused.source_path
        assert refused.rejection_report == str(
            ingested["quarantine"] / "_rejected_files" / f"{refused.source_file}.error.json"
        )
        assert manifest.read_manifest(str(ingested["lake"]), refused.source_file) is None
    for month in ("03", "04"):
        partition = f"yellow_trips/year=2024/month={month}"
        assert partition_table(ingested["lake"], partition, lake_schema("yellow")) is None
        assert partition_table(ingested["quarantine"], partition, QUARANTINE_SCHEMA) is None
    assert not list((ingested["lake"] / "yellow_trips" / "data" / "service=yellow" / "year=2024").glob("month=[34]/*"))
    commits = [m for m in ingested["messages"] if m.startswith("committed ")]
    assert [m.split(" (snapshot")[0] for m in commits] == [
        "committed 3 month(s) to quarantined_trips",
        "committed 1 month(s) to green_trips",
        "committed 2 month(s) to yellow_trips",
    ]
    assert [m for m in ingested["messages"] if m not in commits] == [job.describe(r) for r in results]
    assert [m for m in ingested["messages"] if m not in commits][0].startswith(
        "yellow_tripdata_2024-02.parquet: 3,000 read, 2,850 accepted, 150 quarantined ("
    )


def test_manifest_counts_equal_the_injected_anomalies_exactly(ingested):
    for index, expected in ingested["expected"].items():
        m = ingested["results"][index].manifest
        assert m["rows_read"] == expected["rows"]
        assert m["rows_accepted"] == expected["rows_accepted"]
        assert m["rows_quarantined"] == expected["rows_quarantined"]
        assert m["quarantined_by_reason"] == expected["quarantined_by_reason"]
        assert m["warnings_by_code"] == expected["warnings_by_code"]
        assert m["rows_read"] == m["rows_accepted"] + m["rows_quarantined"]
        partition = _partition(m)
        assert partition_table(ingested["lake"], partition, lake_schema(m["service"])).num_rows == m["rows_accepted"]
        assert partition_table(ingested["quarantine"], partition, QUARANTINE_SCHEMA).num_rows == m["rows_quarantined"]


def _partition(m: dict) -> str:
    return f"{m['service']}_trips/year={m['year']:04d}/month={m['month']:02d}"


def test_manifest_on_disk_is_one_json_line_in_contract_order(ingested):
    for index in ingested["expected"]:
        result = ingested["results"][index]
        text = (ingested["lake"] / "_manifests" / f"{result.source_file}.json").read_text()
        assert text.endswith("\n") and text.count("\n") == 1
        stored = json.loads(text)
        assert tuple(stored) == MANIFEST_KEYS and stored == result.manifest
        assert stored["sha256"] == hashlib.sha256(Path(result.source_path).read_bytes()).hexdigest()
        assert stored["source_path"] == ingested["inputs"][index] and stored["source_version"] is None
    green = ingested["results"][3].manifest
    assert (green["service"], green["year"], green["month"]) == ("green", 2024, 1)
    assert green["lake_table"] == "green_trips"
    january = ingested["results"][2].manifest
    assert green["quarantine_snapshot_id"] == january["quarantine_snapshot_id"]  # one quarantine commit a run
    assert green["lake_snapshot_id"] != january["lake_snapshot_id"]  # one commit per trip table


def test_lake_partition_has_the_contract_columns_and_accepted_rows(ingested):
    table = partition_table(ingested["lake"], "yellow_trips/year=2024/month=01", lake_schema("yellow"))
    [part] = (ingested["lake"] / "yellow_trips/data/service=yellow/year=2024/month=1").glob("*.parquet")
    file_schema = pq.read_schema(part)
    # names, order and types as the contract states, the partition columns in the file, and each column
    # carrying the field ID the catalog gave it (what readers resolve columns by)
    assert file_schema.remove_metadata() == pa.schema(
        [pa.field(f.name, f.type) for f in (*lake_schema("yellow"), *PARTITION_FIELDS)]
    )
    ids = {f.name: f.field_id for f in current_table(ingested["lake"], "yellow_trips").schema().fields}
    assert {f.name: int(f.metadata[b"PARQUET:field_id"]) for f in file_schema} == ids
    assert len(ids) == len(iceberg_table("yellow_trips").columns)
    assert table.num_rows == ingested["expected"][2]["rows_accepted"]
    keys = table.column("trip_key").to_pylist()
    assert len(set(keys)) == len(keys) and all(len(k) == 32 for k in keys)
    assert set(table.column("service").to_pylist()) == {"yellow"}
    assert set(table.column("source_file").to_pylist()) == {"yellow_tripdata_2024-01.parquet"}
    assert table.column("trip_type").null_count == table.num_rows  # yellow has no trip_type
    green = partition_table(ingested["lake"], "green_trips/year=2024/month=01", lake_schema("green"))
    assert green.num_rows == ingested["expected"][3]["rows_accepted"]
    assert green.column("trip_type").null_count < green.num_rows


def test_quarantine_partition_rows_have_reasons_and_raw_records(ingested):
    table = partition_table(ingested["quarantine"], "yellow_trips/year=2024/month=01", QUARANTINE_SCHEMA)
    codes = table.column("reason_code").to_pylist()
    assert {code: codes.count(code) for code in set(codes)} == ingested["expected"][2]["quarantined_by_reason"]
    record = json.loads(table.column("raw_record")[0].as_py())
    assert {"VendorID", "tpep_pickup_datetime", "Airport_fee"} <= set(record)
    unreadable = pc.equal(table["reason_code"], "unparseable")
    assert table.filter(unreadable)["trip_key"].null_count == table.filter(unreadable).num_rows > 0
    assert table.filter(pc.invert(unreadable))["trip_key"].null_count == 0


def test_source_rows_cover_each_file_exactly_once(ingested):
    for index, expected in ingested["expected"].items():
        partition = _partition(ingested["results"][index].manifest)
        service = expected["service"]
        accepted = partition_table(ingested["lake"], partition, lake_schema(service))["source_row"].to_pylist()
        rejected = partition_table(ingested["quarantine"], partition, QUARANTINE_SCHEMA)["source_row"].to_pylist()
        assert sorted(accepted + rejected) == list(range(1, expected["rows"] + 1))


def test_source_row_points_at_the_raw_row(ingested):
    table = partition_table(ingested["quarantine"], "yellow_trips/year=2024/month=01", QUARANTINE_SCHEMA)
    raw = pq.read_table(ingested["inputs"][2])
    for row in table.slice(0, 40).to_pylist():
        original = raw.slice(row["source_row"] - 1, 1).to_pylist()[0]
        record = json.loads(row["raw_record"])
        assert record["VendorID"] == original["VendorID"]
        assert record["PULocationID"] == original["PULocationID"]
        assert record["trip_distance"] == original["trip_distance"]


def test_no_staging_or_side_files_left(ingested):
    names = [p.name for p in ingested["lake"].rglob("*")] + [p.name for p in ingested["quarantine"].rglob("*")]
    assert not [n for n in names if n.startswith(".") or n == "_SUCCESS" or n.endswith(".crc")]


def test_rerun_is_a_no_op_without_spark(ingested):
    good = [ingested["inputs"][i] for i in ingested["expected"]]
    before = _snapshot(ingested["lake"], ingested["quarantine"])
    again = job.run_ingestion(good, str(ingested["lake"]), str(ingested["quarantine"]), spark_factory=_no_spark)
    assert [r.status for r in again] == ["skipped"] * 3
    assert [r.manifest for r in again] == [ingested["results"][i].manifest for i in ingested["expected"]]
    assert job.describe(again[0]) == "yellow_tripdata_2024-02.parquet: unchanged (sha256 already ingested), skipped"
    assert _snapshot(ingested["lake"], ingested["quarantine"]) == before


def test_rerun_hashing_in_the_tasks_skips_there(spark, ingested):
    # The Glue entry point does not hash on the driver: each task hashes its file and finds the manifest.
    good = [ingested["inputs"][i] for i in ingested["expected"]]
    before = _snapshot(ingested["lake"], ingested["quarantine"])
    again = job.run_ingestion(
        good, str(ingested["lake"]), str(ingested["quarantine"]), spark_factory=lambda: spark, hash_files=False
    )
    assert [r.status for r in again] == ["skipped"] * 3
    assert again[2].manifest == ingested["results"][3].manifest
    assert _snapshot(ingested["lake"], ingested["quarantine"]) == before


def test_duplicate_inputs_are_refused_before_anything(tmp_path):
    path = str(tmp_path / "a" / "yellow_tripdata_2024-01.parquet")
    other = str(tmp_path / "b" / "yellow_tripdata_2024-01.parquet")
    roots = (str(tmp_path / "l"), str(tmp_path / "q"))
    with pytest.raises(InputSetError, match="duplicate input"):
        job.run_ingestion([path, other], *roots, spark_factory=_no_spark)
    gz_twin = str(tmp_path / "yellow_tripdata_2024-01.csv.gz")
    with pytest.raises(InputSetError, match=r"yellow_tripdata_2024-01.csv.gz: duplicate input \(yellow_trips/"):
        job.run_ingestion([path, gz_twin], *roots, spark_factory=_no_spark)
    assert not (tmp_path / "l").exists() and not (tmp_path / "q").exists()


def test_changed_file_replaces_its_partitions(spark, tmp_path):
    raw, lake_root, q_root = tmp_path / "raw", tmp_path / "lake", tmp_path / "q"
    synthetic.generate_month(raw, "yellow", 2024, 3, rows=400, seed=1, bad_share=0.05)
    path = [str(raw / "yellow_tripdata_2024-03.parquet")]
    [first] = job.run_ingestion(path, str(lake_root), str(q_root), spark_factory=lambda: spark)
    second_expected = synthetic.generate_month(raw, "yellow", 2024, 3, rows=250, seed=2, bad_share=0.1)
    [second] = job.run_ingestion(path, str(lake_root), str(q_root), spark_factory=lambda: spark)
    assert second.status == "ingested" and second.manifest["sha256"] != first.manifest["sha256"]
    assert second.manifest["quarantined_by_reason"] == second_expected["quarantined_by_reason"]
    partition = "yellow_trips/year=2024/month=03"
    assert partition_table(lake_root, partition, lake_schema("yellow")).num_rows == second_expected["rows_accepted"]
    assert partition_table(q_root, partition, QUARANTINE_SCHEMA).num_rows == second_expected["rows_quarantined"] == 25
    assert manifest.read_manifest(str(lake_root), "yellow_tripdata_2024-03.parquet") == second.manifest


def test_cli_prints_summary_and_exits_non_zero_on_refusal(spark, tmp_path, capsys):
    raw = tmp_path / "raw"
    synthetic.generate_month(raw, "yellow", 2024, 6, rows=150, seed=4, bad_share=0.0)
    empty = raw / "yellow_tripdata_2024-07.parquet"
    empty.write_bytes(b"")
    good = str(raw / "yellow_tripdata_2024-06.parquet")
    args = ["--lake-root", str(tmp_path / "lake"), "--quarantine-root", str(tmp_path / "q")]
    assert job.main(["--input", good, *args]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["ok"], summary["ingested"]) == (True, 1)
    assert summary["files"][0]["manifest"]["rows_accepted"] == 150
    assert job.main(["--input", str(empty), "--input", good, *args]) == 1
    out = capsys.readouterr()
    summary = json.loads(out.out)
    assert (summary["ok"], summary["refused"], summary["skipped"]) == (False, 1, 1)
    assert summary["files"][0]["problem"] == "file is empty (0 bytes)"
    assert out.err.splitlines()[0] == (
        "yellow_tripdata_2024-07.parquet: file is empty (0 bytes) -> refused,"
        f" now at {tmp_path / 'q' / '_rejected_files' / 'yellow_tripdata_2024-07.parquet'}"
    )
    assert job.main(["--input", good, "--input", good, *args]) == 2
    assert "duplicate input" in json.loads(capsys.readouterr().out)["error"]


def test_crash_before_the_commit_keeps_the_previous_month_and_rerun_converges(tmp_path, monkeypatch):
    raw, out = tmp_path / "raw", tmp_path / "out"
    path = raw / "yellow_tripdata_2024-08.parquet"
    synthetic.generate_month(raw, "yellow", 2024, 8, rows=300, seed=5, bad_share=0.1)
    first = ingest(path, out)
    before = (first.accepted(), first.quarantined())
    new_expected = synthetic.generate_month(raw, "yellow", 2024, 8, rows=200, seed=6, bad_share=0.1)

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash between the tasks' writes and the commit")

    monkeypatch.setattr(lake_commit, "replace_months", crash)
    crashed = ingest(path, out)
    assert crashed.result.status == "failed" and "simulated crash" in crashed.result.problem
    assert (first.accepted(), first.quarantined()) == before  # what readers see is untouched
    assert manifest.read_manifest(str(out / "lake"), path.name) is None  # so the rerun ingests again

    monkeypatch.undo()
    done = ingest(path, out)
    assert done.manifest["rows_accepted"] == new_expected["rows_accepted"]
    assert done.accepted().num_rows == new_expected["rows_accepted"]


def test_crash_between_the_quarantine_and_the_trips_commit_converges_on_rerun(tmp_path, monkeypatch):
    raw, out = tmp_path / "raw", tmp_path / "out"
    path = raw / "yellow_tripdata_2024-09.parquet"
    synthetic.generate_month(raw, "yellow", 2024, 9, rows=300, seed=5, bad_share=0.1)
    first = ingest(path, out)
    old_trips = first.accepted()
    synthetic.generate_month(raw, "yellow", 2024, 9, rows=200, seed=6, bad_share=0.1)
    real = lake_commit.replace_months

    def crash_on_trips(table, *args, **kwargs):
        if table.name()[-1] == "yellow_trips":
            raise RuntimeError("simulated crash after the quarantine commit")
        return real(table, *args, **kwargs)

    monkeypatch.setattr(lake_commit, "replace_months", crash_on_trips)
    assert ingest(path, out).result.status == "failed"
    assert first.accepted() == old_trips  # the trips are the old month, whole
    assert manifest.read_manifest(str(out / "lake"), path.name) is None
    monkeypatch.undo()
    done = ingest(path, out)  # the rerun converges on the new file in both tables
    assert done.manifest["rows_read"] == 200
    assert done.accepted().num_rows + done.quarantined().num_rows == 200


def test_broken_reconciliation_publishes_nothing(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    synthetic.generate_month(raw, "yellow", 2024, 10, rows=100, seed=8, bad_share=0.1)
    real_count = lake.count_rows
    monkeypatch.setattr(lake, "count_rows", lambda location: real_count(location) - 1)
    done = ingest(raw / "yellow_tripdata_2024-10.parquet", tmp_path)
    assert done.result.status == "failed" and not done.result.ok
    assert done.result.problem == (
        "rows_read 100 != rows_accepted 89 + rows_quarantined 9 (reasons sum to 10); nothing was published for"
        " this file"
    )
    assert job.describe(done.result).endswith("-> FAILED")
    assert not (tmp_path / "lake" / "_manifests").exists()
    assert not list(tmp_path.rglob("data/**/*.parquet")) and not list(tmp_path.rglob(".*"))


def test_check_reconciliation_rejects_reasons_that_do_not_add_up():
    good = {
        "source_file": "f",
        "rows_read": 10,
        "rows_accepted": 7,
        "rows_quarantined": 3,
        "quarantined_by_reason": {"unparseable": 1, "duplicate_row": 2},
    }
    manifest.check_reconciliation(good)
    with pytest.raises(ReconciliationError):
        manifest.check_reconciliation({**good, "rows_accepted": 8})
    with pytest.raises(ReconciliationError):
        manifest.check_reconciliation({**good, "quarantined_by_reason": {"unparseable": 1}})


def test_get_spark_reuses_the_active_session(spark):
    from ingestion.spark_session import get_spark

    assert get_spark() is spark
    assert spark.sparkContext.master.startswith("local")


def test_files_are_dealt_biggest_first_to_the_lightest_task():
    sizes = [5, 100, 40, 60, 1, 30]
    tasks = job.deal(sizes, 2)
    assert tasks == [[1, 5], [3, 2, 0, 4]]  # 100+30 vs 60+40+5+1
    assert sorted(i for task in tasks for i in task) == list(range(len(sizes)))
    assert job.deal(sizes, 10) == [[1], [3], [2], [5], [0], [4]]  # never more tasks than files
    assert job.deal([7], 0) == [[0]]


def test_lake_timestamps_are_int64_microseconds_not_adjusted_to_utc(ingested):
    """What Redshift Spectrum reads through the catalog's `timestamp` columns, pinned so a change of encoding
    fails here. The lake holds NYC wall-clock times (the contract), so the files carry TIMESTAMP(MICROS) on
    INT64 with isAdjustedToUTC=false: a timestamp without time zone at microsecond resolution, which is what
    Redshift's TIMESTAMP is ("TIMESTAMP is an alias of TIMESTAMP WITHOUT TIME ZONE", resolution 1 microsecond:
    "Datetime types", https://docs.aws.amazon.com/redshift/latest/dg/r_Datetime_types.html), and the Parquet
    encoding of the only timestamp Spectrum documents reading from Iceberg tables ("timestamp without time
    zone"; timestamptz unsupported: https://docs.aws.amazon.com/redshift/latest/dg/querying-iceberg-supported-data-types.html).
    No AWS page states which Parquet timestamp encodings Spectrum reads from plain Parquet tables (infra/README.md,
    "What cannot be verified"); not INT96, not nanoseconds, not UTC-adjusted values under a `timestamp` column."""
    catalog = {
        name: [{"name": c.name, "type": c.type} for c in iceberg_table(name).columns]
        for name in ("yellow_trips", "green_trips", "quarantined_trips")
    }
    files = {
        "yellow_trips": ingested["lake"] / "yellow_trips/data/service=yellow/year=2024/month=1",
        "green_trips": ingested["lake"] / "green_trips/data/service=green/year=2024/month=1",
        "quarantined_trips": ingested["quarantine"] / "quarantined_trips/data/service=yellow/year=2024/month=1",
    }
    checked = 0
    for table, folder in files.items():
        schema = pq.ParquetFile(next(folder.glob("*.parquet"))).schema
        timestamps = {column["name"] for column in catalog[table] if column["type"] == "timestamp"}
        assert timestamps, f"{table}: the catalog types no column as timestamp"
        for column in (schema.column(i) for i in range(len(schema))):
            logical = json.loads(column.logical_type.to_json())
            if column.name in timestamps or logical["Type"] == "Timestamp":
                assert column.name in timestamps, (
                    f"{table}.{column.name}: a Parquet timestamp the catalog types otherwise"
                )
                assert column.physical_type == "INT64", f"{table}.{column.name}: {column.physical_type}"
                assert (logical["Type"], logical["isAdjustedToUTC"], logical["timeUnit"]) == (
                    "Timestamp",
                    False,
                    "microseconds",
                ), f"{table}.{column.name}: {logical}"
                checked += 1
    assert checked >= 5


def test_a_month_replaced_under_another_format_drops_the_old_formats_receipt(tmp_path):
    """After the CSV of a month replaces its Parquet, the Parquet given again is not "already ingested":
    the lake holds the CSV's rows, so it is ingested again (review m1)."""
    raw, out = tmp_path / "raw", tmp_path / "out"
    parquet = raw / "yellow_tripdata_2024-05.parquet"
    synthetic.generate_month(raw, "yellow", 2024, 5, rows=120, seed=3, bad_share=0.0)
    synthetic.generate_month(raw, "yellow", 2024, 5, rows=80, seed=4, bad_share=0.0, fmt="csv")
    assert ingest(parquet, out).manifest["rows_read"] == 120
    assert ingest(raw / "yellow_tripdata_2024-05.csv", out).manifest["rows_read"] == 80
    assert manifest.read_manifest(str(out / "lake"), parquet.name) is None
    again = ingest(parquet, out)
    assert again.result.status == "ingested" and again.accepted().num_rows == 120


def test_a_rerun_with_nothing_new_opens_no_catalog_and_imports_no_pyiceberg(ingested):
    """The receipts answer "already in the lake" (issue 19: a no-op rerun stays JVM- and catalog-free)."""
    import subprocess
    import sys

    script = (
        "import sys; from ingestion import job; "
        f"results = job.run_ingestion({[ingested['inputs'][i] for i in ingested['expected']]!r},"
        f" {str(ingested['lake'])!r}, {str(ingested['quarantine'])!r}); "
        "print([r.status for r in results], any(m.startswith('pyiceberg') for m in sys.modules))"
    )
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=repo, check=True)
    assert out.stdout.split("\n")[-2] == "['skipped', 'skipped', 'skipped'] False"
