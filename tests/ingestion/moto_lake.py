"""AWS under moto for the lake's tests: Glue in this process (`mock_aws`, with UpdateTable's VersionId
enforced as AWS does), and S3 served to pyarrow's C++ client, which `mock_aws` cannot intercept (the
tasks' data files, pyiceberg's metadata), by a ThreadedMotoServer sharing the same moto backends."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import boto3
from moto import mock_aws
from moto.server import ThreadedMotoServer

from tests.infra.rehearsal import free_port
from tests.orchestration.moto_glue import glue_update_table_enforces_version_id

DATABASE = "tlc_lake"
CATALOG = f"glue:{DATABASE}"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextlib.contextmanager
def moto_lake(monkeypatch, buckets: list[str]) -> Iterator:
    """The buckets and the lake's Glue database; yields a boto3 S3 client."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with mock_aws(), glue_update_table_enforces_version_id():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://{host}:{port}")
        try:
            s3 = boto3.client("s3")
            for bucket in buckets:
                s3.create_bucket(Bucket=bucket)
            boto3.client("glue").create_database(DatabaseInput={"Name": DATABASE})
            yield s3
        finally:
            server.stop()
