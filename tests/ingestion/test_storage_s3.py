"""ingestion/storage.py on S3: errors told apart by their code (never by their message), object versions
pinned end to end (issue 13, item 9), and Parquet written from pyarrow straight to S3 or local disk."""

from __future__ import annotations

import io
import os

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.server import ThreadedMotoServer

from ingestion import glue_entry, storage
from tests.infra.rehearsal import free_port

BUCKET = "tlc-landing"
KEY = "landing/yellow_tripdata_2024-01.parquet"
URI = f"s3://{BUCKET}/{KEY}"


@pytest.fixture
def fake_credentials(monkeypatch):
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def versioned(fake_credentials):
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        s3.create_bucket(Bucket="tlc-archive")
        yield s3


# ---------- errors by code


def _stubbed_head(monkeypatch, code: str, status: int, message: str) -> None:
    client = boto3.client("s3", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error("head_object", service_error_code=code, service_message=message, http_status_code=status)
    stubber.activate()
    monkeypatch.setattr(storage, "s3_client", lambda: client)


def test_a_refusal_whose_message_says_not_found_is_still_a_refusal(monkeypatch, fake_credentials) -> None:
    """The code decides, not the words: a 403 AccessDenied is a PermissionError whatever its message says
    (the previous storage.py read '404'/'Not Found' in the text and reported the file as missing)."""
    _stubbed_head(monkeypatch, "AccessDenied", 403, "Access Denied: 404 Not Found NoSuchBucket")
    with pytest.raises(PermissionError):
        storage.stat_size(URI)


def test_a_missing_object_whose_message_says_forbidden_is_missing(monkeypatch, fake_credentials) -> None:
    _stubbed_head(monkeypatch, "404", 404, "Forbidden AccessDenied 403")
    assert storage.stat_size(URI) is None


def test_other_s3_errors_are_raised_as_they_are(monkeypatch, fake_credentials) -> None:
    from botocore.exceptions import ClientError

    _stubbed_head(monkeypatch, "SlowDown", 503, "Please reduce your request rate. 404 403")
    with pytest.raises(ClientError) as raised:
        storage.stat_size(URI)
    assert storage.s3_error_kind(raised.value) is None


def test_a_missing_bucket_is_missing_for_stat_and_an_error_for_a_manifest_read(versioned) -> None:
    assert storage.stat_size("s3://no-such-bucket/x.parquet") is None
    with pytest.raises(FileNotFoundError):
        storage.read_text("s3://no-such-bucket/_manifests/x.json")
    assert storage.read_text(f"s3://{BUCKET}/_manifests/none.json") is None


# ---------- versions pinned end to end


def test_read_hash_copy_and_delete_one_version_while_the_key_is_uploaded_again(versioned) -> None:
    first = versioned.put_object(Bucket=BUCKET, Key=KEY, Body=b"first upload")["VersionId"]
    second = versioned.put_object(Bucket=BUCKET, Key=KEY, Body=b"second upload, during the run")["VersionId"]
    assert storage.current_version(URI) == second

    assert storage.stat_size(URI, version_id=first) == len(b"first upload")
    assert b"".join(storage.iter_chunks(URI, chunk_size=4, version_id=first)) == b"first upload"
    with storage.open_binary(URI, version_id=first) as handle:
        handle.seek(6)
        assert handle.read() == b"upload"

    archived = "s3://tlc-archive/yellow/abc/yellow_tripdata_2024-01.parquet"
    storage.copy_file(URI, archived, source_version_id=first)
    assert (
        versioned.get_object(Bucket="tlc-archive", Key="yellow/abc/yellow_tripdata_2024-01.parquet")["Body"].read()
        == b"first upload"
    )

    storage.delete_file(URI, version_id=first)
    assert storage.stat_size(URI, version_id=first) is None, "exactly the ingested version is gone"
    assert storage.current_version(URI) == second, "the re-upload stays in landing for its own execution"
    assert b"".join(storage.iter_chunks(URI)) == b"second upload, during the run"
    with pytest.raises(FileNotFoundError):
        list(storage.iter_chunks(URI, version_id=first))


def test_the_state_machine_input_convention_round_trips(versioned) -> None:
    """What PinInputVersion + Ingest send (a JSON list of {uri, version_id}) is what glue_entry reads."""
    version = versioned.put_object(Bucket=BUCKET, Key=KEY, Body=b"x")["VersionId"]
    text = f'[{{"uri": "{URI}", "version_id": "{version}"}}]'
    assert glue_entry.parse_inputs(text) == [glue_entry.PinnedInput(URI, version)]
    assert glue_entry.parse_inputs(f'[{{"uri": "{URI}", "version_id": null}}]') == [glue_entry.PinnedInput(URI)]
    assert glue_entry.parse_inputs(f"{URI}, s3://b/y.csv") == [
        glue_entry.PinnedInput(URI),
        glue_entry.PinnedInput("s3://b/y.csv"),
    ]
    for bad, why in [
        ('[{"version_id": "v"}]', "must be a URI"),
        (f'[{{"uri": "{URI}", "version_id": ""}}]', "version_id must be"),
        (f'[{{"uri": "{URI}", "versionId": "v"}}]', "unknown keys"),
        ("[not json", "not valid JSON"),
    ]:
        with pytest.raises(ValueError, match=why):
            glue_entry.parse_inputs(bad)


# ---------- Parquet from pyarrow, local and S3


def _table() -> pa.Table:
    return pa.table({"trip_key": ["a" * 32, "b" * 32], "fare_amount": [12.5, 7.0]})


def test_local_output_stream_appears_whole_or_not_at_all(tmp_path) -> None:
    target = tmp_path / "lake" / "part-00000.parquet"
    with storage.open_output_stream(str(target)) as sink:
        with pq.ParquetWriter(sink, _table().schema) as writer:
            writer.write_table(_table())
        assert not target.exists(), "nothing at the target until the stream is closed"
    assert pq.read_table(target).equals(_table())

    failed = tmp_path / "lake" / "part-00001.parquet"
    with pytest.raises(RuntimeError), storage.open_output_stream(str(failed)) as sink:
        sink.write(b"PAR1")
        raise RuntimeError("the task died")
    assert sorted(os.listdir(tmp_path / "lake")) == ["part-00000.parquet"]


@pytest.fixture
def moto_endpoint(fake_credentials, monkeypatch):
    """moto as a server: pyarrow's C++ S3 client cannot be intercepted in-process like boto3."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port())
    server.start()
    host, port = server.get_host_and_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://{host}:{port}")
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_s3_output_stream_writes_parquet_under_the_bucket_default_encryption(moto_endpoint) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    kms = boto3.client("kms", endpoint_url=moto_endpoint)
    key = kms.create_key()["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket="tlc-lake")
    s3.put_bucket_encryption(
        Bucket="tlc-lake",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]
        },
    )
    uri = "s3://tlc-lake/yellow_trips/year=2024/month=01/part-00000.parquet"
    with storage.open_output_stream(uri) as sink, pq.ParquetWriter(sink, _table().schema) as writer:
        writer.write_table(_table())

    head = s3.head_object(Bucket="tlc-lake", Key="yellow_trips/year=2024/month=01/part-00000.parquet")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key, "no SSE header was needed"
    body = s3.get_object(Bucket="tlc-lake", Key="yellow_trips/year=2024/month=01/part-00000.parquet")["Body"].read()
    assert pq.read_table(io.BytesIO(body)).equals(_table())
    assert storage.stat_size(uri) == len(body)
