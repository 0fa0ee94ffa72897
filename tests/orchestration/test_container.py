"""The dbt container: a clean Dockerfile, and its entrypoint (the same script) run outside Docker
against the embedded PostgreSQL (target dev instead of prod), with S3 and Secrets Manager in moto."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from orchestration.container import entrypoint
from tests.dbt.conftest import connect
from tests.dbt.fixtures.raw_fixture import database_with_raw_fixture
from tests.orchestration.tools import HADOLINT, REPO_ROOT, require

CONTAINER = REPO_ROOT / "orchestration" / "container"
DOCKERFILE = CONTAINER / "Dockerfile"
FIXTURE_SQL = REPO_ROOT / "tests" / "dbt" / "fixtures" / "raw_fixture.sql"
TEST_DATABASE = "tlc_entrypoint_test"
BUCKET = "tlc-test-artifacts"


# ---------- the image


def test_hadolint_is_clean() -> None:
    hadolint = require(HADOLINT, "hadolint")
    result = subprocess.run([str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_is_pinned_slim_and_non_root() -> None:
    text = DOCKERFILE.read_text()
    bases = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    assert bases and all(re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", b) for b in bases), bases
    user = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "-c /tmp/requirements.lock" in text, "transitive versions pinned by the lock file"
    assert "DBT_EXCLUDE_RESOURCE_TYPES=unit_test" in text, "unit tests belong to CI, not to production builds"
    for line in (CONTAINER / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[a-z0-9-]+==[\w.]+", line), line
    assert not re.search(r"(PASSWORD|SECRET_KEY|ACCESS_KEY)\s*=", text), "no credentials in the image"


def test_dockerignore_lets_in_exactly_what_the_dockerfile_copies() -> None:
    ignore = (CONTAINER / "Dockerfile.dockerignore").read_text()
    sources = [
        src
        for line in re.findall(r"^COPY\s+(?!--from)(.+)$", DOCKERFILE.read_text(), re.MULTILINE)
        for src in line.split()[:-1]
    ]
    for source in sources:
        assert f"!{source}" in ignore, f"{source} is copied but excluded from the build context"
    assert "dbt_project/target/" in ignore


# ---------- the entrypoint's checks


def write_project(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "dbt_project").mkdir()
    (tmp_path / "dbt_project" / "dbt_project.yml").write_text("name: x\n")
    (tmp_path / "profiles.yml").write_text("x: {}\n")
    return {"DBT_PROJECT_DIR": str(tmp_path / "dbt_project"), "SCRATCH_DIR": str(tmp_path / "scratch")}


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["run-operation", "drop_everything"], {}, "not allowed"),
        (["build", "--target", "dev"], {}, "--target is set by the entrypoint"),
        (["build"], {"DBT_VARS": "{not json"}, "DBT_VARS is not JSON"),
        (["build"], {"DBT_VARS": "[1, 2]"}, "must be a JSON object"),
        (["build"], {"ARTIFACTS_URI": "/tmp/artifacts"}, "ARTIFACTS_URI must look like"),
    ],
)
def test_bad_input_is_refused_with_a_reason(tmp_path, argv, env, message) -> None:
    with pytest.raises(entrypoint.InputError, match=re.escape(message)):
        entrypoint.parse_settings(argv, {**write_project(tmp_path), **env})


# ---------- the vars the container accepts: dbt_project.yml's, each of its shape


def project_vars() -> dict[str, object]:
    import yaml

    return yaml.safe_load((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_text())["vars"]


def test_allowed_vars_are_the_vars_dbt_project_yml_documents() -> None:
    assert set(entrypoint.VAR_SHAPES) == set(project_vars())
    entrypoint.check_vars(project_vars())  # every documented default has its own shape


def test_every_var_the_project_reads_is_documented_in_dbt_project_yml() -> None:
    project = REPO_ROOT / "dbt_project"
    read = set()
    for path in project.rglob("*"):
        if path.suffix in (".sql", ".yml") and not {"target", "dbt_packages", "logs"} & set(path.parts):
            read |= set(re.findall(r"""\bvar\(\s*['"](\w+)['"]""", path.read_text()))
    assert {"rebuild_months", "raw_schema"} <= read
    assert read <= set(project_vars()), f"declare them under vars: in dbt_project.yml: {read - set(project_vars())}"


@pytest.mark.parametrize(
    "dbt_vars",
    [
        {"rebuild_months": ["2024-01"]},
        {"rebuild_months": ["2009-01", "2024-12"], "lookback_months": 2},
        {"rebuild_months": []},
        {"raw_schema": "raw_incremental", "spectrum_schema": "spectrum", "assume_incremental": False},
        {"date_spine_start": "2009-01-01", "date_spine_end": "2030-12-31"},
    ],
)
def test_documented_vars_are_accepted(dbt_vars) -> None:
    entrypoint.check_vars(dbt_vars)


def test_rebuild_months_reaches_dbt(tmp_path) -> None:
    env = {**write_project(tmp_path), "DBT_VARS": '{"rebuild_months": ["2024-01", "2024-02"]}'}
    settings = entrypoint.parse_settings(["build"], env)
    command = entrypoint.dbt_command(settings, "build")
    assert json.loads(command[command.index("--vars") + 1]) == {"rebuild_months": ["2024-01", "2024-02"]}


@pytest.mark.parametrize(
    ("dbt_vars", "message"),
    [
        ({"rebuild_months": ["2024-01') or 1 = 1 --"]}, "rebuild_months must be a list of at most 240 months"),
        ({"rebuild_months": "2024-01"}, "rebuild_months must be"),
        ({"rebuild_months": ["2024-13"]}, "rebuild_months must be"),
        ({"rebuild_months": ["2024-1"]}, "rebuild_months must be"),
        ({"rebuild_months": [202401]}, "rebuild_months must be"),
        ({"rebuild_months": ["2024-01"] * 241}, "rebuild_months must be"),
        ({"raw_schema": "raw; drop schema analytics cascade"}, "raw_schema must be a schema name"),
        ({"lookback_months": True}, "lookback_months must be a whole number"),
        ({"assume_incremental": "false"}, "assume_incremental must be true or false"),
        ({"target_schema": "x"}, "unknown var 'target_schema'"),
    ],
)
def test_unknown_or_misshapen_vars_are_refused(dbt_vars, message) -> None:
    with pytest.raises(entrypoint.InputError, match=re.escape(message)):
        entrypoint.check_vars(dbt_vars)


def test_defaults_build_on_prod(tmp_path) -> None:
    settings = entrypoint.parse_settings([], write_project(tmp_path))
    assert settings.command == ["build"]
    assert settings.target == "prod"
    assert settings.vars_json == "{}"
    command = entrypoint.dbt_command(settings, "build")
    assert command[command.index("--target") + 1] == "prod"
    assert command[command.index("--target-path") + 1] == str(tmp_path / "scratch" / "target")


def test_bad_input_exits_2(tmp_path) -> None:
    assert entrypoint.main(["seed", "--vars", "{}"], write_project(tmp_path)) == entrypoint.EXIT_BAD_INPUT


def test_dbt_is_stopped_at_its_time_limit(tmp_path, monkeypatch) -> None:
    """DBT_TIMEOUT_SECONDS ends a dbt that runs too long (exit 124, as timeout(1)) instead of leaving it to
    outlive the Transform state and its lock."""
    slow = tmp_path / "slow-dbt"
    slow.write_text("#!/bin/sh\nexec sleep 60\n")
    slow.chmod(0o755)
    monkeypatch.setattr(entrypoint, "dbt_executable", lambda: str(slow))
    project = write_project(tmp_path)
    started = time.monotonic()
    assert entrypoint.main(["build"], {**project, "DBT_TIMEOUT_SECONDS": "1"}) == entrypoint.EXIT_TIMED_OUT
    assert time.monotonic() - started < 30
    for bad in ("0", "-5", "1.5", "soon"):
        assert entrypoint.main(["build"], {**project, "DBT_TIMEOUT_SECONDS": bad}) == entrypoint.EXIT_BAD_INPUT


def test_redshift_password_comes_from_secrets_manager(aws_env) -> None:
    with mock_aws():
        client = boto3.client("secretsmanager")
        arn = client.create_secret(Name="tlc/redshift", SecretString=json.dumps({"username": "u", "password": "p"}))[
            "ARN"
        ]
        assert entrypoint.redshift_credentials({"REDSHIFT_SECRET_ARN": arn}) == {
            "REDSHIFT_AUTH_METHOD": "database",
            "REDSHIFT_USER": "u",
            "REDSHIFT_PASSWORD": "p",
        }
        # IAM authentication (no secret) and an ECS-injected password are left alone.
        assert entrypoint.redshift_credentials({}) == {}
        assert entrypoint.redshift_credentials({"REDSHIFT_SECRET_ARN": arn, "REDSHIFT_PASSWORD": "x"}) == {}
        bad = client.create_secret(Name="tlc/bad", SecretString=json.dumps({"user": "u"}))["ARN"]
        with pytest.raises(entrypoint.InputError, match="no 'username' key"):
            entrypoint.redshift_credentials({"REDSHIFT_SECRET_ARN": bad})


# The values Terraform gives the task definition's environment references, for one made-up environment.
TASK_VALUES = {
    "var.redshift_host": "tlc-dev.123456789012.us-east-1.redshift-serverless.amazonaws.com",
    "tostring(var.redshift_port)": "5439",
    "var.redshift_database": "tlc",
    "var.redshift_workgroup_name": "tlc-dev",
    "var.dbt_schema": "analytics",
    "data.aws_region.current.name": "us-east-1",
}


def task_definition_environment(scratch: Path) -> dict[str, str]:
    """The dbt container's environment as infra/modules/dbt_runner/main.tf writes it, references resolved."""
    text = (REPO_ROOT / "infra" / "modules" / "dbt_runner" / "main.tf").read_text()
    environment = {}
    for name, value in re.findall(r'\{ name = "(\w+)", value = ([^}]+?) \}', text):
        if value.startswith('"'):
            environment[name] = json.loads(value)
        else:
            assert value in TASK_VALUES, f"{name} = {value}: add a made-up value for it to TASK_VALUES"
            environment[name] = TASK_VALUES[value]
    environment["SCRATCH_DIR"] = str(scratch)
    return environment


def test_the_prod_profile_signs_in_with_iam_as_the_task_roles_user(aws_env, monkeypatch, tmp_path) -> None:
    """With the task definition's environment, the entrypoint reads no secret, and profiles.yml.example's prod
    target makes dbt-redshift ask redshift-serverless GetCredentials for the workgroup and database, then sign
    in with the temporary user and password it returns. Offline: the AWS client and the connection are
    stubbed and what reaches them is asserted (the user itself is whatever Redshift maps the role to)."""
    import datetime

    import redshift_connector
    from dbt.cli.main import dbtRunner
    from redshift_connector.iam_helper import IamHelper

    calls: dict[str, object] = {}
    issued = "issued-by-getcredentials"  # the temporary password GetCredentials hands out
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=15)

    class Serverless:
        def get_credentials(self, **request):
            calls["GetCredentials"] = request
            return {"dbUser": "IAMR:tlc-dev-dbt-task", "dbPassword": issued, "expiration": expires}

    def client(provider, info):
        calls["service"] = "redshift-serverless" if info._is_serverless else "redshift"
        return Serverless()

    def connection(**kwargs):
        calls["connection"] = {key: kwargs.get(key) for key in ("host", "port", "database", "user", "password")}
        raise redshift_connector.InterfaceError("offline: no Redshift here")

    monkeypatch.setattr(IamHelper, "get_boto3_redshift_client", staticmethod(client))
    monkeypatch.setattr(redshift_connector, "Connection", connection)

    environment = task_definition_environment(tmp_path)
    assert environment["DBT_TARGET"] == "prod"
    assert entrypoint.redshift_credentials(environment) == {}, "no secret is read"
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REDSHIFT_PASSWORD", raising=False)
    monkeypatch.delenv("REDSHIFT_USER", raising=False)
    (tmp_path / "profiles").mkdir()
    shutil.copy(REPO_ROOT / "profiles.yml.example", tmp_path / "profiles" / "profiles.yml")

    result = dbtRunner().invoke(
        ["debug", "--connection", "--profiles-dir", str(tmp_path / "profiles")]
        + ["--project-dir", str(REPO_ROOT / "dbt_project"), "--log-path", str(tmp_path / "logs"), "--no-use-colors"]
    )

    assert not result.success, "the stubbed connection refuses, so the check fails"
    assert calls["service"] == "redshift-serverless"
    assert calls["GetCredentials"] == {"dbName": "tlc", "workgroupName": "tlc-dev"}
    assert calls["connection"] == {
        "host": TASK_VALUES["var.redshift_host"],
        "port": 5439,
        "database": "tlc",
        "user": "IAMR:tlc-dev-dbt-task",
        "password": issued,
    }


# ---------- the entrypoint running dbt on the embedded PostgreSQL


def _load_fixture(conn) -> None:
    """tests/dbt/fixtures/raw_fixture.py: contract tables, then the fixture's rows."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("raw_fixture", FIXTURE_SQL.with_suffix(".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.load(conn)


@pytest.fixture(scope="module")
def warehouse() -> dict[str, str]:
    """A database of its own on the embedded (or the user's) PostgreSQL, with the raw fixture loaded."""
    if not (REPO_ROOT / "dbt_project" / "dbt_project.yml").is_file() or not FIXTURE_SQL.is_file():
        pytest.skip("dbt_project/ or its raw fixture is not there yet")
    return database_with_raw_fixture(TEST_DATABASE)


def container_env(warehouse: dict[str, str], tmp_path: Path, run_id: str) -> dict[str, str]:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    shutil.copy(REPO_ROOT / "profiles.yml.example", profiles / "profiles.yml")
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        **warehouse,
        "DBT_TARGET": "dev",
        "DBT_EXCLUDE_RESOURCE_TYPES": "unit_test",  # as the image sets it
        "DBT_SCHEMA": "ep",
        "DBT_PROJECT_DIR": str(REPO_ROOT / "dbt_project"),
        "DBT_PROFILES_DIR": str(profiles),
        "SCRATCH_DIR": str(tmp_path / "scratch"),
        "DBT_VARS": json.dumps({"lookback_months": 1}),
        "RUN_ID": run_id,
        "ARTIFACTS_URI": f"s3://{BUCKET}/dbt/runs/{run_id}/",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def uploaded(s3, run_id: str) -> list[str]:
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"dbt/runs/{run_id}/")
    return sorted(o["Key"].rsplit("/", 1)[1] for o in listing.get("Contents", []))


@pytest.mark.integration
def test_entrypoint_builds_and_uploads_artifacts_and_docs(warehouse, tmp_path, aws_env) -> None:
    env = container_env(warehouse, tmp_path, "ok-run")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        code = entrypoint.main(["build"], env)
        assert code == 0
        assert uploaded(s3, "ok-run") == ["catalog.json", "index.html", "manifest.json", "run_results.json"]
        run_results = json.loads(s3.get_object(Bucket=BUCKET, Key="dbt/runs/ok-run/run_results.json")["Body"].read())
    assert run_results["args"]["vars"] == {"lookback_months": 1}
    assert run_results["results"] and all(r["status"] in ("success", "pass") for r in run_results["results"])


@pytest.mark.integration
def test_entrypoint_exits_non_zero_when_a_test_fails(warehouse, tmp_path, aws_env) -> None:
    conn = connect(warehouse)
    try:
        # A reload brings a duplicated trip: fact_trips rebuilds the month and its unique test, the one
        # test of trip_id's uniqueness (the lake views leave it to the table), must catch it.
        with conn, conn.cursor() as cur:
            cur.execute("insert into raw.yellow_trips select * from raw.yellow_trips where month = 1 limit 1")
            cur.execute("update raw.partition_loads set loaded_at = now() where service = 'yellow' and month = 1")
        env = container_env(warehouse, tmp_path, "failing-run")
        with mock_aws():
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket=BUCKET)
            code = entrypoint.main(["build", "--select", "+fact_trips"], env)
            assert code != 0
            # run_results.json tells what failed; the docs site is only published after a success.
            assert uploaded(s3, "failing-run") == ["manifest.json", "run_results.json"]
            results = json.loads(
                s3.get_object(Bucket=BUCKET, Key="dbt/runs/failing-run/run_results.json")["Body"].read()
            )
        failed = {r["unique_id"] for r in results["results"] if r["status"] in ("fail", "error")}
        assert [uid.rsplit(".", 1)[0] for uid in failed] == ["test.tlc_warehouse.unique_fact_trips_trip_id"], failed
    finally:
        _load_fixture(conn)
        conn.close()


@pytest.mark.integration
def test_entrypoint_names_the_months_the_warehouse_does_not_reconcile(warehouse, tmp_path, aws_env) -> None:
    conn = connect(warehouse)
    try:
        # The lake says a reload of yellow's first month committed one trip more than the warehouse holds.
        with conn, conn.cursor() as cur:
            cur.execute(
                "update raw.partition_loads set row_count = row_count + 1, loaded_at = now()"
                " where service = 'yellow' and month = 1 returning year, row_count"
            )
            ((year, lake_trips),) = cur.fetchall()
        env = container_env(warehouse, tmp_path, "unreconciled-run")
        with mock_aws():
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket=BUCKET)
            code = entrypoint.main(["build", "--select", "+rpt_lake_reconciliation"], env)
            assert code == entrypoint.EXIT_NOT_RECONCILED
            assert uploaded(s3, "unreconciled-run") == ["manifest.json", "reconciliation.json", "run_results.json"]
            report = json.loads(
                s3.get_object(Bucket=BUCKET, Key="dbt/runs/unreconciled-run/reconciliation.json")["Body"].read()
            )
        ((month,),) = [(m["pickup_month"],) for m in report["months"]]
        assert month.startswith(f"{year}-01")
        assert f"yellow {year}-01" in report["message"]
        assert f"trips lake {lake_trips:,}, warehouse {lake_trips - 1:,}" in report["message"]
    finally:
        _load_fixture(conn)
        conn.close()


@pytest.mark.integration
def test_a_month_loaded_while_the_fact_was_built_is_behind_then_judged(warehouse, tmp_path, aws_env) -> None:
    """On AWS another execution may commit a month (its load-log row last) after this build's fact was
    built: the reconciliation then holds a fact built from an older load, which is `behind`, not a
    mismatch; the next build rebuilds the fact and judges the month."""
    conn = connect(warehouse)

    def statuses() -> dict[str, str]:
        with conn, conn.cursor() as cur:
            cur.execute(
                "select service || ' ' || to_char(pickup_month, 'YYYY-MM'), reconciliation_status"
                " from ep.rpt_lake_reconciliation"
            )
            return dict(cur.fetchall())

    def env(run_id: str) -> dict[str, str]:
        (tmp_path / run_id).mkdir()
        return container_env(warehouse, tmp_path / run_id, run_id)

    try:
        with mock_aws():
            boto3.client("s3").create_bucket(Bucket=BUCKET)
            build = ["build", "--select", "+rpt_lake_reconciliation"]
            assert entrypoint.main([*build, "--full-refresh"], env("a")) == 0
            assert set(statuses().values()) == {"reconciled"}
            # The other execution's load of yellow's first month: one trip more, its log row newest.
            with conn, conn.cursor() as cur:
                cur.execute(
                    "update raw.partition_loads set row_count = row_count + 1, loaded_at = now()"
                    " where service = 'yellow' and month = 1 returning year"
                )
                ((year,),) = cur.fetchall()
            month = f"yellow {year}-01"
            only_the_report = ["build", "--select", "rpt_lake_reconciliation"]
            assert entrypoint.main(only_the_report, env("b")) == 0
            assert statuses()[month] == "behind"
            assert set(statuses().values()) == {"reconciled", "behind"}
            # The next build rebuilds the fact from the raw rows (one fewer than the log says): a mismatch.
            assert entrypoint.main(build, env("c")) == entrypoint.EXIT_NOT_RECONCILED
            assert statuses()[month] == "mismatch"
    finally:
        _load_fixture(conn)
        conn.close()
