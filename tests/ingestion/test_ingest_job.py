"""run_ingestion end to end on synthetic files: exact counts, contract, reruns, refusals, crashes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion import job, lake, manifest, synthetic
from ingestion.errors import InputSetError, ReconciliationError
from ingestion.schema import QUARANTINE_COLUMNS, TRIP_COLUMNS


def _partition_table(root: Path, partition: str) -> pa.Table:
    files = sorted((root / partition).glob("part-*.parquet"))
    assert files, f"no part files in {root / partition}"
    return pa.concat_tables(pq.read_table(f) for f in files)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def ingested(spark, tmp_path_factory):
    """Two synthetic yellow months ingested once; tests below read what was written."""
    base = tmp_path_factory.mktemp("job")
    raw, lake_root, quarantine_root = base / "raw", base / "lake", base / "quarantine"
    expected = [
        synthetic.generate_month(raw, "yellow", 2024, month, rows=3000, seed=7, bad_share=0.05, chunk_rows=1000)
        for month in (1, 2)
    ]
    inputs = [str(raw / e["source_file"]) for e in expected]
    messages: list[str] = []
    results = job.run_ingestion(spark, inputs, str(lake_root), str(quarantine_root), progress=messages.append)
    return {
        "raw": raw,
        "lake": lake_root,
        "quarantine": quarantine_root,
        "inputs": inputs,
        "expected": expected,
        "results": results,
        "messages": messages,
    }


def test_manifest_counts_equal_the_injected_anomalies_exactly(ingested):
    for result, expected in zip(ingested["results"], ingested["expected"], strict=True):
        assert result["status"] == "ingested"
        assert result["rows_read"] == expected["rows"] == 3000
        assert result["rows_accepted"] == expected["rows_accepted"]
        assert result["rows_quarantined"] == expected["rows_quarantined"] == 150
        assert result["quarantined_by_reason"] == expected["quarantined_by_reason"]
        assert result["rows_read"] == result["rows_accepted"] + result["rows_quarantined"]
    assert len(ingested["messages"]) == 2 and "3000 read" in ingested["messages"][0]


def test_manifest_on_disk_matches_contract(ingested):
    stored = manifest.read_manifest(str(ingested["lake"]), "yellow_tripdata_2024-01.parquet")
    assert set(stored) == {
        "source_file",
        "source_path",
        "sha256",
        "service",
        "year",
        "month",
        "rows_read",
        "rows_accepted",
        "rows_quarantined",
        "quarantined_by_reason",
        "lake_partition",
        "quarantine_partition",
        "ingested_at",
    }
    assert stored["lake_partition"] == stored["quarantine_partition"] == "yellow_trips/year=2024/month=01"
    assert stored["sha256"] == manifest.sha256_file(ingested["inputs"][0])
    assert (stored["year"], stored["month"], stored["service"]) == (2024, 1, "yellow")


def test_lake_partition_has_canonical_schema_and_accepted_rows(ingested):
    table = _partition_table(ingested["lake"], "yellow_trips/year=2024/month=01")
    assert tuple(table.schema.names) == TRIP_COLUMNS
    types = {f.name: f.type for f in table.schema}
    assert types["pickup_at"] == pa.timestamp("us", tz="UTC") or types["pickup_at"] == pa.timestamp("us")
    assert types["fare_amount"] == pa.decimal128(12, 2)
    assert types["vendor_id"] == pa.int32() and types["source_row"] == pa.int64()
    assert table.num_rows == ingested["expected"][0]["rows_accepted"]
    keys = table.column("trip_key").to_pylist()
    assert len(set(keys)) == len(keys) and all(len(k) == 32 for k in keys)
    assert set(table.column("service").to_pylist()) == {"yellow"}
    assert set(table.column("source_file").to_pylist()) == {"yellow_tripdata_2024-01.parquet"}
    assert table.column("trip_type").null_count == table.num_rows  # yellow has no trip_type


def test_quarantine_partition_rows_have_reasons_and_raw_records(ingested):
    table = _partition_table(ingested["quarantine"], "yellow_trips/year=2024/month=01")
    assert tuple(table.schema.names) == QUARANTINE_COLUMNS
    codes = table.column("reason_code").to_pylist()
    counts = {code: codes.count(code) for code in set(codes)}
    assert counts == ingested["expected"][0]["quarantined_by_reason"]
    record = json.loads(table.column("raw_record")[0].as_py())
    assert {"VendorID", "tpep_pickup_datetime", "Airport_fee"} <= set(record)


def test_source_rows_cover_the_file_exactly_once(ingested):
    accepted = _partition_table(ingested["lake"], "yellow_trips/year=2024/month=02").column("source_row").to_pylist()
    rejected = _partition_table(ingested["quarantine"], "yellow_trips/year=2024/month=02")
    rows = sorted(accepted + rejected.column("source_row").to_pylist())
    assert rows == list(range(1, 3001))


def test_source_row_points_at_the_raw_row(ingested):
    table = _partition_table(ingested["quarantine"], "yellow_trips/year=2024/month=01")
    raw = pq.read_table(ingested["inputs"][0])
    for row in table.slice(0, 20).to_pylist():
        original = raw.slice(row["source_row"] - 1, 1).to_pylist()[0]
        record = json.loads(row["raw_record"])
        assert record["VendorID"] == original["VendorID"]
        assert record["PULocationID"] == original["PULocationID"]
        assert record["trip_distance"] == original["trip_distance"]


def test_no_staging_or_side_files_left(ingested):
    names = [p.name for p in ingested["lake"].rglob("*")] + [p.name for p in ingested["quarantine"].rglob("*")]
    assert not [n for n in names if n.startswith(".") or n == "_SUCCESS" or n.endswith(".crc")]


def test_rerun_is_a_no_op(spark, ingested):
    before = _snapshot(ingested["lake"]) | _snapshot(ingested["quarantine"])
    again = job.run_ingestion(spark, ingested["inputs"], str(ingested["lake"]), str(ingested["quarantine"]))
    assert [r["status"] for r in again] == ["skipped", "skipped"]
    assert all(r["skipped"] is True for r in again)
    assert again[0]["rows_accepted"] == ingested["results"][0]["rows_accepted"]
    assert _snapshot(ingested["lake"]) | _snapshot(ingested["quarantine"]) == before


def test_duplicate_inputs_are_refused_before_anything(spark, tmp_path):
    path = str(tmp_path / "a" / "yellow_tripdata_2024-01.parquet")
    other = str(tmp_path / "b" / "yellow_tripdata_2024-01.parquet")
    with pytest.raises(InputSetError, match="duplicate input"):
        job.run_ingestion(spark, [path, other], str(tmp_path / "l"), str(tmp_path / "q"))
    csv_twin = str(tmp_path / "yellow_tripdata_2024-01.csv")
    with pytest.raises(InputSetError, match="duplicate input"):
        job.run_ingestion(spark, [path, csv_twin], str(tmp_path / "l"), str(tmp_path / "q"))
    assert not (tmp_path / "l").exists()


def test_changed_file_replaces_its_partitions(spark, tmp_path):
    raw, lake_root, q_root = tmp_path / "raw", tmp_path / "lake", tmp_path / "q"
    synthetic.generate_month(raw, "yellow", 2024, 3, rows=400, seed=1, bad_share=0.05)
    path = [str(raw / "yellow_tripdata_2024-03.parquet")]
    first = job.run_ingestion(spark, path, str(lake_root), str(q_root))[0]
    second_expected = synthetic.generate_month(raw, "yellow", 2024, 3, rows=250, seed=2, bad_share=0.1)
    second = job.run_ingestion(spark, path, str(lake_root), str(q_root))[0]
    assert second["status"] == "ingested" and second["sha256"] != first["sha256"]
    assert second["quarantined_by_reason"] == second_expected["quarantined_by_reason"]
    partition = "yellow_trips/year=2024/month=03"
    assert _partition_table(lake_root, partition).num_rows == second_expected["rows_accepted"]
    assert _partition_table(q_root, partition).num_rows == second_expected["rows_quarantined"] == 25


def test_bad_file_is_refused_reported_and_others_continue(spark, tmp_path):
    raw, lake_root, q_root = tmp_path / "raw", tmp_path / "lake", tmp_path / "q"
    synthetic.generate_month(raw, "yellow", 2024, 4, rows=200, seed=3, bad_share=0.0)
    bad = raw / "yellow_tripdata_2024-05.parquet"
    good = raw / "yellow_tripdata_2024-04.parquet"
    bad.write_bytes(good.read_bytes()[:-100])  # truncated: no footer
    results = job.run_ingestion(spark, [str(bad), str(good)], str(lake_root), str(q_root))
    assert [r["status"] for r in results] == ["refused", "ingested"]
    assert results[0]["refused"] is True
    assert results[0]["error"] == "yellow_tripdata_2024-05.parquet: truncated or corrupt Parquet (no footer)"
    report = json.loads((q_root / "_rejected_files" / "yellow_tripdata_2024-05.parquet.error.json").read_text())
    assert report["problem"] == "truncated or corrupt Parquet (no footer)"
    assert not (lake_root / "yellow_trips" / "year=2024" / "month=05").exists()
    assert not (lake_root / "_manifests" / "yellow_tripdata_2024-05.parquet.json").exists()
    assert results[1]["rows_accepted"] == 200

    # Fixed file: ingested, and the stale rejection report goes away.
    synthetic.generate_month(raw, "yellow", 2024, 5, rows=100, seed=3, bad_share=0.0)
    fixed = job.run_ingestion(spark, [str(bad)], str(lake_root), str(q_root))[0]
    assert fixed["status"] == "ingested"
    assert not (q_root / "_rejected_files" / "yellow_tripdata_2024-05.parquet.error.json").exists()


def test_cli_prints_summary_and_exits_non_zero_on_refusal(spark, tmp_path, capsys):
    raw = tmp_path / "raw"
    synthetic.generate_month(raw, "yellow", 2024, 6, rows=150, seed=4, bad_share=0.0)
    empty = raw / "yellow_tripdata_2024-07.parquet"
    empty.write_bytes(b"")
    args = ["--lake-root", str(tmp_path / "lake"), "--quarantine-root", str(tmp_path / "q")]
    assert job.main(["--input", str(raw / "yellow_tripdata_2024-06.parquet"), *args]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ok"] is True and summary["ingested"] == 1
    assert job.main(["--input", str(empty), "--input", str(raw / "yellow_tripdata_2024-06.parquet"), *args]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert (summary["refused"], summary["skipped"]) == (1, 1)
    assert summary["files"][0]["error"] == "yellow_tripdata_2024-07.parquet: file is empty (0 bytes)"
    same = str(raw / "yellow_tripdata_2024-06.parquet")
    assert job.main(["--input", same, "--input", same, *args]) == 2


def test_crash_before_swap_keeps_previous_partition_and_rerun_converges(spark, tmp_path, monkeypatch):
    raw, lake_root, q_root = tmp_path / "raw", tmp_path / "lake", tmp_path / "q"
    path = [str(raw / "yellow_tripdata_2024-08.parquet")]
    synthetic.generate_month(raw, "yellow", 2024, 8, rows=300, seed=5, bad_share=0.1)
    job.run_ingestion(spark, path, str(lake_root), str(q_root))
    before = _snapshot(lake_root) | _snapshot(q_root)

    new_expected = synthetic.generate_month(raw, "yellow", 2024, 8, rows=200, seed=6, bad_share=0.1)

    def crash(staging, final):
        raise RuntimeError("simulated crash between write and swap")

    monkeypatch.setattr(lake, "_swap_local", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        job.run_ingestion(spark, path, str(lake_root), str(q_root))
    after_crash = {k: v for k, v in (_snapshot(lake_root) | _snapshot(q_root)).items() if ".staging-" not in k}
    assert after_crash == before  # staging may be left behind; what readers see is untouched

    monkeypatch.undo()
    result = job.run_ingestion(spark, path, str(lake_root), str(q_root))[0]
    assert result["status"] == "ingested"
    assert result["rows_accepted"] == new_expected["rows_accepted"]
    assert _partition_table(lake_root, "yellow_trips/year=2024/month=08").num_rows == new_expected["rows_accepted"]
    assert not [p for p in lake_root.rglob(".*")] + [p for p in q_root.rglob(".*")]


def test_crash_between_the_two_renames_is_recovered(tmp_path, monkeypatch):
    final = tmp_path / "lake" / "yellow_trips" / "year=2024" / "month=09"
    final.mkdir(parents=True)
    (final / "part-old.parquet").write_text("old")
    staging = final.parent / ".month=09.staging-x"
    staging.mkdir()
    (staging / "part-new.parquet").write_text("new")
    real_rename = os.rename
    calls = []

    def rename_once(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise OSError("simulated crash after moving the old partition aside")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename_once)
    with pytest.raises(OSError):
        lake._swap_local(str(staging), str(final))
    monkeypatch.undo()
    assert not final.exists()
    lake.recover(str(tmp_path / "lake"), "yellow_trips/year=2024/month=09")
    assert (final / "part-old.parquet").read_text() == "old"
    assert [p.name for p in final.parent.iterdir()] == ["month=09"]


def test_broken_reconciliation_publishes_nothing(spark, tmp_path, monkeypatch):
    raw, lake_root, q_root = tmp_path / "raw", tmp_path / "lake", tmp_path / "q"
    synthetic.generate_month(raw, "yellow", 2024, 10, rows=100, seed=8, bad_share=0.1)
    real_count = lake.count_rows
    monkeypatch.setattr(lake, "count_rows", lambda location: real_count(location) - 1)
    with pytest.raises(ReconciliationError, match="rows_read 100 != rows_accepted 89 \\+ rows_quarantined 9"):
        job.run_ingestion(spark, [str(raw / "yellow_tripdata_2024-10.parquet")], str(lake_root), str(q_root))
    assert not (lake_root / "_manifests").exists()
    assert not [p for p in lake_root.rglob("*.parquet")]
    assert not [p for p in q_root.rglob("*.parquet")]


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


def test_get_spark_reuses_the_session_and_applies_runtime_settings(spark):
    from ingestion.spark_session import RUNTIME_CONF, get_spark

    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    assert get_spark() is spark
    for key, value in RUNTIME_CONF.items():
        assert spark.conf.get(key) == value
    assert spark.sparkContext.master.startswith("local")
