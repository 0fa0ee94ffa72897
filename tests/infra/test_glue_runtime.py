"""The Glue job run as Glue 5.0 runs it (tests/infra/glue_runtime.py), started by the state machine.

An upload's event starts the real state machine in moto; its Ingest state's StartJobRun reaches a fake that
runs the deployed script and package (read back from the deploy rehearsal's S3) in the Glue 5.0 runtime,
with the job's default arguments as Terraform rendered them and the run's arguments as the state machine
sent them, against a moto server (a separate process: S3 with object versions holding a real TLC file, and
the Glue Data Catalog the job commits the lake's Iceberg tables to, its UpdateTable checking VersionId as
AWS does). What the job committed, read back through the catalog by field ID, must equal what the same
file gives in the project's own environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from ingestion.contract import iceberg_tables
from tests.infra import glue_runtime
from tests.infra.rehearsal import Rehearsal, free_port
from tests.orchestration import moto_glue
from tests.orchestration.moto_patches import patched_moto_stepfunctions
from tests.orchestration.sfn_harness import (
    BUCKETS,
    GLUE_DATABASE,
    LANDING_PREFIX,
    GlueRun,
    Pipeline,
    s3_object_created_event,
)
from tests.orchestration.tools import REPO_ROOT, missing

GLUE_JOB = "module.platform.module.ingest.aws_glue_job.ingest"
SAMPLES = REPO_ROOT / "tests" / "fixtures" / "tlc_samples"
# A 2015 CSV (points assigned to zones: shapely from --additional-python-modules, the zone polygons from the
# package) and a 2024 Parquet file (today's layout, read by Glue's pyarrow).
FILES = ("yellow_tripdata_2015-07.csv", "green_tripdata_2024-01.parquet")
# Manifest keys that name where or when, not what.
CIRCUMSTANTIAL = {"source_path", "source_version", "ingested_at", "delivered_at", "lake_snapshot_id"}
CIRCUMSTANTIAL |= {"quarantine_snapshot_id"}
# The rehearsal's moto server speaks HTTPS with a self-signed certificate (the buckets deny plain HTTP).
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def glue_job(rehearsal: Rehearsal) -> dict:
    job = rehearsal.resource(GLUE_JOB)
    assert job["glue_version"] == "5.0" and job["command"][0]["python_version"] == "3"
    return job


@pytest.fixture(scope="module")
def deployed(rehearsal: Rehearsal, glue_job: dict, tmp_path_factory) -> dict[str, Path]:
    """The script and the --extra-py-files package as `terraform apply` uploaded them."""
    s3 = boto3.client("s3", endpoint_url=rehearsal.endpoint, verify=False, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    folder = tmp_path_factory.mktemp("deployed")
    files = {}
    for name, uri in (
        ("script", glue_job["command"][0]["script_location"]),
        ("package", glue_job["default_arguments"]["--extra-py-files"]),
    ):
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        files[name] = folder / key.rsplit("/", 1)[1]
        s3.download_file(bucket, key, str(files[name]))
    return files


@pytest.fixture(scope="module")
def glue_python(glue_job: dict) -> Path:
    if glue_runtime.java_major() != glue_runtime.GLUE_JAVA:
        missing(f"Glue 5.0 runs Spark on Java {glue_runtime.GLUE_JAVA}; this machine's is {glue_runtime.java_major()}")
    return glue_runtime.runtime(glue_job["default_arguments"])


def test_the_jobs_own_modules_are_wheels_that_load_on_glue_5(glue_job, glue_python) -> None:
    """Glue installs --additional-python-modules with pip on Amazon Linux 2023 (glibc 2.34) and compiles
    nothing: each module must be a wheel for that platform, or pure Python."""
    modules = [m for m in glue_job["default_arguments"]["--additional-python-modules"].split(",") if m]
    assert modules
    for module in modules:
        tags = glue_runtime.wheel_tags(glue_python, module.split("==")[0])
        assert tags and any(glue_runtime.loads_on_glue(tag) for tag in tags), f"{module}: {tags}"
    assert glue_runtime.loads_on_glue("cp311-cp311-manylinux_2_28_x86_64")
    assert not glue_runtime.loads_on_glue("cp311-cp311-manylinux_2_35_x86_64")
    assert not glue_runtime.loads_on_glue("cp311-cp311-macosx_11_0_arm64")


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory) -> Iterator[str]:
    """moto's S3 and Glue in a process of its own (the state machine's in-process moto must not share its
    state), with Glue's UpdateTable refusing a stale VersionId (tests/orchestration/moto_glue.py)."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("w") as out, moto_glue.server_process(free_port(), out) as endpoint:
        s3 = boto3.client("s3", endpoint_url=endpoint, **_client_credentials())
        for bucket in BUCKETS.values():
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        glue = boto3.client("glue", endpoint_url=endpoint, **_client_credentials())
        glue.create_database(DatabaseInput={"Name": GLUE_DATABASE})  # Terraform's; the tables are the job's
        yield endpoint


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials for the in-process moto of the state machine: nothing can reach a real account."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**CREDENTIALS, "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


def _client_credentials() -> dict[str, str]:
    return {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def month_tables(roots, manifest: dict) -> dict[str, object]:
    """The manifest's month of its trip table and of the quarantine, read by field ID at the current snapshot."""
    from pyiceberg.expressions import And, EqualTo

    from ingestion import lake_tables
    from ingestion.contract import QUARANTINE_TABLE

    tables = lake_tables.ensure_tables(lake_tables.open_catalog(roots), roots)
    where = And(
        EqualTo("service", manifest["service"]),
        And(EqualTo("year", manifest["year"]), EqualTo("month", manifest["month"])),
    )
    return {
        kind: tables[name].scan(row_filter=where).to_arrow()
        for kind, name in (("lake", manifest["lake_table"]), ("quarantine", QUARANTINE_TABLE))
    }


def reference_run(path: Path, work: Path) -> tuple[dict, dict[str, object]]:
    """The same file ingested in this project's own environment (local lake): its manifest and tables."""
    from ingestion.job import run_ingestion
    from ingestion.lake_tables import LakeRoots

    (result,) = run_ingestion([str(path)], str(work / "lake"), str(work / "quarantine"))
    assert result.ok, result.error
    return result.manifest, month_tables(LakeRoots(str(work / "lake"), str(work / "quarantine")), result.manifest)


def sorted_rows(table) -> list[dict]:
    key = "trip_key" if "trip_key" in table.column_names else table.column_names[0]
    return sorted(table.to_pylist(), key=lambda row: (str(row.get(key)), str(row.get("source_row"))))


@pytest.mark.integration
@pytest.mark.parametrize("file_name", FILES)
def test_the_job_ingests_a_real_file_in_glue_5_runtime_as_the_state_machine_starts_it(
    file_name, glue_job, deployed, glue_python, s3_server, tmp_path, aws_env
) -> None:
    source = SAMPLES / file_name
    key = f"{LANDING_PREFIX}{file_name}"
    server = boto3.client("s3", endpoint_url=s3_server, **_client_credentials())
    uploaded = server.put_object(Bucket=BUCKETS["landing"], Key=key, Body=source.read_bytes())["VersionId"]
    # A re-upload lands while the run is queued: another version, left in landing for its own execution.
    later = server.put_object(Bucket=BUCKETS["landing"], Key=key, Body=b"a later upload")["VersionId"]
    event = s3_object_created_event(key)
    event["detail"]["object"]["version-id"] = uploaded

    outcomes: list[subprocess.CompletedProcess] = []

    def glue(run: GlueRun) -> None:
        argv = glue_runtime.glue_argv(deployed["script"], glue_job["default_arguments"], run.arguments)
        env = {**CREDENTIALS, "AWS_ENDPOINT_URL": s3_server, "AWS_CONFIG_FILE": os.devnull,
               "AWS_SHARED_CREDENTIALS_FILE": os.devnull}  # fmt: skip
        outcome = glue_runtime.run_job(
            glue_python, deployed["script"], deployed["package"], argv, env, work=tmp_path / "glue-worker"
        )
        outcomes.append(outcome)
        if outcome.returncode != 0:
            run.state, run.error_message = "FAILED", outcome.stderr[-1000:]

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), patched_moto_stepfunctions():
        pipeline = Pipeline(glue_job=glue)
        execution = pipeline.run(event, name=f"glue-{file_name.split('.')[0]}", timeout=900)

    (outcome,) = outcomes
    log = (outcome.stdout + outcome.stderr)[-5000:]
    assert outcome.returncode == 0, log
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause, log)
    (run,) = pipeline.glue_runs
    assert json.loads(run.arguments["--inputs"]) == [
        {"uri": f"s3://{BUCKETS['landing']}/{key}", "version_id": uploaded}
    ]

    # The pinned version was read, archived and deleted for good; the later upload stays in landing.
    versions = server.list_object_versions(Bucket=BUCKETS["landing"], Prefix=key)
    assert [v["VersionId"] for v in versions.get("Versions", [])] == [later]
    assert not versions.get("DeleteMarkers")
    sha256 = hashlib.sha256(source.read_bytes()).hexdigest()
    manifest = json.loads(server.get_object(Bucket=BUCKETS["lake"], Key=f"_manifests/{file_name}.json")["Body"].read())
    assert manifest["sha256"] == sha256 and manifest["source_version"] == uploaded
    archived = server.list_objects_v2(Bucket=BUCKETS["archive"], Prefix=f"{manifest['service']}/{sha256}/")
    assert [item["Key"] for item in archived["Contents"]] == [f"{manifest['service']}/{sha256}/{file_name}"]

    # Glue 5.0's modules give what the project's own environment gives, row for row.
    expected_manifest, expected = reference_run(source, tmp_path)
    assert {k: v for k, v in manifest.items() if k not in CIRCUMSTANTIAL} == {
        k: v for k, v in expected_manifest.items() if k not in CIRCUMSTANTIAL
    }
    assert manifest["rows_accepted"] > 0
    from ingestion.lake_tables import LakeRoots

    roots = LakeRoots(f"s3://{BUCKETS['lake']}/", f"s3://{BUCKETS['quarantine']}/", f"glue:{GLUE_DATABASE}")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", s3_server)
        committed = month_tables(roots, manifest)
        glue = boto3.client("glue", endpoint_url=s3_server, **_client_credentials())
        table = glue.get_table(DatabaseName=GLUE_DATABASE, Name=manifest["lake_table"])["Table"]
    assert table["Parameters"]["table_type"] == "ICEBERG"
    # Every lake table's Glue column statistics settings, made by the job (ingestion/lake_statistics.py) with the
    # botocore it installs (Glue 5.0's own has no such API), against the server's stand-in of that API
    # (tests/orchestration/moto_glue_statistics.py).
    arguments = glue_job["default_arguments"]
    for name in (spec.name for spec in iceberg_tables()):
        settings = glue.get_column_statistics_task_settings(DatabaseName=GLUE_DATABASE, TableName=name)
        found = settings["ColumnStatisticsTaskSettings"]
        assert (found["Role"], found["Schedule"]["ScheduleExpression"], found["SecurityConfiguration"]) == (
            arguments["--column_stats_role"],
            arguments["--column_stats_schedule"],
            arguments["--column_stats_security_configuration"],
        ), name
    assert "not set, left for the next run" not in outcome.stdout + outcome.stderr
    assert committed["lake"].schema == expected["lake"].schema
    assert sorted_rows(committed["lake"]) == sorted_rows(expected["lake"])
    assert committed["lake"].num_rows == manifest["rows_accepted"]
    assert sorted_rows(committed["quarantine"]) == sorted_rows(expected["quarantine"])
    assert committed["quarantine"].num_rows == manifest["rows_quarantined"]
