"""Security: no secret in the repository, no SQL built from input by string pasting, and dbt running with
only the privileges it needs.

Covered elsewhere and referenced from RELIABILITY.md (not repeated here):
tests/pipeline/test_load_postgres.py::test_hostile_file_names_are_data_not_sql (the loader stores a
hostile file name as data), tests/orchestration/test_container.py::test_image_is_pinned_slim_and_non_root
(the dbt image runs as a non-root user) and tests/infra/test_terraform.py (checkov, no wildcard IAM
actions). (Spectrum partitions are no longer registered with SQL built in Python: the state machine
passes their values to glue:CreatePartition.)
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import errors

from orchestration.local import dbt_runner, load_postgres
from orchestration.local.run_pipeline import main as run_pipeline
from tests.reliability import harness

REPO_ROOT = harness.REPO_ROOT
ROLE_SQL = REPO_ROOT / "orchestration" / "local" / "sql" / "dbt_role.sql"
HOSTILE = "yellow_tripdata_2024-01'; drop table x;--.parquet"

# detect-secrets findings that are not secrets, by the sha1 it reports (hashed_secret), with the reason.
# Each is checked to occur only in tests/. (The pragmas keep these hashes themselves out of the scan.)
NOT_SECRETS = {
    # the literal 'testing': moto's documented fake AWS credentials, set by fixtures so nothing reaches AWS
    "dc724af18fbdd4e59189f5fe768a5f8311527050": "moto's fake credential",  # pragma: allowlist secret
    # the etag and the sequencer of a made-up object in the sample S3 event of tests/orchestration/sfn_harness.py
    "dfd92f929ff7c2b6df0ce1a1433841be2a69a3da": "sample S3 event etag",  # pragma: allowlist secret
    "9cb94958a5025ef9f599d32e2984f40d410892e1": "sample S3 event sequencer",  # pragma: allowlist secret
}


# Lines that name a git commit (the bench results record which commit they measured): public identifiers.
COMMIT_LINE = r'^\s*"commit": "[0-9a-f]{40}",?$'

# ---------- secrets


def _sample_digests() -> set[str]:
    """detect-secrets' hashed_secret (sha1 of the value) of the sha256 of each committed TLC sample, as
    is and gzipped (`gzip -n`): the Hive-lake fixture's manifests name their files by these public
    digests (tests/fixtures/hive_lake/README.md)."""
    digests = set()
    for sample in sorted((REPO_ROOT / "tests" / "fixtures" / "tlc_samples").glob("*_tripdata_*")):
        data = sample.read_bytes()
        gzipped = subprocess.run(["gzip", "-n", "-c"], input=data, capture_output=True, check=True).stdout
        for content in (data, gzipped):
            digests.add(hashlib.sha1(hashlib.sha256(content).hexdigest().encode()).hexdigest())
    return digests


def _detect_secrets(files: list[str], cwd: Path) -> dict:
    scanner = Path(sys.executable).with_name("detect-secrets")
    assert scanner.exists(), "detect-secrets is not installed: install requirements.lock into .venv"
    result = subprocess.run(
        [str(scanner), "scan", "--exclude-lines", COMMIT_LINE, *files],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["results"]


def test_no_secret_in_the_repository():
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True, timeout=60
    ).stdout.split(b"\0")
    files = [name.decode() for name in tracked if name and (REPO_ROOT / name.decode()).is_file()]
    assert len(files) > 100
    findings = [f for found in _detect_secrets(files, REPO_ROOT).values() for f in found]
    allowed = set(NOT_SECRETS) | _sample_digests()
    real = [f for f in findings if f["hashed_secret"] not in allowed]
    assert real == [], "secrets in tracked files:\n" + "\n".join(
        f"{f['filename']}:{f['line_number']}: {f['type']}" for f in real
    )
    assert all(f["filename"].startswith("tests/") for f in findings), findings


def test_the_scanner_catches_a_planted_secret(tmp_path):
    """The check above means something only if the scanner finds what it is meant to find."""
    key_id = "AKIA" + "Z7XQ3MPLW4HN2TVB"  # assembled here so this file itself holds no key
    planted_value = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzq8Hn4Tv2Lk"  # pragma: allowlist secret
    planted = tmp_path / "settings.py"
    planted.write_text(f'AWS_ACCESS_KEY_ID = "{key_id}"\nAWS_SECRET_ACCESS_KEY = "{planted_value}"\n')
    findings = _detect_secrets([planted.name], tmp_path)
    assert {f["type"] for f in findings[planted.name]} >= {"AWS Access Key"}


def test_only_a_commit_line_is_let_through(tmp_path):
    """The commit exclusion is narrow: the same hex under any other key is still reported."""
    hex_value = hashlib.sha1(b"a commit").hexdigest()  # computed: this file holds no long hex
    results = tmp_path / "results.json"
    results.write_text(f'{{\n  "commit": "{hex_value}",\n  "token": "{hex_value}"\n}}\n')
    findings = _detect_secrets([results.name], tmp_path)[results.name]
    assert [(f["type"], f["line_number"]) for f in findings] == [("Hex High Entropy String", 3)]


# ---------- SQL built from file names, partition values and event input


@pytest.fixture(scope="module")
def hostile_db():
    database = harness.fresh_database(harness.name("hostile"))
    with harness.connect(database) as conn, conn.cursor() as cur:
        cur.execute("create table public.x (survives boolean)")
    yield database
    harness.drop_database(database)


def _x_survives(database: str) -> bool:
    with harness.connect(database) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('public.x') is not null")
        return cur.fetchone()[0]


def test_a_hostile_file_name_is_refused_before_any_sql(reference, hostile_db, tmp_path, capsys):
    source = tmp_path / "landing"
    source.mkdir()
    shutil.copy2(reference.work_dir / "sample" / "yellow_tripdata_2024-01.parquet", source / HOSTILE)

    code = run_pipeline(["--source", str(source), "--work-dir", str(tmp_path / "work"), "--database", hostile_db])

    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines()[0].startswith(f"error: {source / HOSTILE}: not a TLC trip file")
    assert _x_survives(hostile_db)
    with harness.connect(hostile_db) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('raw.partition_loads')")
        assert cur.fetchone()[0] is None, "nothing was loaded"


def test_hostile_manifest_values_reach_postgres_as_data_or_quoted_identifiers(reference, hostile_db):
    """The loader's SQL takes file names, versions and checksums as parameters and partition names as
    quoted identifiers: a manifest crafted to inject SQL loads as data, or fails, and never executes."""
    lake, quarantine = reference.work_dir / "lake", reference.work_dir / "quarantine"
    [january] = [m for m in load_postgres.lake_months(lake, quarantine) if m.month == 1]
    conn = psycopg2.connect(harness.dsn(hostile_db))
    try:
        load_postgres.ensure_raw_schema(conn)
        # a file name the lake's rows do not hold: refused in one line, as data (the loader checks every
        # row against the month's constants; a hostile name the rows do hold is stored as the month's
        # default, tests/pipeline/test_load_postgres.py::test_hostile_file_names_are_data_not_sql)
        with pytest.raises(RuntimeError, match="has a row whose source_file is not") as refused:
            load_postgres.load_partition(conn, dataclasses.replace(january, source_file=HOSTILE))
        assert "\n" not in str(refused.value) and str(refused.value).startswith(HOSTILE)
        conn.rollback()
        crafted = dataclasses.replace(january, sha256="'); drop table x;--", version="v'); drop table x;--")
        result = load_postgres.load_partition(conn, crafted)
        assert result.rows_loaded == january.rows_accepted
        with conn.cursor() as cur:
            cur.execute("select source_file, sha256, lake_version from raw.partition_loads")
            assert cur.fetchall() == [(january.source_file, crafted.sha256, crafted.version)]
        conn.commit()
        service = dataclasses.replace(january, service='yellow"; drop table x; --')
        with pytest.raises(KeyError, match="unknown service"):  # not a dataset of the contract: no SQL runs
            load_postgres.load_partition(conn, service)
        conn.rollback()
    finally:
        conn.close()
    assert _x_survives(hostile_db)


# Calls that send SQL text to a database, and the places allowed to pass something other than a literal
# or a psycopg2.sql composition (with why).
SQL_CALLS = {"execute", "executemany", "copy_expert", "mogrify"}
ALLOWED: dict[tuple[str, str], str] = {}


def _pasted(node: ast.AST) -> bool:
    """SQL text assembled by string operations: f-string, +, % or str.format on a literal."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return isinstance(node.func.value, ast.Constant)  # "...".format(); sql.SQL("...").format() is safe
    return False


def test_no_sql_is_pasted_together_from_values():
    """Every statement the pipeline sends is a literal, a psycopg2.sql composition (identifiers quoted,
    values as literals) or parameterized; none is built with f-strings, + or % from runtime values."""
    offenders = []
    for path in sorted([*REPO_ROOT.glob("ingestion/*.py"), *REPO_ROOT.glob("orchestration/**/*.py")]):
        tree = ast.parse(path.read_text(), filename=str(path))
        for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
            for call in ast.walk(function):
                if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
                    continue
                if call.func.attr in SQL_CALLS and call.args and _pasted(call.args[0]):
                    where = (str(path.relative_to(REPO_ROOT)), function.name)
                    if where not in ALLOWED:
                        offenders.append(f"{where[0]}:{call.lineno} in {where[1]}()")
    assert offenders == []


@pytest.mark.parametrize(
    "dbt_vars",
    [
        {"spectrum_schema": 'spectrum"."yellow_trips"); drop table x; --'},
        {"raw_schema": "raw; drop schema analytics cascade"},
        {"lookback_months": "1; drop table x"},
        {"undeclared_var": "anything"},
    ],
    ids=["quoted-schema", "semicolon-schema", "text-for-number", "unknown-var"],
)
def test_event_supplied_dbt_vars_cannot_carry_sql(tmp_path, dbt_vars):
    from orchestration.container import entrypoint

    (tmp_path / "profiles.yml").write_text("")
    env = {
        "DBT_PROJECT_DIR": str(REPO_ROOT / "dbt_project"),
        "DBT_PROFILES_DIR": str(tmp_path),
        "SCRATCH_DIR": str(tmp_path),
        "DBT_VARS": json.dumps(dbt_vars),
    }
    with pytest.raises(entrypoint.InputError):
        entrypoint.parse_settings(["build"], env)


# ---------- least privilege: the PostgreSQL role dbt uses


DBT_ROLE = harness.name("dbt")
DBT_SCHEMAS = ["analytics", "analytics_staging", "analytics_intermediate", "analytics_seeds", "analytics_snapshots"]


def _psql() -> str:
    from pgserver import _commands

    return str(_commands.POSTGRES_BIN_PATH / "psql")


@pytest.fixture(scope="module")
def dbt_role_db(reference, tmp_path_factory):
    """A clone of the reference with its raw layer only (dbt's schemas dropped), the role file applied."""
    database = harness.clone_database(reference.database, harness.name("dbt_role"))
    with harness.connect(database) as conn, conn.cursor() as cur:
        for schema in DBT_SCHEMAS:
            cur.execute(f'drop schema if exists "{schema}" cascade')  # constants above
    env = {**harness.child_env(), **harness.server().env(), "PGDATABASE": database}
    applied = subprocess.run(
        [_psql(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"dbt_role={DBT_ROLE}", "-v", "dbt_schema=analytics"]
        + ["-f", str(ROLE_SQL)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert applied.returncode == 0, applied.stderr
    yield database
    harness.drop_database(database)
    with harness.connect("postgres") as admin, admin.cursor() as cur:
        cur.execute(f'drop role if exists "{DBT_ROLE}"')  # constant above


def test_dbt_builds_as_the_least_privileged_role(dbt_role_db, reference, tmp_path):
    env = {
        **harness.child_env(),
        **harness.server().env(),
        "PGUSER": DBT_ROLE,
        "PGPASSWORD": "",
        "PGDATABASE": dbt_role_db,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    build = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "build", "--project-dir", str(dbt_runner.PROJECT_DIR)]
        + ["--profiles-dir", str(dbt_runner.ensure_profiles()), "--target-path", str(tmp_path / "target")]
        + ["--log-path", str(tmp_path / "logs"), "--no-use-colors"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-3000:]
    assert harness.warehouse_state(dbt_role_db) == reference.state
    with harness.connect(dbt_role_db) as conn, conn.cursor() as cur:
        cur.execute("select distinct tableowner from pg_tables where schemaname = any(%s)", (DBT_SCHEMAS,))
        assert cur.fetchall() == [(DBT_ROLE,)]


@pytest.mark.parametrize(
    "statement",
    [
        "drop table raw.yellow_trips",
        "drop table raw.yellow_trips_2024_01",
        "truncate raw.quarantined_trips",
        "delete from raw.partition_loads",
        "insert into raw.partition_loads select * from raw.partition_loads",
        "update raw.yellow_trips set fare_amount = 0",
        "alter table raw.quarantined_trips add column evil int",
        "create table raw.evil (x int)",
        "drop schema raw cascade",
        "create schema evil",
        "create table public.evil (x int)",
        "create database evil",
        "create role evil",
    ],
)
def test_the_dbt_role_cannot_touch_raw_nor_grow_its_rights(dbt_role_db, statement):
    conn = psycopg2.connect(harness.server().dsn(dbt_role_db).replace("user='postgres'", f"user='{DBT_ROLE}'"))
    try:
        with conn.cursor() as cur:
            cur.execute("select current_user, count(*) from raw.yellow_trips")  # reading raw is allowed
            assert cur.fetchone()[0] == DBT_ROLE
        conn.rollback()
        conn.autocommit = "database" in statement or "role" in statement
        with pytest.raises(errors.InsufficientPrivilege), conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def test_the_dbt_role_has_no_superpowers(dbt_role_db):
    with harness.connect("postgres") as admin, admin.cursor() as cur:
        cur.execute(
            "select rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls"
            " from pg_roles where rolname = %s",
            (DBT_ROLE,),
        )
        assert cur.fetchone() == (False, False, False, False, False)


# ---------- least privilege on AWS: the dbt container and the Redshift user


INFRA = REPO_ROOT / "infra"
MODULES = INFRA / "modules"
DBT_USER_SQL = MODULES / "warehouse" / "sql" / "dbt_user.sql"


def _block(text: str, header: str) -> str:
    """The body of the HCL block that starts with `header {` (braces balanced; strings hold none here)."""
    start = text.index(header + " {") + len(header) + 2
    depth = 1
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    raise AssertionError(f"unbalanced block {header}")


def _policy_statements(text: str, document: str) -> dict[str, tuple[set[str], list[str]]]:
    """sid -> (actions, resources as written: quoted strings and bare references) of a policy document."""
    body = _block(text, f'data "aws_iam_policy_document" "{document}"')
    statements = {}
    for statement in re.findall(r"statement \{(.*?)\n  \}", body, re.DOTALL):
        sid = re.search(r'sid\s*=\s*"(\w+)"', statement).group(1)
        actions = set(re.findall(r'"([^"]+)"', re.search(r"actions\s*=\s*\[([^\]]*)\]", statement).group(1)))
        resources = [
            r.strip().strip('"')
            for r in re.search(r"resources\s*=\s*\[(.*)\]", statement).group(1).split(",")
            if r.strip()
        ]
        statements[sid] = (actions, resources)
    return statements


def _policy_actions(text: str, document: str) -> tuple[set[str], list[str]]:
    statements = _policy_statements(text, document).values()
    return {a for actions, _ in statements for a in actions}, [r for _, resources in statements for r in resources]


def test_the_dbt_task_role_grants_only_what_the_entrypoint_does():
    """The container signs in to Redshift as its own user (IAM) and uploads artifacts; its task role allows
    exactly that (the execution role, used by ECS to start the task, pulls the image and writes logs)."""
    text = (MODULES / "dbt_runner" / "main.tf").read_text()
    task = _policy_statements(text, "task")
    assert task == {
        "SignInAsTheDbtUser": ({"redshift-serverless:GetCredentials"}, ["var.redshift_workgroup_arn"]),
        "UploadArtifacts": ({"s3:PutObject"}, ['${var.bucket_arns["artifacts"]}/dbt/runs/*']),
        "Key": ({"kms:Decrypt", "kms:GenerateDataKey"}, ["var.kms_key_arn"]),
    }
    execution_actions, _ = _policy_actions(text, "execution")
    assert execution_actions == {
        "ecr:GetAuthorizationToken",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchCheckLayerAvailability",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "kms:Decrypt",
    }


def test_dbt_on_aws_does_not_connect_as_the_redshift_admin():
    """The admin secret is used by Terraform's Data API statements only; the dbt task can read no secret at
    all and signs in with GetCredentials on the workgroup, as the user Terraform created for its role."""
    # Where the Redshift-managed admin secret is referenced: only as the secret_arn of the warehouse module's
    # Data API statements (run by terraform apply); no module exports it.
    uses = [
        (str(path.relative_to(INFRA)), line.strip())
        for path in INFRA.rglob("*.tf")
        for line in path.read_text().splitlines()
        if "admin_password_secret_arn" in line or "admin_secret" in line
    ]
    admin_secret = re.compile(r"secret_arn\s*=\s*aws_redshiftserverless_namespace\.this\.admin_password_secret_arn")
    assert uses and all(w.startswith("modules/warehouse/") and admin_secret.fullmatch(line) for w, line in uses), uses
    warehouse = "".join(p.read_text() for p in (MODULES / "warehouse").glob("*.tf"))
    data_api = re.findall(r'resource "aws_redshiftdata_statement" "(\w+)"', warehouse)
    assert sorted(data_api) == ["dbt_user", "dbt_user_grants", "spectrum_schema"]
    assert len(uses) == len(data_api)

    # The dbt runner: no Secrets Manager anywhere, no secret or password in the container's environment,
    # IAM authentication on the one workgroup.
    runner = (MODULES / "dbt_runner" / "main.tf").read_text()
    assert "secretsmanager" not in runner.lower()
    container = _block(runner, 'resource "aws_ecs_task_definition" "dbt"')
    environment = dict(re.findall(r'\{ name = "(\w+)", value = ([^}]+?) \}', container))
    assert environment["REDSHIFT_AUTH_METHOD"] == '"iam"'
    assert environment["REDSHIFT_WORKGROUP"] == "var.redshift_workgroup_name"
    assert environment["DBT_SCHEMA"] == "var.dbt_schema"
    assert not [name for name in environment if "SECRET" in name or "PASSWORD" in name], environment
    assert "secrets" not in container, "no ECS-injected secret either"

    # The wiring: GetCredentials on the warehouse's workgroup, and the Redshift user is that task role's.
    platform = (MODULES / "platform" / "main.tf").read_text()
    runner_inputs = _block(platform, 'module "dbt_runner"')
    warehouse_inputs = _block(platform, 'module "warehouse"')
    assert re.search(r"redshift_workgroup_arn\s*=\s*module\.warehouse\.workgroup_arn\n", runner_inputs)
    assert re.search(r"dbt_schema\s*=\s*module\.warehouse\.dbt_schema\n", runner_inputs)
    assert re.search(r"dbt_iam_role_name\s*=\s*module\.dbt_runner\.task_role_name\n", warehouse_inputs)
    assert "value       = aws_iam_role.task.name" in (MODULES / "dbt_runner" / "outputs.tf").read_text()
    assert 'dbt_user = "IAMR:${var.dbt_iam_role_name}"' in warehouse
    assert "workgroup_arn" in (MODULES / "warehouse" / "outputs.tf").read_text()

    # dbt's prod profile signs in with IAM unless told otherwise.
    profile = (REPO_ROOT / "profiles.yml.example").read_text()
    assert "method: \"{{ env_var('REDSHIFT_AUTH_METHOD', 'iam') }}\"" in profile


def _dbt_user_statements(sql: str) -> list[str]:
    """The file cut as infra/modules/warehouse/dbt_user.tf cuts it: comment lines dropped, split at ';'."""
    body = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [" ".join(s.split()) for s in body.split(";") if s.strip()]


def _rendered_dbt_user_sql(**names: str) -> str:
    text = DBT_USER_SQL.read_text()
    placeholders = set(re.findall(r"\$\{(\w+)\}", text))
    assert placeholders == set(names), placeholders
    for name, value in names.items():
        text = text.replace("${" + name + "}", value)
    return text


def test_the_terraform_cuts_the_dbt_user_sql_as_the_test_does():
    terraform = (MODULES / "warehouse" / "dbt_user.tf").read_text()
    cut = 'split(";", join("\\n", [for line in split("\\n", local.{}) : line if !startswith(trimspace(line), "--")]))'
    assert cut.format("dbt_user_sql_template") in terraform
    assert cut.format("dbt_user_sql") in terraform
    assert 'templatefile("${path.module}/sql/dbt_user.sql"' in terraform
    assert terraform.count("secret_arn     = aws_redshiftserverless_namespace.this.admin_password_secret_arn") == 2


def test_the_redshift_dbt_user_gets_only_what_dbt_needs():
    """infra/modules/warehouse/sql/dbt_user.sql, statement by statement: a user with no password and no power
    to create users or databases, TEMP on the database, USAGE on the Spectrum schema, and ownership of
    exactly dbt's schemas (the same five the PostgreSQL role owns). Nothing else."""
    user = "IAMR:tlc-dev-dbt-task"
    statements = _dbt_user_statements(
        _rendered_dbt_user_sql(dbt_user=user, database="tlc", dbt_schema="analytics", spectrum_schema="spectrum")
    )
    assert statements[0] == f'create user "{user}" password disable nocreatedb nocreateuser syslog access restricted'
    owned = []
    for statement in statements[1:]:
        if m := re.fullmatch(rf'create schema if not exists (\w+) authorization "{user}"', statement):
            owned.append(m.group(1))
        else:
            assert statement in {
                f'grant temp on database tlc to "{user}"',
                f'grant usage on schema spectrum to "{user}"',
                "revoke create on schema public from public",
            }, statement
    assert len(statements) == 1 + 3 + len(owned), "each grant once"
    assert sorted(owned) == sorted(DBT_SCHEMAS)

    lowered = " ".join(statements).lower()
    for power in ("superuser", " createuser", " createdb", "with grant option", "all privileges", "grant role", "sys:"):
        assert power not in lowered, power
    assert "password '" not in lowered


def test_the_redshift_dbt_user_sql_is_valid_redshift_sql():
    """Each statement parses in sqlfluff's Redshift dialect, which refuses a misspelt one (checked too)."""
    import sqlfluff
    from sqlfluff.api.simple import APIParsingError

    sql = _rendered_dbt_user_sql(
        dbt_user="IAMR:tlc-dev-dbt-task", database="tlc", dbt_schema="analytics", spectrum_schema="spectrum"
    )
    for statement in _dbt_user_statements(sql):
        sqlfluff.parse(statement + ";\n", dialect="redshift")
    with pytest.raises(APIParsingError):
        sqlfluff.parse('create user "IAMR:x" pasword disable;\n', dialect="redshift")


def test_the_project_vars_of_their_shape_are_accepted(tmp_path):
    from orchestration.container import entrypoint

    (tmp_path / "profiles.yml").write_text("")
    dbt_vars = {"lookback_months": 2, "spectrum_schema": "spectrum_v2", "date_spine_end": "2031-12-31"}
    env = {
        "DBT_PROJECT_DIR": str(REPO_ROOT / "dbt_project"),
        "DBT_PROFILES_DIR": str(tmp_path),
        "SCRATCH_DIR": str(tmp_path),
        "DBT_VARS": json.dumps(dbt_vars),
    }
    assert json.loads(entrypoint.parse_settings(["build"], env).vars_json) == dbt_vars
