"""The AWS side under moto: raw files read from S3 (Parquet, CSV, gzip CSV), lake and quarantine
partitions written and swapped on S3, manifests and reports there, and the Glue entry point.

The Glue Data Catalog tables and partitions are no longer registered by Python (the old
`ingestion/catalog.py`): the tables are Terraform generated from the contract (tests/contract) and the
state machine's RegisterPartitions adds each month (tests/orchestration)."""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
import types

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws
from tlc_samples import QUARANTINE_SCHEMA, csv_bytes, lake_schema, write_parquet, yellow_row

from ingestion import file_ingest, glue_entry, lake, manifest, raw_files, storage
from ingestion.errors import BadFileError

BUCKET = "tlc-lake"
LANDING = "tlc-landing"
PARTITION = "yellow_trips/year=2024/month=01"


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.create_bucket(Bucket=LANDING)
        yield s3


def _put(s3, key: str, body: bytes, bucket: str = LANDING) -> str:
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def _keys(s3, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def _parquet_bytes(rows: list[dict], tmp_path) -> bytes:
    return write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", rows).read_bytes()


def _table(s3, prefix: str, schema: pa.Schema) -> pa.Table:
    parts = [k for k in _keys(s3, prefix + "/") if k.rsplit("/", 1)[-1].startswith("part-")]
    tables = [pq.read_table(pa.BufferReader(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read())) for k in parts]
    table = pa.concat_tables(tables).sort_by("source_row")
    assert table.schema == schema
    return table


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


def test_s3_swap_replaces_the_partition_and_a_rerun_converges(aws, tmp_path, monkeypatch):
    lake_root, quarantine_root = f"s3://{BUCKET}/lake", f"s3://{BUCKET}/quarantine"
    first = _put(
        aws, "v1/yellow_tripdata_2024-01.parquet", _parquet_bytes([yellow_row(i) for i in range(30)], tmp_path)
    )
    result = file_ingest.ingest_file(raw_files.inspect_file(first), lake_root, quarantine_root)
    assert result.status == "ingested" and result.manifest["rows_accepted"] == 30
    old_parts = _keys(aws, f"lake/{PARTITION}/")
    assert len(old_parts) == 1 and lake.count_rows(f"{lake_root}/{PARTITION}") == 30

    # A new version of the month; the swap crashes after copying the new objects in, before deleting the old.
    rows = [yellow_row(i) for i in range(12)] + [yellow_row(0)]  # one duplicate for the quarantine
    second = _put(aws, "v2/yellow_tripdata_2024-01.parquet", _parquet_bytes(rows, tmp_path))
    real_delete = storage.delete_file

    def crash_on_old_part(uri: str) -> None:
        if uri.endswith(old_parts[0]):
            raise OSError("simulated crash in the middle of the swap")
        real_delete(uri)

    with monkeypatch.context() as patch:
        patch.setattr(storage, "delete_file", crash_on_old_part)
        with pytest.raises(OSError, match="simulated crash"):
            file_ingest.ingest_file(raw_files.inspect_file(second), lake_root, quarantine_root)
    assert len(_keys(aws, f"lake/{PARTITION}/")) == 2  # old and new side by side until the rerun
    assert manifest.read_manifest(lake_root, "yellow_tripdata_2024-01.parquet")["rows_read"] == 30

    # The manifest still names the old sha256, so the rerun ingests again and converges.
    rerun = file_ingest.ingest_file(raw_files.inspect_file(second), lake_root, quarantine_root)
    assert rerun.status == "ingested" and rerun.manifest["rows_accepted"] == 12
    assert _keys(aws, f"lake/{PARTITION}/") != old_parts and len(_keys(aws, f"lake/{PARTITION}/")) == 1
    assert _table(aws, f"lake/{PARTITION}", lake_schema("yellow"))["source_row"].to_pylist() == list(range(1, 13))
    quarantined = _table(aws, f"quarantine/{PARTITION}", QUARANTINE_SCHEMA)
    assert quarantined["reason_code"].to_pylist() == ["duplicate_row"]
    # only the crashed swap's staging is left (S3 has no rename; a lifecycle rule on _staging/ expires it)
    assert len(_keys(aws, "lake/_staging/")) == 1 and not _keys(aws, "quarantine/_staging/")


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
        result = file_ingest.ingest_file(raw_files.inspect_file(uri), f"{root}/lake", f"{root}/q")
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
    summary = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert summary["ok"] is True and summary["ingested"] == 1
