"""Glue's optimistic lock (UpdateTable's VersionId) on moto, with pyiceberg 0.12's GlueCatalog.

moto ignores VersionId (tests/orchestration/moto_glue.py), so a writer that lost a commit race silently
overwrites the winner's commit there, where AWS refuses it with ConcurrentModificationException. These
tests show both sides on the three ways this project runs moto: in-process (`mock_aws`), a
ThreadedMotoServer, and a moto server in a process of its own.

The race is the one the lock exists for: writer A reads the Glue table at the start of its commit (its
VersionId), writer B commits in full, then A's UpdateTable arrives with the version it read. (Two writers
committing one after the other do not need the lock: pyiceberg re-reads the table at the start of each
commit and its own requirements refuse the stale one, see the last pyiceberg test.)
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
from moto import mock_aws
from moto.glue.responses import GlueResponse
from moto.server import ThreadedMotoServer

from tests.infra.rehearsal import free_port
from tests.orchestration import moto_glue
from tests.orchestration.moto_glue import glue_update_table_enforces_version_id

pytest.importorskip("pyiceberg")  # not yet in pyproject.toml / requirements.lock
from pyiceberg.catalog.glue import GlueCatalog  # noqa: E402
from pyiceberg.exceptions import CommitFailedException  # noqa: E402
from pyiceberg.partitioning import PartitionField, PartitionSpec  # noqa: E402
from pyiceberg.schema import Schema  # noqa: E402
from pyiceberg.table import Table  # noqa: E402
from pyiceberg.transforms import IdentityTransform  # noqa: E402
from pyiceberg.types import IntegerType, LongType, NestedField, StringType  # noqa: E402

REGION = "us-east-1"
BUCKET = "tlc-lake"
DATABASE = "lake"
IDENTIFIER = f"{DATABASE}.trips_monthly"
SCHEMA = Schema(
    NestedField(1, "service", StringType(), required=False),
    NestedField(2, "year", IntegerType(), required=False),
    NestedField(3, "month", IntegerType(), required=False),
    NestedField(4, "trips", LongType(), required=False),
)
SPEC = PartitionSpec(
    PartitionField(source_id=1, field_id=1000, transform=IdentityTransform(), name="service"),
    PartitionField(source_id=2, field_id=1001, transform=IdentityTransform(), name="year"),
    PartitionField(source_id=3, field_id=1002, transform=IdentityTransform(), name="month"),
)

Backend = Callable[[bool], contextlib.AbstractContextManager[dict[str, str]]]


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials, one region, no endpoint or profile from the environment: nothing reaches AWS."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


def _catalog_properties(s3_endpoint: str, glue_endpoint: str | None) -> dict[str, str]:
    properties = {
        "warehouse": f"s3://{BUCKET}/warehouse",
        "glue.region": REGION,
        "s3.endpoint": s3_endpoint,
        "s3.region": REGION,
        "s3.access-key-id": "testing",
        "s3.secret-access-key": "testing",
    }
    if glue_endpoint is not None:
        properties["glue.endpoint"] = glue_endpoint
    return properties


def _maybe_patched(patched: bool) -> contextlib.AbstractContextManager[None]:
    return glue_update_table_enforces_version_id() if patched else contextlib.nullcontext()


@contextlib.contextmanager
def _threaded_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextlib.contextmanager
def in_process(patched: bool) -> Iterator[dict[str, str]]:
    """Glue through `mock_aws` in this process. pyiceberg's FileIO (pyarrow's C++ S3 client) cannot be
    intercepted in-process, so S3 bytes go to a ThreadedMotoServer, which serves the same moto backends."""
    with mock_aws(), _maybe_patched(patched), _threaded_server() as endpoint:
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        yield _catalog_properties(s3_endpoint=endpoint, glue_endpoint=None)


@contextlib.contextmanager
def threaded_server(patched: bool) -> Iterator[dict[str, str]]:
    """Glue and S3 both over HTTP to a ThreadedMotoServer in this process."""
    with _maybe_patched(patched), _threaded_server() as endpoint:
        boto3.client("s3", region_name=REGION, endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        yield _catalog_properties(s3_endpoint=endpoint, glue_endpoint=endpoint)


@contextlib.contextmanager
def server_process(patched: bool) -> Iterator[dict[str, str]]:
    """moto's server in a process of its own: tests/orchestration/moto_glue.py run as a program, or moto's
    plain server for the unpatched case."""
    with moto_glue.server_process(free_port(), patched=patched) as endpoint:
        boto3.client("s3", region_name=REGION, endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        yield _catalog_properties(s3_endpoint=endpoint, glue_endpoint=endpoint)


BACKENDS: dict[str, Backend] = {
    "mock_aws": in_process,
    "threaded_server": threaded_server,
    "server_process": server_process,
}


@pytest.fixture(params=list(BACKENDS))
def moto_backend(request: pytest.FixtureRequest, fake_aws: None) -> Backend:
    return BACKENDS[request.param]


def _rows(service: str, trips: int) -> pa.Table:
    return pa.table(
        {
            "service": pa.array([service], pa.string()),
            "year": pa.array([2024], pa.int32()),
            "month": pa.array([1], pa.int32()),
            "trips": pa.array([trips], pa.int64()),
        }
    )


def _create_table(properties: dict[str, str], table_properties: dict[str, str]) -> None:
    catalog = GlueCatalog("setup", **properties)
    catalog.create_namespace(DATABASE)
    catalog.create_table(IDENTIFIER, schema=SCHEMA, partition_spec=SPEC, properties=table_properties)


def _race(properties: dict[str, str]) -> tuple[Table, Table, Callable[[], None]]:
    """Two writers loaded at the same metadata version. The returned call has writer A append while writer B
    commits in full between A reading the Glue table (and its VersionId) and A's UpdateTable."""
    catalog_a = GlueCatalog("writer_a", **properties)
    writer_a = catalog_a.load_table(IDENTIFIER)
    writer_b = GlueCatalog("writer_b", **properties).load_table(IDENTIFIER)
    assert writer_a.metadata_location == writer_b.metadata_location
    raced: list[bool] = []

    def writer_b_commits_first(**_: object) -> None:
        if not raced:
            raced.append(True)
            writer_b.append(_rows("green", 2))

    catalog_a.glue.meta.events.register_first("before-call.glue.UpdateTable", writer_b_commits_first)

    def writer_a_appends() -> None:
        writer_a.append(_rows("yellow", 1))
        assert raced, "writer A never reached UpdateTable"

    return writer_a, writer_b, writer_a_appends


def _committed(properties: dict[str, str]) -> tuple[list[str], int, str]:
    """What a fresh reader sees: the services in the table, its snapshot count, the Glue table version."""
    catalog = GlueCatalog("reader", **properties)
    table = catalog.load_table(IDENTIFIER)
    services = sorted(table.scan().to_arrow()["service"].to_pylist())
    version = catalog.glue.get_table(DatabaseName=DATABASE, Name=IDENTIFIER.split(".")[1])["Table"]["VersionId"]
    return services, len(table.snapshots()), version


# ---------- pyiceberg's GlueCatalog against moto


def test_with_the_patch_the_writer_that_lost_the_race_fails_and_the_first_commit_stays(moto_backend) -> None:
    with moto_backend(True) as properties:
        _create_table(properties, {"commit.retry.num-retries": "0"})  # pyiceberg's own retry would hide the failure
        _, _, writer_a_appends = _race(properties)
        with pytest.raises(CommitFailedException, match="Glue detected concurrent update"):
            writer_a_appends()
        assert _committed(properties) == (["green"], 1, "2")


def test_with_the_patch_pyiceberg_retries_the_lost_race_and_both_commits_land(moto_backend) -> None:
    """pyiceberg 0.12 retries a failed append (commit.retry.num-retries, default 4) on the refreshed table."""
    with moto_backend(True) as properties:
        _create_table(properties, {})
        _, _, writer_a_appends = _race(properties)
        writer_a_appends()
        assert _committed(properties) == (["green", "yellow"], 2, "3")


def test_without_the_patch_the_writer_that_lost_the_race_silently_overwrites_the_first_commit(moto_backend) -> None:
    """The gap the patch closes: on moto as it is, writer B's commit is lost and nothing fails."""
    with moto_backend(False) as properties:
        _create_table(properties, {"commit.retry.num-retries": "0"})
        _, writer_b, writer_a_appends = _race(properties)
        writer_a_appends()
        assert _committed(properties) == (["yellow"], 1, "3")
        lost_snapshot = writer_b.current_snapshot()
        assert lost_snapshot is not None
        assert (
            GlueCatalog("reader", **properties).load_table(IDENTIFIER).snapshot_by_id(lost_snapshot.snapshot_id) is None
        )


def test_commits_one_after_the_other_from_stale_tables_need_no_lock(fake_aws) -> None:
    """Without the patch: the second writer re-reads the table when it commits and pyiceberg's own
    requirement (main's snapshot unchanged) refuses its stale metadata, before any UpdateTable."""
    with in_process(False) as properties:
        _create_table(properties, {"commit.retry.num-retries": "0"})
        writer_a = GlueCatalog("writer_a", **properties).load_table(IDENTIFIER)
        writer_b = GlueCatalog("writer_b", **properties).load_table(IDENTIFIER)
        writer_a.append(_rows("yellow", 1))
        with pytest.raises(CommitFailedException, match="Requirement failed"):
            writer_b.append(_rows("green", 2))
        assert _committed(properties) == (["yellow"], 1, "2")


# ---------- the patch itself, on Glue's API


def _glue_table(glue) -> str:
    glue.create_database(DatabaseInput={"Name": DATABASE})
    glue.create_table(DatabaseName=DATABASE, TableInput={"Name": "t", "Parameters": {"n": "0"}})
    return glue.get_table(DatabaseName=DATABASE, Name="t")["Table"]["VersionId"]


def test_update_table_with_a_stale_version_id_is_a_concurrent_modification(fake_aws) -> None:
    with mock_aws(), glue_update_table_enforces_version_id():
        glue = boto3.client("glue", region_name=REGION)
        first = _glue_table(glue)
        glue.update_table(DatabaseName=DATABASE, TableInput={"Name": "t", "Parameters": {"n": "1"}}, VersionId=first)
        with pytest.raises(glue.exceptions.ConcurrentModificationException) as raised:
            glue.update_table(
                DatabaseName=DATABASE, TableInput={"Name": "t", "Parameters": {"n": "2"}}, VersionId=first
            )
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        table = glue.get_table(DatabaseName=DATABASE, Name="t")["Table"]
        assert (table["VersionId"], table["Parameters"]) == ("2", {"n": "1"})
        # No VersionId: unconditional, as on AWS.
        glue.update_table(DatabaseName=DATABASE, TableInput={"Name": "t", "Parameters": {"n": "3"}})
        with pytest.raises(glue.exceptions.EntityNotFoundException):
            glue.update_table(DatabaseName=DATABASE, TableInput={"Name": "missing"}, VersionId="1")
    with mock_aws():
        glue = boto3.client("glue", region_name=REGION)
        first = _glue_table(glue)
        glue.update_table(DatabaseName=DATABASE, TableInput={"Name": "t", "Parameters": {"n": "1"}}, VersionId=first)
        glue.update_table(DatabaseName=DATABASE, TableInput={"Name": "t", "Parameters": {"n": "2"}}, VersionId=first)
        assert glue.get_table(DatabaseName=DATABASE, Name="t")["Table"]["Parameters"] == {"n": "2"}, (
            "moto now refuses a stale VersionId by itself: drop tests/orchestration/moto_glue.py"
        )


def test_the_patch_is_undone_and_refuses_to_stack() -> None:
    original = GlueResponse.update_table
    with glue_update_table_enforces_version_id():
        assert GlueResponse.update_table is not original
        with pytest.raises(AssertionError, match="already patched"), glue_update_table_enforces_version_id():
            pass
    assert GlueResponse.update_table is original


def test_the_self_check_notices_when_moto_starts_reading_version_id(monkeypatch) -> None:
    def update_table(self):  # what a moto that fixed the gap could look like
        version_id = self.parameters.get("VersionId")
        return version_id

    monkeypatch.setattr(GlueResponse, "update_table", update_table)
    assert "VersionId" in inspect.getsource(GlueResponse.update_table)
    with pytest.raises(AssertionError, match="re-check tests/orchestration/moto_glue.py"):
        with glue_update_table_enforces_version_id():
            pass
