"""The whole local pipeline, end to end, on a small synthetic sample and the embedded PostgreSQL.

These are the promises `make run` makes: every row read is accepted or quarantined, what the lake
holds is what the warehouse holds, a second run changes nothing, a new month is the only thing the
next run processes, and bad input is refused before anything loads.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import psycopg2
import pytest

from orchestration.local import embedded_postgres
from orchestration.local.run_pipeline import main as run_pipeline

pytestmark = pytest.mark.integration

DATABASE = "tlc_pytest_pipeline"
ROWS = 4_000


def _scalar(conn, query: str):
    with conn.cursor() as cur:
        cur.execute(query)
        return cur.fetchone()[0]


def _latest_summary(work_dir: Path) -> dict:
    return json.loads((work_dir / "runs" / "latest.json").read_text())


@pytest.fixture(scope="module")
def warehouse():
    """A fresh database on the embedded server, dropped first so the module starts clean."""
    conn_info = embedded_postgres.start(database="postgres")
    admin = psycopg2.connect(conn_info.dsn("postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'drop database if exists "{DATABASE}" with (force)')
    admin.close()
    conn_info = embedded_postgres.start(database=DATABASE)
    conn = psycopg2.connect(conn_info.dsn())
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, warehouse):
    work_dir = tmp_path_factory.mktemp("pipeline")
    yellow_only = ["--rows", str(ROWS), "--other-rows", "0"]
    args = ["--work-dir", str(work_dir), "--database", DATABASE, *yellow_only, "--months", "2024-01,2024-02"]
    code = run_pipeline(args)
    return {"code": code, "work_dir": work_dir, "args": args, "summary": _latest_summary(work_dir)}


def test_first_run_succeeds_and_reconciles(first_run):
    assert first_run["code"] == 0
    rec = first_run["summary"]["reconciliation"]
    assert rec["rows_read"] == 2 * ROWS
    assert rec["rows_read"] == rec["rows_accepted"] + rec["rows_quarantined"]
    assert rec["rows_quarantined"] > 0, "the synthetic sample carries known bad rows"


def test_quarantine_and_warning_counts_match_what_the_generator_planted(first_run):
    sample = first_run["work_dir"] / "sample"
    warned = {}
    for result in first_run["summary"]["files"]:
        manifest = result["manifest"]
        expected = json.loads((sample / f"{result['source_file']}.expected.json").read_text())
        injected = {code: n for code, n in expected["quarantined_by_reason"].items() if n}
        assert manifest["quarantined_by_reason"] == injected, result["source_file"]
        assert manifest["warnings_by_code"] == expected["warnings_by_code"], result["source_file"]
        for code, n in expected["warnings_by_code"].items():
            warned[code] = warned.get(code, 0) + n
    assert first_run["summary"]["warnings_by_code"] == warned and warned


def test_warehouse_holds_exactly_what_the_lake_accepted(first_run, warehouse):
    rec = first_run["summary"]["reconciliation"]
    assert _scalar(warehouse, "select count(*) from raw.yellow_trips") == rec["rows_accepted"]
    assert _scalar(warehouse, "select count(*) from raw.quarantined_trips") == rec["rows_quarantined"]
    assert _scalar(warehouse, "select count(*) from analytics.fact_trips") == rec["rows_accepted"]
    assert _scalar(warehouse, "select count(distinct trip_id) from analytics.fact_trips") == rec["rows_accepted"]
    reasons = _scalar(warehouse, "select count(*) from raw.quarantined_trips where reason_code is null")
    assert reasons == 0, "every quarantined row carries its reason"


def test_dbt_build_passed_with_tests(first_run):
    dbt = first_run["summary"]["dbt"]
    assert dbt["success"] is True
    assert dbt["tests_failed"] == 0
    assert dbt["tests_passed"] > 0
    assert dbt["fact_rows"] == first_run["summary"]["reconciliation"]["rows_accepted"]


def test_second_run_is_a_no_op(first_run, warehouse):
    before = _scalar(warehouse, "select count(*) from analytics.fact_trips")
    loads_before = _scalar(warehouse, "select string_agg(lake_version, ',' order by month) from raw.partition_loads")
    assert run_pipeline(first_run["args"]) == 0
    summary = _latest_summary(first_run["work_dir"])
    assert all(f["status"] == "skipped" for f in summary["files"])
    assert summary["reconciliation"]["rows_read"] == 0
    # ...while the warehouse's own reconciliation still covers every month loaded so far
    assert summary["warehouse"]["ok"] is True
    yellow = summary["warehouse"]["by_service"]["yellow"]
    assert yellow["months"] == 2 and yellow["lake"] == yellow["raw"] == yellow["fact"] == before
    # from the counts its months reconciled with: nothing changed, nothing counted, the same figures
    assert summary["warehouse"]["months_recounted"] == 0
    assert summary["warehouse"]["by_service"] == _whole_history(first_run).by_service()
    assert _scalar(warehouse, "select count(*) from analytics.fact_trips") == before
    assert _scalar(warehouse, "select string_agg(lake_version, ',' order by month) from raw.partition_loads") == (
        loads_before
    )


def test_a_new_month_is_the_only_month_processed(first_run, warehouse):
    before = _scalar(warehouse, "select count(*) from analytics.fact_trips")
    args = first_run["args"][:-1] + ["2024-01,2024-02,2024-03"]
    assert run_pipeline(args) == 0
    summary = _latest_summary(first_run["work_dir"])
    processed = [f["source_file"] for f in summary["files"] if f["status"] != "skipped"]
    assert processed == ["yellow_tripdata_2024-03.parquet"]
    added = summary["reconciliation"]["rows_accepted"]
    assert _scalar(warehouse, "select count(*) from analytics.fact_trips") == before + added
    assert summary["warehouse"]["months_recounted"] == 1
    assert summary["warehouse"]["by_service"] == _whole_history(first_run).by_service()


def _whole_history(first_run):
    from orchestration.local.reconcile import reconcile

    dsn = embedded_postgres.start(database=DATABASE).dsn()
    work = first_run["work_dir"]
    return reconcile(dsn, work / "lake", work / "quarantine", whole_history=True)


def test_a_run_counts_the_months_it_changed_and_make_reconcile_every_month(first_run, warehouse, capsys):
    """A trip gone from a month no run changed since: a run's check (which counts the changed months)
    does not see it; `make reconcile` counts every month and names it."""
    from orchestration.local.reconcile import main as make_reconcile
    from orchestration.local.reconcile import reconcile

    work = first_run["work_dir"]
    dsn = embedded_postgres.start(database=DATABASE).dsn()
    lost = "(select trip_id from analytics.fact_trips where pickup_month = '2024-01-01' order by trip_id limit 1)"
    warehouse.cursor().execute(
        f"create temporary table lost as select * from analytics.fact_trips where trip_id = {lost};"
        " delete from analytics.fact_trips where trip_id in (select trip_id from lost)"
    )
    try:
        scoped = reconcile(dsn, work / "lake", work / "quarantine")
        assert scoped.recounted == 0 and scoped.ok
        assert make_reconcile(["--work-dir", str(work), "--database", DATABASE]) == 1
        error = capsys.readouterr().err
        assert "yellow 2024-01: lake " in error and "2024-02" not in error, error
        # the month that failed is no longer taken as reconciled: the next run's check counts it
        assert reconcile(dsn, work / "lake", work / "quarantine").mismatches()[0].startswith("yellow 2024-01")
    finally:
        warehouse.cursor().execute("insert into analytics.fact_trips select * from lost; drop table lost")
    assert make_reconcile(["--work-dir", str(work), "--database", DATABASE]) == 0


def _tlc_named_folder(tmp: Path) -> Path:
    (tmp / "yellow_tripdata_2024-05.parquet").mkdir()
    return tmp


def _dangling_link(tmp: Path) -> Path:
    (tmp / "green_tripdata_2024-05.parquet").symlink_to(tmp / "gone.parquet")
    return tmp


@pytest.mark.parametrize(
    "make_source, message",
    [
        (lambda tmp: tmp / "does-not-exist", "SOURCE does not exist"),
        (lambda tmp: tmp, "holds no TLC trip files"),
        (lambda tmp: (tmp / "notes.csv").write_text("hello") and tmp, "not a TLC trip file"),
        (lambda tmp: (tmp / "yellow_tripdata_2024-1.parquet").write_text("x") and tmp, "not a TLC trip file"),
        (_tlc_named_folder, "yellow_tripdata_2024-05.parquet: is a folder, not a file"),
        (_dangling_link, "green_tripdata_2024-05.parquet: broken symbolic link"),
    ],
    ids=["missing", "empty", "not-tlc", "misnamed-month", "folder-with-a-tlc-name", "dangling-symlink"],
)
def test_bad_source_is_refused_and_nothing_loads(first_run, warehouse, tmp_path, capsys, make_source, message):
    before = _scalar(warehouse, "select count(*) from raw.partition_loads")
    source = make_source(tmp_path)
    code = run_pipeline(["--source", str(source), "--work-dir", str(first_run["work_dir"]), "--database", DATABASE])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert str(source) in err.splitlines()[0]
    assert err.splitlines()[-1] == "nothing was loaded into the warehouse (exit status 2: bad input)"
    assert _latest_summary(first_run["work_dir"])["exit_status"] == 2
    assert _scalar(warehouse, "select count(*) from raw.partition_loads") == before


def test_a_real_tlc_folder_runs_from_source(first_run, warehouse, tmp_path):
    """SOURCE=dir path: the same files, handed over as a user's folder, are recognised as unchanged; a
    note beside them (not data) is passed over and named."""
    source = tmp_path / "tlc"
    source.mkdir()
    shutil.copy2(first_run["work_dir"] / "sample" / "yellow_tripdata_2024-01.parquet", source)
    (source / "PROVENANCE.md").write_text("where these files come from")
    code = run_pipeline(["--source", str(source), "--work-dir", str(first_run["work_dir"]), "--database", DATABASE])
    assert code == 0
    summary = _latest_summary(first_run["work_dir"])
    assert [f["source_file"] for f in summary["files"]] == ["yellow_tripdata_2024-01.parquet"]
    [validate] = [s for s in summary["stages"] if s["name"] == "ValidateInput"]
    assert validate["detail"].endswith("1 passed over, not read (named above and in the summary)")
    assert summary["passed_over"] == ["PROVENANCE.md"]


def test_a_warehouse_that_lost_a_trip_fails_the_run_naming_the_month(first_run, warehouse):
    """A month whose fact lost a trip the lake committed: dbt's reconciliation test fails the build and
    the run's error names the month (as the AWS failure notification does); reloading it heals."""
    warehouse.cursor().execute(
        "delete from raw.yellow_trips where month = 2"
        " and trip_key = (select trip_key from raw.yellow_trips where month = 2 order by trip_key limit 1);"
        " update raw.partition_loads set loaded_at = now() where service = 'yellow' and month = 2"
    )
    try:
        assert run_pipeline(first_run["args"]) == 1
        summary = _latest_summary(first_run["work_dir"])
        assert summary["failed_stage"] == "Transform"
        assert "yellow 2024-02: lake " in summary["error"], summary["error"]
        assert "test warehouse_reconciles_with_lake: fail" not in summary["error"]
        verdicts = _scalar(
            warehouse,
            "select string_agg(to_char(pickup_month, 'YYYY-MM') || '=' || reconciliation_status, ','"
            " order by pickup_month)"
            " from analytics.rpt_lake_reconciliation",
        )
        assert verdicts.startswith("2024-01=reconciled,2024-02=mismatch"), verdicts
    finally:
        # A load-log row gone: the next run reloads the month from the lake, and the warehouse reconciles.
        warehouse.cursor().execute("delete from raw.partition_loads where service = 'yellow' and month = 2")
        assert run_pipeline(first_run["args"]) == 0
    assert _latest_summary(first_run["work_dir"])["warehouse"]["ok"] is True


def test_a_warehouse_of_an_earlier_release_is_rebuilt_from_the_lake(first_run, warehouse, capsys):
    """The raw layer and the facts as earlier releases built them (trip keys as text, fact_trips with a
    source_file column, fact_fhv_trips one table rather than a table per month): the next run says so,
    reloads every month and rebuilds every model in full, and reconciles; nothing has to be dropped by
    hand."""
    trips = _scalar(warehouse, "select count(*) from analytics.fact_trips")
    for_hire = _scalar(warehouse, "select count(*) from analytics.fact_fhv_trips")
    warehouse.cursor().execute(
        "drop view analytics_staging.stg_tlc__yellow_trips cascade;"
        " alter table raw.yellow_trips alter column trip_key type text using replace(trip_key::text, '-', '');"
        " alter table analytics.fact_trips add column source_file varchar(128);"
        " create table analytics.fact_fhv_trips_one as select * from analytics.fact_fhv_trips;"
        " drop table analytics.fact_fhv_trips cascade;"
        " alter table analytics.fact_fhv_trips_one rename to fact_fhv_trips"
    )
    capsys.readouterr()
    assert run_pipeline(first_run["args"]) == 0
    out = capsys.readouterr().out
    assert "raw.yellow_trips: trip_key is text, now uuid" in out, out[-3000:]
    rebuilt = re.search(r"(.*): built by an earlier release with other columns or layout", out)
    assert rebuilt and set(rebuilt.group(1).strip().split(", ")) == {"fact_trips", "fact_fhv_trips"}, out[-3000:]
    summary = _latest_summary(first_run["work_dir"])
    assert summary["warehouse"]["ok"] is True
    assert _scalar(warehouse, "select count(*) from analytics.fact_trips") == trips
    assert _scalar(warehouse, "select count(*) from analytics.fact_fhv_trips") == for_hire
    assert _scalar(warehouse, "select relkind from pg_class where oid = 'analytics.fact_fhv_trips'::regclass") == "p"
    kinds = _scalar(
        warehouse,
        "select string_agg(column_name || ' ' || data_type, ', ' order by column_name) from information_schema.columns"
        " where table_schema = 'analytics' and table_name = 'fact_trips' and column_name in ('trip_id', 'source_file')",
    )
    assert kinds == "trip_id uuid", kinds


def test_source_folder_with_taxi_and_for_hire_files(tmp_path):
    """`make run SOURCE=dir` on both of TLC's layouts, Parquet (2022 on) and the older CSV, and on a for-hire
    dataset: every accepted trip reaches its fact, and Transform's rows out counts both facts."""
    from ingestion import synthetic
    from orchestration.local.reconcile import FACTS

    database = "tlc_pytest_pipeline_source"
    info = embedded_postgres.start(database="postgres")
    admin = psycopg2.connect(info.dsn("postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'drop database if exists "{database}" with (force)')
    admin.close()

    source = tmp_path / "tlc"
    green = synthetic.generate_month(source, service="green", year=2019, month=6, rows=1_500, fmt="csv")
    yellow = synthetic.generate_month(source, service="yellow", year=2023, month=11, rows=1_500)
    fhvhv = synthetic.generate_month(source, service="fhvhv", year=2023, month=11, rows=1_500)
    code = run_pipeline(["--source", str(source), "--work-dir", str(tmp_path / "work"), "--database", database])
    assert code == 0
    summary = _latest_summary(tmp_path / "work")
    by_file = {f["source_file"]: f for f in summary["files"]}
    assert set(by_file) == {
        "green_tripdata_2019-06.csv",
        "yellow_tripdata_2023-11.parquet",
        "fhvhv_tripdata_2023-11.parquet",
    }
    [transform] = [s for s in summary["stages"] if s["name"] == "Transform"]
    assert transform["rows_out"] == summary["reconciliation"]["rows_accepted"]

    conn = psycopg2.connect(embedded_postgres.start(database=database).dsn())
    conn.autocommit = True
    try:
        for service, expected in (("green", green), ("yellow", yellow), ("fhvhv", fhvhv)):
            manifest = next(f["manifest"] for f in summary["files"] if f["manifest"]["service"] == service)
            planted = {code: n for code, n in expected["quarantined_by_reason"].items() if n}
            assert manifest["quarantined_by_reason"] == planted
            assert _scalar(conn, f"select count(*) from raw.{service}_trips") == manifest["rows_accepted"]
            fact = _scalar(conn, f"select count(*) from analytics.{FACTS[service]} where service = '{service}'")
            assert fact == manifest["rows_accepted"]
    finally:
        conn.close()
