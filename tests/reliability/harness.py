"""What the reliability tests share: databases on the embedded server, the warehouse's fingerprint,
pipeline runs in this process or as a killable child process, and watchers for the stage a run is in.

Nothing here reaches into the pipeline's code: a run is `python -m orchestration.local.run_pipeline`
(or its `main()`), and a stage is recognised from outside, the way an operator would see it: a staging
directory under the lake root (ingestion/lake.py), a COPY in pg_stat_activity (the loader), an INSERT
into fact_trips in pg_stat_activity (dbt).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql

from orchestration.local import embedded_postgres

REPO_ROOT = Path(__file__).resolve().parents[2]
PREFIX = "tlc_pytest_rel_"
SESSION = os.getpid()  # in every name, so two test sessions on one server never touch each other's

# The data every end-to-end scenario runs: two synthetic yellow months. Big enough that each stage a
# fault test kills takes a second or more on a busy 2-core machine (see RELIABILITY.md), small enough
# that a whole run stays well under a minute.
MONTHS = ("2024-01", "2024-02")
ROWS = 50_000
SEED = 42


# ---------- databases


def name(suffix: str) -> str:
    """This session's name for a database (or role): tlc_pytest_rel_<pid>_<suffix>."""
    return f"{PREFIX}{SESSION}_{suffix}"


def drop_session_databases(stale_only: bool = False) -> None:
    """Drop this session's databases, or (`stale_only`) those of sessions whose process is gone."""
    with connect("postgres") as admin, admin.cursor() as cur:
        cur.execute("select datname from pg_database where datname like %s", (PREFIX.replace("_", r"\_") + "%",))
        for (database,) in cur.fetchall():
            owner = database[len(PREFIX) :].split("_", 1)[0]
            if not owner.isdigit():
                continue
            if int(owner) == SESSION and not stale_only:
                drop_database(database)
            elif int(owner) != SESSION and stale_only and not _alive(int(owner)):
                drop_database(database)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def server() -> embedded_postgres.Connection:
    """The embedded server (started if needed), connected to the maintenance database."""
    return embedded_postgres.start(database="postgres")


def dsn(database: str) -> str:
    return server().dsn(database)


@contextmanager
def connect(database: str, autocommit: bool = True) -> Iterator:
    conn = psycopg2.connect(dsn(database))
    conn.autocommit = autocommit
    try:
        yield conn
    finally:
        conn.close()


def _terminate(cur, database: str) -> None:
    cur.execute(
        "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
        (database,),
    )


def drop_database(database: str) -> None:
    assert database.startswith(PREFIX), database  # only ever this suite's own databases
    with connect("postgres") as admin, admin.cursor() as cur:
        cur.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database)))


def fresh_database(database: str) -> str:
    """Drop and recreate `database` empty; returns its name."""
    drop_database(database)
    with connect("postgres") as admin, admin.cursor() as cur:
        cur.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
    return database


def clone_database(source: str, target: str) -> str:
    """`target` as an exact copy of `source` (CREATE DATABASE ... TEMPLATE): a warehouse's previous
    state in a second or two instead of a pipeline run."""
    drop_database(target)
    with connect("postgres") as admin, admin.cursor() as cur:
        _terminate(cur, source)
        cur.execute(sql.SQL("create database {} template {}").format(sql.Identifier(target), sql.Identifier(source)))
    return target


def wait_until_idle(database: str, timeout: float = 90.0) -> None:
    """Wait until no session is connected to `database` (a killed client's backend finishes its
    statement, notices the client is gone and rolls back)."""
    deadline = time.monotonic() + timeout
    with connect("postgres") as admin, admin.cursor() as cur:
        while True:
            cur.execute("select count(*) from pg_stat_activity where datname = %s", (database,))
            if cur.fetchone()[0] == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"sessions of a killed run are still connected to {database} after {timeout}s")
            time.sleep(0.1)


# ---------- the warehouse's fingerprint

# Run-specific columns (when something was loaded or built) are left out; everything else is compared.
_CHECKSUMMED = {
    "analytics.fact_trips": (),
    "raw.quarantined_trips": (),
    "raw.yellow_trips": (),
    "raw.green_trips": (),
    "raw.partition_loads": ("lake_version", "loaded_at"),
}


def warehouse_state(database: str, months: list[tuple[int, int]] | None = None) -> dict:
    """Row count and an order-independent checksum (the sum of a 64-bit hash of every row's text) of
    every table that matters, plus duplicate trip ids in fact_trips. `months` limits it to those
    (year, month) partitions. A missing table is None."""
    state: dict[str, object] = {}
    with connect(database) as conn, conn.cursor() as cur:
        for table, volatile in _CHECKSUMMED.items():
            schema, name = table.split(".")
            cur.execute(
                "select column_name from information_schema.columns where table_schema = %s and table_name = %s"
                " order by ordinal_position",
                (schema, name),
            )
            columns = [c for (c,) in cur.fetchall() if c not in volatile]
            if not columns:
                state[table] = None
                continue
            where = sql.SQL("")
            if months:
                pairs = sql.SQL(", ").join(
                    sql.SQL("({}, {})").format(sql.Literal(y), sql.Literal(m)) for y, m in months
                )
                key = (
                    sql.SQL("(extract(year from pickup_month)::int, extract(month from pickup_month)::int)")
                    if table == "analytics.fact_trips"
                    else sql.SQL("(year, month)")
                )
                where = sql.SQL(" where {} in ({})").format(key, pairs)
            cur.execute(
                sql.SQL(
                    "select count(*), coalesce(sum(hashtextextended(row({})::text, 0)::numeric), 0) from {}.{}{}"
                ).format(
                    sql.SQL(", ").join(sql.Identifier(c) for c in columns),
                    sql.Identifier(schema),
                    sql.Identifier(name),
                    where,
                )
            )
            count, digest = cur.fetchone()
            state[table] = {"rows": int(count), "checksum": str(digest)}
        if state["analytics.fact_trips"] is not None:
            cur.execute("select count(*) - count(distinct trip_id) from analytics.fact_trips")
            state["fact_trips duplicate trip_ids"] = int(cur.fetchone()[0])
    return state


def loaded_versions(database: str) -> dict[str, str]:
    """'yellow 2024-01' -> the lake version (the month's last-updated snapshots) each loaded month came from."""
    with connect(database) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('raw.partition_loads')")
        if cur.fetchone()[0] is None:
            return {}
        cur.execute("select service, year, month, lake_version from raw.partition_loads")
        return {f"{s} {y:04d}-{m:02d}": v for s, y, m, v in cur.fetchall()}


def lake_files(work_dir: Path) -> dict[str, int]:
    """Every file under the lake and the quarantine (path -> size), hidden staging leftovers included."""
    found = {}
    for root in (work_dir / "lake", work_dir / "quarantine"):
        for path in sorted(root.rglob("*")) if root.exists() else []:
            if path.is_file():
                found[str(path.relative_to(work_dir))] = path.stat().st_size
    return found


def lake_months(work_dir: Path) -> dict:
    """(service, year, month) -> MonthState of every month the lake's current snapshots hold."""
    from ingestion import lake_layout, lake_tables

    lake_root, quarantine_root = work_dir / "lake", work_dir / "quarantine"
    if not (lake_root / lake_layout.LOCAL_CATALOG_FILE).exists():
        return {}
    roots = lake_tables.LakeRoots(str(lake_root), str(quarantine_root))
    return lake_tables.PinnedLake.pin(lake_tables.open_catalog(roots), roots).months()


def unreferenced_files(work_dir: Path) -> list[str]:
    """Files under the lake's tables that their current metadata does not name: what a killed run wrote
    and never committed (data files, half-written `.tmp-*` ones, metadata), until the upkeep deletes them."""
    from ingestion import lake_layout, lake_maintenance, lake_tables

    lake_root, quarantine_root = work_dir / "lake", work_dir / "quarantine"
    if not (lake_root / lake_layout.LOCAL_CATALOG_FILE).exists():
        return []
    roots = lake_tables.LakeRoots(str(lake_root), str(quarantine_root))
    catalog = lake_tables.open_catalog(roots)
    found = []
    for table in lake_tables.ensure_tables(catalog, roots).values():
        referenced = lake_maintenance.referenced_files(table)
        folder = Path(lake_tables.local_path(table.location()))
        found += [str(p.relative_to(work_dir)) for p in folder.rglob("*") if p.is_file() and str(p) not in referenced]
    return sorted(found)


def manifests(work_dir: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted((work_dir / "lake" / "_manifests").glob("*.json"))}


def comparable_manifests(work_dir: Path) -> dict[str, dict]:
    """Manifests without what differs between two correct runs (when, from which folder, which snapshot)."""
    volatile = ("ingested_at", "source_path", "delivered_at", "lake_snapshot_id", "quarantine_snapshot_id")
    return {name: {k: v for k, v in m.items() if k not in volatile} for name, m in manifests(work_dir).items()}


# ---------- running the pipeline


def pipeline_args(work_dir: Path, database: str, *extra: str) -> list[str]:
    return [
        "--work-dir",
        str(work_dir),
        "--database",
        database,
        "--rows",
        str(ROWS),
        "--months",
        ",".join(MONTHS),
        "--seed",
        str(SEED),
        "--other-rows",
        "0",  # yellow only: the data set RELIABILITY.md describes
        *extra,
    ]


def child_env() -> dict[str, str]:
    """The environment of a pipeline child process: this one, minus a user's PG* settings (the
    embedded server is the warehouse), with the repository importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@dataclass
class Child:
    """A pipeline run in its own process group, with its output in a log file."""

    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, lines: int = 25) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


def start(args: list[str], log: Path, prefix: tuple[str, ...] = ()) -> Child:
    """`python -m orchestration.local.run_pipeline ARGS` in a new session (so a SIGKILL to its process
    group takes the Spark JVM down with it); `prefix`: a command that execs it (e.g. in another mount
    namespace)."""
    handle = log.open("wb")
    process = subprocess.Popen(
        [*prefix, sys.executable, "-u", "-m", "orchestration.local.run_pipeline", *args],
        cwd=REPO_ROOT,
        env=child_env(),
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    handle.close()
    return Child(process, log)


def finish(child: Child, timeout: float = 300.0) -> int:
    try:
        return child.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(child)
        raise AssertionError(f"pipeline run did not finish in {timeout}s:\n{child.tail()}") from None


def kill_group(child: Child) -> None:
    """SIGKILL the run and everything it started (its process group), then wait until all are gone."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while True:
        try:
            os.killpg(child.pid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"processes of group {child.pid} survived SIGKILL")
        time.sleep(0.05)


def kill_when(child: Child, condition: Callable[[], bool], what: str, timeout: float = 240.0) -> float:
    """Poll `condition` and SIGKILL the run's process group the moment it holds; returns the seconds
    since the run started. Fails (never passes silently) if the run ends first or the moment never comes."""
    started = time.monotonic()
    while True:
        if condition():
            kill_group(child)
            return time.monotonic() - started
        code = child.process.poll()
        if code is not None:
            raise AssertionError(f"the run ended (exit {code}) before {what} was seen:\n{child.tail()}")
        if time.monotonic() - started > timeout:
            kill_group(child)
            raise AssertionError(f"{what} not seen within {timeout}s:\n{child.tail()}")
        time.sleep(0.01)


# ---------- stage watchers (conditions for kill_when)


def lake_write_in_progress(work_dir: Path) -> Callable[[], bool]:
    """True while the ingestion job's tasks write a month's data files and nothing is committed yet: a
    file exists under a table's ``data/`` folder (ingestion/lake.py `month_folder`) and no receipt."""
    roots = [work_dir / "lake" / "yellow_trips" / "data", work_dir / "quarantine" / "quarantined_trips" / "data"]
    receipts = work_dir / "lake" / "_manifests"

    def condition() -> bool:
        if receipts.is_dir() and any(os.scandir(receipts)):
            return False
        return any(files for root in roots if root.is_dir() for _, _, files in os.walk(root))

    return condition


class ActivityWatch:
    """pg_stat_activity of one database through one autocommit connection, polled by kill_when."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.conn = psycopg2.connect(dsn("postgres"))
        self.conn.autocommit = True

    def active(self, *patterns: str) -> Callable[[], bool]:
        """True while a statement whose text matches one of the ILIKE `patterns` runs in the database.
        (pg_stat_activity keeps the first 1 KiB of a statement's text: patterns match near its start.)"""

        def condition() -> bool:
            with self.conn.cursor() as cur:
                cur.execute(
                    "select count(*) from pg_stat_activity where datname = %s and state = 'active'"
                    " and pid <> pg_backend_pid() and query ilike any(%s)",
                    (self.database, list(patterns)),
                )
                return cur.fetchone()[0] > 0

        return condition

    def close(self) -> None:
        self.conn.close()


COPY_STATEMENT = "copy %from stdin%"  # the loader's COPY into a raw partition (load_postgres._copy)
# dbt writing fact_trips: a first build sends `create table ...` and the filling of its month tables
# (`insert into "analytics"."fact_trips__<service>_<yyyy>_<mm>__loading"`) as one statement (its visible
# start is the create); an incremental one builds the month tables it replaces, starting with a `drop
# table if exists` of each loading name (dbt_project/macros/month_tables.sql; a table of an earlier
# release: `delete from`, `insert into`).
FACT_WRITE = (
    '%create %table %"analytics"."fact_trips"%',
    r'%"analytics"."fact_trips\_\_%',  # a month table: any statement on it
    '%delete from %"analytics"."fact_trips"%',
    '%insert into %"analytics"."fact_trips"%',
)


# ---------- work directories


def copy_work_dir(source: Path, target: Path) -> Path:
    """A second work dir holding the same sample, lake and quarantine (what a clone of the database
    needs beside it)."""
    from ingestion.lake_relocate import relocate
    from ingestion.lake_tables import LakeRoots

    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("artifacts", "runs", "lake", "quarantine"))
    # an Iceberg table names its files by absolute path: a plain copy would still write the source's lake
    relocate(*(LakeRoots(str(root / "lake"), str(root / "quarantine")) for root in (source, target)))
    return target
