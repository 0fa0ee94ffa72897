"""The AWS side under moto: S3 inputs and partition swap, Glue catalog, Spectrum DDL, Glue entry point."""

from __future__ import annotations

import io
import json
import sys
import types

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws
from tlc_samples import write_parquet, yellow_row

from ingestion import catalog, glue_entry, lake, manifest, reader, storage
from ingestion.errors import BadFileError

BUCKET = "tlc-lake"
MANIFESTS = [
    {"service": "yellow", "year": 2024, "month": 1, "source_file": "yellow_tripdata_2024-01.parquet",
     "lake_partition": "yellow_trips/year=2024/month=01", "quarantine_partition": "yellow_trips/year=2024/month=01"},
    {"service": "green", "year": 2024, "month": 2, "source_file": "green_tripdata_2024-02.parquet",
     "lake_partition": "green_trips/year=2024/month=02", "quarantine_partition": "green_trips/year=2024/month=02"},
    {"source_file": "yellow_tripdata_2024-03.parquet", "status": "refused", "refused": True},
]  # fmt: skip


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
        yield s3


def _put(s3, key: str, body: bytes) -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


def _parquet_bytes(rows: int, tmp_path) -> bytes:
    path = write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", [yellow_row(i) for i in range(rows)])
    return path.read_bytes()


def test_inspect_and_fingerprint_an_s3_parquet_from_its_footer(aws, tmp_path):
    body = _parquet_bytes(40, tmp_path)
    uri = _put(aws, "landing/yellow_tripdata_2024-01.parquet", body)
    inspection = reader.inspect_file(uri)
    assert inspection.rows_in_footer == 40 and inspection.size == len(body)
    assert inspection.mapping.source_for("pickup_at") == "tpep_pickup_datetime"
    assert reader.fingerprint(inspection) == manifest.sha256_file(str(tmp_path / "yellow_tripdata_2024-01.parquet"))


def test_s3_bad_files_are_refused(aws, tmp_path):
    missing = f"s3://{BUCKET}/landing/yellow_tripdata_2024-02.parquet"
    with pytest.raises(BadFileError, match="yellow_tripdata_2024-02.parquet: file does not exist"):
        reader.inspect_file(missing)
    truncated = _put(aws, "landing/yellow_tripdata_2024-03.parquet", _parquet_bytes(10, tmp_path)[:-50])
    with pytest.raises(BadFileError, match="truncated or corrupt Parquet"):
        reader.inspect_file(truncated)


def test_manifest_and_rejection_round_trip_on_s3(aws):
    root = f"s3://{BUCKET}"
    assert manifest.read_manifest(root, "yellow_tripdata_2024-01.parquet") is None
    manifest.write_manifest(root, {"source_file": "yellow_tripdata_2024-01.parquet", "sha256": "abc"})
    assert manifest.read_manifest(root, "yellow_tripdata_2024-01.parquet")["sha256"] == "abc"
    path = manifest.write_rejection(root, "x.csv", "s3://in/x.csv", "bad")
    assert json.loads(storage.read_text(path))["problem"] == "bad"


def test_s3_swap_replaces_the_partition_and_a_rerun_converges(aws, tmp_path):
    root = f"s3://{BUCKET}"
    partition = "yellow_trips/year=2024/month=01"
    table = pa.table({"x": list(range(7))})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    _put(aws, f"{partition}/part-00000-old.snappy.parquet", sink.getvalue())
    _put(aws, f"{partition}/part-00001-old.snappy.parquet", sink.getvalue())

    staged = lake.StagedPartition(root=root, partition=partition, staging=lake._staging_path(root, partition))
    assert staged.staging.startswith(f"{root}/_staging/{partition}/")
    staging_key = storage.split_s3(staged.staging)[1]
    _put(aws, f"{staging_key}/part-00000-new.snappy.parquet", sink.getvalue())
    _put(aws, f"{staging_key}/_SUCCESS", b"")
    assert lake.count_rows(staged.staging) == 7

    lake.publish(staged)
    keys = sorted(o["Key"] for o in aws.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == [f"{partition}/part-00000-new.snappy.parquet"]
    assert lake.count_rows(staged.final) == 7

    # A crash after copying but before deleting leaves old + new; the next publish converges.
    _put(aws, f"{partition}/part-00009-stale.snappy.parquet", sink.getvalue())
    again = lake.StagedPartition(root=root, partition=partition, staging=lake._staging_path(root, partition))
    _put(aws, f"{storage.split_s3(again.staging)[1]}/part-00000-newer.snappy.parquet", sink.getvalue())
    lake.publish(again)
    keys = sorted(o["Key"] for o in aws.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == [f"{partition}/part-00000-newer.snappy.parquet"]


def test_spectrum_ddl_and_partition_statements():
    ddl = catalog.spectrum_ddl("tlc_dev_lake", "arn:aws:iam::1:role/spectrum", "s3://lake/", "s3://quarantine")
    assert ddl[0].startswith("create external schema if not exists spectrum\nfrom data catalog database 'tlc_dev_lake'")
    assert "create external table spectrum.yellow_trips (" in ddl[1]
    assert "partitioned by (year int, month int)" in ddl[1] and "location 's3://lake/yellow_trips/'" in ddl[1]
    assert "fare_amount decimal(12,2)" in ddl[1] and "pickup_at timestamp" in ddl[1]
    assert "partitioned by (service varchar(16), year int, month int)" in ddl[3]
    assert "    service " not in ddl[3] and "raw_record varchar(65535)" in ddl[3]

    statements = catalog.partition_statements(MANIFESTS, "s3://lake", "s3://o'brien-q/", batch_size=1)
    assert statements[0] == (
        "alter table spectrum.yellow_trips add if not exists\n"
        "partition (year=2024, month=1) location 's3://lake/yellow_trips/year=2024/month=01/'"
    )
    assert statements[1] == (
        "alter table spectrum.quarantined_trips add if not exists\n"
        "partition (service='yellow', year=2024, month=1) "
        "location 's3://o''brien-q/yellow_trips/year=2024/month=01/'"
    )
    assert len(statements) == 4  # yellow, quarantine x2 (batch of 1), green; the refused file adds none
    batched = catalog.partition_statements(MANIFESTS, "s3://lake", "s3://q")
    assert len(batched) == 3 and batched[1].count("partition (") == 2
    with pytest.raises(ValueError, match="not a plain identifier"):
        catalog.partition_statements(MANIFESTS, "s3://lake", "s3://q", schema="x; drop table y")


def test_glue_catalog_registration_is_idempotent(aws):
    glue = boto3.client("glue")
    catalog.ensure_catalog(glue, "tlc_dev_lake", "s3://lake", "s3://quarantine")
    catalog.ensure_catalog(glue, "tlc_dev_lake", "s3://lake", "s3://quarantine")  # second call: no error
    first = catalog.register_partitions(glue, "tlc_dev_lake", MANIFESTS, "s3://lake", "s3://quarantine")
    assert first == {"created": 4, "existing": 0}
    second = catalog.register_partitions(glue, "tlc_dev_lake", MANIFESTS, "s3://lake", "s3://quarantine")
    assert second == {"created": 0, "existing": 4}
    parts = glue.get_partitions(DatabaseName="tlc_dev_lake", TableName="quarantined_trips")["Partitions"]
    assert sorted(p["Values"] for p in parts) == [["green", "2024", "2"], ["yellow", "2024", "1"]]
    yellow = glue.get_partitions(DatabaseName="tlc_dev_lake", TableName="yellow_trips")["Partitions"]
    assert yellow[0]["StorageDescriptor"]["Location"] == "s3://lake/yellow_trips/year=2024/month=01/"
    table = glue.get_table(DatabaseName="tlc_dev_lake", Name="quarantined_trips")["Table"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["service", "year", "month"]
    assert "service" not in [c["Name"] for c in table["StorageDescriptor"]["Columns"]]


def test_glue_registration_reports_other_errors(aws):
    glue = boto3.client("glue")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        catalog.register_partitions(glue, "no_such_db", MANIFESTS[:1], "s3://lake", "s3://q")

    class FlakyGlue:
        def batch_create_partition(self, **kwargs):
            values = kwargs["PartitionInputList"][0]["Values"]
            return {"Errors": [{"PartitionValues": values, "ErrorDetail": {"ErrorCode": "InternalServiceException",
                                                                          "ErrorMessage": "boom"}}]}  # fmt: skip

    with pytest.raises(RuntimeError, match=r"yellow_trips \['2024', '1'\]: InternalServiceException boom"):
        catalog.register_partitions(FlakyGlue(), "db", MANIFESTS[:1], "s3://lake", "s3://q")


def test_glue_entry_parses_arguments_without_awsglue():
    argv = ["script.py", "--JOB_NAME", "x", "--inputs", "s3://b/a.parquet, s3://b/c.csv", "--lake_root", "s3://l/",
            "--quarantine_root", "s3://q/"]  # fmt: skip
    args = glue_entry.resolve_arguments(argv)
    assert args == {"inputs": "s3://b/a.parquet, s3://b/c.csv", "lake_root": "s3://l/", "quarantine_root": "s3://q/"}
    assert glue_entry.split_inputs(args["inputs"]) == ["s3://b/a.parquet", "s3://b/c.csv"]
    assert glue_entry.split_inputs('["s3://b/a.parquet"]') == ["s3://b/a.parquet"]


def test_glue_entry_uses_get_resolved_options_and_fails_on_refusal(monkeypatch, spark, tmp_path):
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
    with pytest.raises(RuntimeError, match="refused 1 file.*file does not exist"):
        glue_entry.main(["script.py"])
    assert seen["names"] == ["inputs", "lake_root", "quarantine_root"]
    assert (tmp_path / "q" / "_rejected_files" / "yellow_tripdata_2024-01.parquet.error.json").exists()
