"""Fixtures for the dbt project's tests: real dbt invocations against a real (embedded) PostgreSQL.

Every test session gets its own database (`tlc_pytest_dbt`), its own target/log directories and a
profiles.yml copied from the repository's profiles.yml.example, so it never touches a developer's
`analytics` schemas or dbt_project/target.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIR = REPO_ROOT / "dbt_project"
FIXTURE_SQL = Path(__file__).with_name("fixtures") / "raw_fixture.sql"
TEST_DATABASE = "tlc_pytest_dbt"

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def dbt_executable() -> str:
    """The dbt next to the running interpreter (the project's .venv), else the one on PATH."""
    candidate = Path(sys.executable).with_name("dbt")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("dbt")
    if found is None:
        pytest.fail("dbt is not installed: install the project's requirements into .venv")
    return found


@dataclass
class DbtResult:
    """One dbt invocation: exit code, console output and the run_results it wrote."""

    returncode: int
    output: str
    run_results: dict = field(default_factory=dict)

    def statuses(self) -> dict[str, str]:
        """unique_id -> status for every node the invocation ran."""
        return {r["unique_id"]: r["status"] for r in self.run_results.get("results", [])}


@dataclass
class DbtRunner:
    """Runs dbt as the Makefile does (--project-dir dbt_project --profiles-dir <copy of the example>), in
    this process (dbt's programmatic dbtRunner, one invocation after another, as orchestration/local
    does): a dbt process's start costs ~5 s here, paid once instead of per invocation."""

    profiles_dir: Path
    work_dir: Path
    env: dict[str, str]

    def __call__(
        self,
        *args: str,
        schema: str = "analytics",
        target: str | None = None,
        extra_env: dict[str, str] | None = None,
        check: bool = True,
    ) -> DbtResult:
        from dbt.cli.main import dbtRunner

        from orchestration.local.environment import environment

        target_path = self.work_dir / f"target-{schema}-{target or 'dev'}"
        env = {**self.env, "DBT_SCHEMA": schema, **(extra_env or {})}
        cmd = [
            *args,
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(self.profiles_dir),
            "--target-path",
            str(target_path),
            "--log-path",
            str(self.work_dir / "logs"),
        ]
        if target:
            cmd += ["--target", target]
        lines: list[str] = []

        def console(event) -> None:  # what dbt's console shows at its default level
            if event.info.level != "debug":
                lines.append(event.info.msg)

        results_file = target_path / "run_results.json"
        results_file.unlink(missing_ok=True)  # a failed parse writes none: never read an earlier one
        with environment(env, replace=True):
            res = dbtRunner(callbacks=[console]).invoke(cmd)
        returncode = 0 if res.success else (2 if res.exception is not None else 1)
        output = "\n".join(lines) + (f"\n{type(res.exception).__name__}: {res.exception}" if res.exception else "")
        run_results = json.loads(results_file.read_text()) if results_file.exists() else {}
        result = DbtResult(returncode, output, run_results)
        if check and returncode != 0:
            pytest.fail(f"dbt {' '.join(args)} failed (exit {returncode}):\n{output[-6000:]}")
        return result

    def target_path(self, schema: str = "analytics", target: str | None = None) -> Path:
        return self.work_dir / f"target-{schema}-{target or 'dev'}"


@pytest.fixture(scope="session")
def pg_env() -> dict[str, str]:
    """libpq variables of a dedicated test database on the user's Postgres (PGHOST) or the embedded one."""
    from orchestration.local import embedded_postgres

    conn = embedded_postgres.connection_for_run(TEST_DATABASE)
    embedded_postgres.ensure_database(conn)
    return conn.env()


def connect(pg_env: dict[str, str]):
    """A psycopg2 connection to the test database."""
    import psycopg2

    return psycopg2.connect(
        host=pg_env["PGHOST"],
        port=pg_env["PGPORT"],
        user=pg_env["PGUSER"],
        password=pg_env["PGPASSWORD"],
        dbname=pg_env["PGDATABASE"],
    )


@pytest.fixture(scope="session")
def sql(pg_env):
    """Run SQL on the test database; returns the rows of the last statement (if any)."""

    def run(statement: str, params: tuple | None = None) -> list[tuple]:
        conn = connect(pg_env)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    return run


@pytest.fixture(scope="session")
def load_raw_fixture(sql, pg_env):
    """(Re)create a raw schema (default `raw`) with the fixture's trips (2024-01..03) and their load log.

    The tables come from the lake contract, exactly as the loader creates them (`ensure_raw_schema`);
    the fixture only adds rows."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("raw_fixture", FIXTURE_SQL.with_suffix(".py"))
    fixture = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixture)
    load_fixture = fixture.load

    def load(schema: str = "raw") -> None:
        conn = connect(pg_env)
        try:
            load_fixture(conn, schema)
        finally:
            conn.close()

    return load


@pytest.fixture(scope="session")
def dbt(tmp_path_factory, pg_env) -> DbtRunner:
    work_dir = tmp_path_factory.mktemp("dbt")
    profiles_dir = work_dir / "profiles"
    profiles_dir.mkdir()
    shutil.copy(REPO_ROOT / "profiles.yml.example", profiles_dir / "profiles.yml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "DBT_", "REDSHIFT_"))}
    env.update(pg_env)
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return DbtRunner(profiles_dir=profiles_dir, work_dir=work_dir, env=env)


@pytest.fixture(scope="session")
def built_warehouse(load_raw_fixture, dbt, sql) -> DbtResult:
    """One full `dbt build` (seeds, models, snapshots, data and unit tests) on the fixture."""
    load_raw_fixture()
    sql("drop schema if exists analytics cascade")
    for suffix in ("staging", "intermediate", "seeds", "snapshots"):
        sql(f"drop schema if exists analytics_{suffix} cascade")
    return dbt("build")
