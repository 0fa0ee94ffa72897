"""The AWS side under moto: raw files read from S3 (Parquet, CSV, gzip CSV), the lake's Iceberg tables
committed to the Glue Data Catalog with their data on S3 (a month replaced, a crash between the
commits converging on rerun), manifests and reports there, and the Glue entry point.

Glue runs in this process (`mock_aws`); S3 bytes written by pyarrow's C++ client (the tasks' data
files, pyiceberg's metadata) go to a ThreadedMotoServer serving the same moto backends, which
`mock_aws` cannot intercept."""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
import types

import boto3
import pyarrow as pa
import pytest
from tlc_samples import QUARANTINE_SCHEMA, csv_bytes, lake_schema, write_parquet, yellow_row

from ingestion import glue_entry, job, lake_commit, lake_tables, manifest, raw_files, storage
from ingestion.errors import BadFileError
from tests.ingestion.moto_lake import CATALOG, DATABASE, moto_lake

BUCKET = "tlc-lake"
LANDING = "tlc-landing"
JANUARY = ("yellow", 2024, 1)


@pytest.fixture
def aws(monkeypatch):
    with moto_lake(monkeypatch, [BUCKET, LANDING]) as s3:
        yield s3


def _put(s3, key: str, body: bytes, bucket: str = LANDING) -> str:
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def _keys(s3, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def _parquet_bytes(rows: list[dict], tmp_path) -> bytes:
    return write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", rows).read_bytes()


def _ingest(uri: str, roots: lake_tables.LakeRoots):
    return job.ingest_inspected(raw_files.inspect_file(uri), roots.lake_root, roots.quarantine_root, catalog=CATALOG)


def _month(roots: lake_tables.LakeRoots, table: str, schema: pa.Schema, month=JANUARY) -> pa.Table:
    """A month of a lake table as the Glue catalog's current snapshot holds it, read by field ID."""
    from pyiceberg.expressions import And, EqualTo

    service, year, month_ = month
    iceberg = lake_tables.open_catalog(roots).load_table((DATABASE, table))
    where = And(EqualTo("service", service), And(EqualTo("year", year), EqualTo("month", month_)))
    return iceberg.scan(row_filter=where).to_arrow().select(schema.names).cast(schema).sort_by("source_row")


def test_inspect_and_fingerprint_an_s3_parquet_from_its_footer(aws, tmp_path):
    body = _parquet_bytes([yellow_row(i) for i in range(40)], tmp_path)
    uri = _put(aws, "landing/yellow_tripdata_2024-01.parquet", body)
    inspection = raw_files.inspect_file(uri)
    assert inspection.rows_in_footer == 40 and inspection.size == len(body)
    assert inspection.mapping.source_for("pickup_at") == "tpep_pickup_datetime"
    assert raw_files.fingerprint(uri) == hashlib.sha256(body).hexdigest()


def test_s3_bad_files_are_refused(aws, tmp_path):
    missing = f"s3://{LANDING}/landing/yellow_tripdata_2024-02.parquet"
    with pytest.raises(BadFileError, match="yellow_tripdata_2024-02.parquet: file does not exist"):
        raw_files.inspect_file(missing)
    body = _parquet_bytes([yellow_row(i) for i in range(10)], tmp_path)
    truncated = _put(aws, "landing/yellow_tripdata_2024-03.parquet", body[:-50])
    with pytest.raises(BadFileError, match="truncated or corrupt Parquet"):
        raw_files.inspect_file(truncated)


def test_manifest_and_rejection_round_trip_on_s3(aws):
    root = f"s3://{BUCKET}"
    assert manifest.read_manifest(root, "yellow_tripdata_2024-01.parquet") is None
    manifest.write_manifest(root, {"source_file": "yellow_tripdata_2024-01.parquet", "sha256": "abc"})
    text = aws.get_object(Bucket=BUCKET, Key="_manifests/yellow_tripdata_2024-01.parquet.json")["Body"].read()
    assert text == b'{"source_file":"yellow_tripdata_2024-01.parquet","sha256":"abc"}\n'  # one JSON line
    assert manifest.read_manifest(root, "yellow_tripdata_2024-01.parquet")["sha256"] == "abc"
    path = manifest.write_rejection(root, "x.csv", "s3://in/x.csv", "bad")
    assert json.loads(storage.read_text(path))["problem"] == "bad"


def test_s3_month_is_replaced_and_a_crash_between_the_commits_converges(aws, tmp_path, monkeypatch):
    roots = lake_tables.LakeRoots(f"s3://{BUCKET}/lake", f"s3://{BUCKET}/quarantine", CATALOG)
    first = _put(
        aws, "v1/yellow_tripdata_2024-01.parquet", _parquet_bytes([yellow_row(i) for i in range(30)], tmp_path)
    )
    result = job.ingest_inspected(
        raw_files.inspect_file(first), roots.lake_root, roots.quarantine_root, catalog=CATALOG
    )
    assert result.status == "ingested" and result.manifest["rows_accepted"] == 30
    assert _month(roots, "yellow_trips", lake_schema("yellow")).num_rows == 30
    glue = boto3.client("glue").get_table(DatabaseName=DATABASE, Name="yellow_trips")["Table"]
    assert glue["Parameters"]["table_type"] == "ICEBERG"
    assert glue["Parameters"]["metadata_location"].startswith(f"s3://{BUCKET}/lake/yellow_trips/metadata/")

    # A new version of the month; the job stops after the quarantine's commit, before the trips'.
    rows = [yellow_row(i) for i in range(12)] + [yellow_row(0)]  # one duplicate for the quarantine
    second = _put(aws, "v2/yellow_tripdata_2024-01.parquet", _parquet_bytes(rows, tmp_path))
    real = lake_commit.replace_months

    def crash_on_trips(table, *args, **kwargs):
        if table.name()[-1] == "yellow_trips":
            raise OSError("simulated crash between the two commits")
        return real(table, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(lake_commit, "replace_months", crash_on_trips)
        crashed = _ingest(second, roots)
    assert crashed.status == "failed" and "simulated crash" in crashed.problem
    assert _month(roots, "yellow_trips", lake_schema("yellow")).num_rows == 30  # the old month, whole
    assert manifest.read_manifest(roots.lake_root, "yellow_tripdata_2024-01.parquet") is None

    # No receipt, so the rerun ingests again and converges.
    rerun = job.ingest_inspected(
        raw_files.inspect_file(second), roots.lake_root, roots.quarantine_root, catalog=CATALOG
    )
    assert rerun.status == "ingested" and rerun.manifest["rows_accepted"] == 12
    assert _month(roots, "yellow_trips", lake_schema("yellow"))["source_row"].to_pylist() == list(range(1, 13))
    assert _month(roots, "quarantined_trips", QUARANTINE_SCHEMA)["reason_code"].to_pylist() == ["duplicate_row"]
    pinned = lake_tables.PinnedLake.pin(lake_tables.open_catalog(roots), roots)
    state, entry = pinned.described_months()[JANUARY]
    assert (entry["row_count"], entry["quarantined_count"], entry["sha256"]) == (
        12,
        1,
        rerun.manifest["sha256"],
    )
    assert entry["lake_snapshot_id"] == rerun.manifest["lake_snapshot_id"] == state.lake_snapshot_id


def test_s3_csv_and_gzip_csv_are_read_from_s3(aws, tmp_path):
    header = [
        "VendorID",
        "tpep_pickup_datetime",
        "tpep_dropoff_datetime",
        "PULocationID",
        "DOLocationID",
        "fare_amount",
    ]
    rows = [["2", f"2019-01-{d:02d} 10:00:00", f"2019-01-{d:02d} 10:20:00", "43", "151", "12.5"] for d in range(1, 29)]
    rows[3] = rows[3][:2]  # a short row: the stream is read again, line by line
    body = csv_bytes(header, rows)
    plain = _put(aws, "landing/yellow_tripdata_2019-01.csv", body)
    packed = _put(aws, "landing/gz/yellow_tripdata_2019-01.csv.gz", gzip.compress(body, mtime=0))
    for uri, name in ((plain, "yellow_tripdata_2019-01.csv"), (packed, "yellow_tripdata_2019-01.csv.gz")):
        root = f"s3://{BUCKET}/{name}"
        result = job.ingest_inspected(raw_files.inspect_file(uri), f"{root}/lake", f"{root}/q", catalog=CATALOG)
        assert result.status == "ingested", result.problem
        m = result.manifest
        assert (m["source_file"], m["source_path"]) == (name, uri)
        assert (m["rows_read"], m["rows_accepted"], m["quarantined_by_reason"]) == (28, 27, {"unparseable": 1})


def test_glue_entry_parses_arguments_without_awsglue():
    argv = ["script.py", "--JOB_NAME", "x", "--inputs", "s3://b/a.parquet, s3://b/c.csv", "--lake_root", "s3://l/",
            "--quarantine_root", "s3://q/"]  # fmt: skip
    args = glue_entry.resolve_arguments(argv)
    assert args == {"inputs": "s3://b/a.parquet, s3://b/c.csv", "lake_root": "s3://l/", "quarantine_root": "s3://q/"}
    assert glue_entry.parse_inputs(args["inputs"]) == [
        glue_entry.PinnedInput("s3://b/a.parquet"),
        glue_entry.PinnedInput("s3://b/c.csv"),
    ]
    assert glue_entry.parse_inputs('["s3://b/a.parquet"]') == [glue_entry.PinnedInput("s3://b/a.parquet")]


def test_glue_entry_uses_get_resolved_options_and_fails_on_refusal(monkeypatch, tmp_path):
    seen = {}

    def get_resolved_options(argv, names):
        seen["names"] = names
        return {"inputs": str(tmp_path / "yellow_tripdata_2024-01.parquet"), "lake_root": str(tmp_path / "l"),
                "quarantine_root": str(tmp_path / "q"), "JOB_NAME": "j"}  # fmt: skip

    awsglue = types.ModuleType("awsglue")
    utils = types.ModuleType("awsglue.utils")
    utils.getResolvedOptions = get_resolved_options
    monkeypatch.setitem(sys.modules, "awsglue", awsglue)
    monkeypatch.setitem(sys.modules, "awsglue.utils", utils)
    with pytest.raises(RuntimeError, match="refused or failed 1 file.*file does not exist"):
        glue_entry.main(["script.py"])
    assert seen["names"] == ["inputs", "lake_root", "quarantine_root"]
    assert (tmp_path / "q" / "_rejected_files" / "yellow_tripdata_2024-01.parquet.error.json").exists()


def test_glue_entry_ingests_on_the_active_session_hashing_in_the_task(spark, tmp_path, capsys):
    path = write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", [yellow_row(i) for i in range(25)])
    roots = ["--lake_root", str(tmp_path / "l"), "--quarantine_root", str(tmp_path / "q")]
    argv = ["script.py", "--inputs", str(path), *roots]
    [result] = glue_entry.main(argv)
    assert result.status == "ingested" and result.manifest["rows_accepted"] == 25
    assert result.manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()  # hashed in the task
    out = capsys.readouterr().out
    summary = json.loads(out[out.index("\n{") + 1 :])
    assert summary["ok"] is True and summary["ingested"] == 1
