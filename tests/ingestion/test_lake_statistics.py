"""Glue column statistics settings of the lake's tables (`ingestion.lake_statistics`), made by the job on the
Glue catalog: against moto (Glue in this process, S3 on a moto server) with a stand-in for the settings API,
which moto lacks (tests/orchestration/moto_glue_statistics.py says what it does and does not model). Nothing
here reaches AWS, and no statistics task runs."""

from __future__ import annotations

import datetime as dt

import pytest
from tlc_samples import write_parquet, yellow_row

from ingestion import glue_entry, job, lake_statistics, lake_tables, raw_files
from ingestion.contract import iceberg_tables
from ingestion.lake_statistics import StatisticsSchedule
from tests.ingestion.moto_lake import CATALOG, DATABASE, moto_lake
from tests.orchestration.moto_glue_statistics import glue_column_statistics_settings

BUCKET = "tlc-lake"
LANDING = "tlc-landing"
ROLE = "arn:aws:iam::123456789012:role/tlc-dev-glue-column-statistics"
SCHEDULE = "cron(0 4 * * ? *)"
WANTED = StatisticsSchedule(ROLE, SCHEDULE, "tlc-dev-column-statistics")
TABLES = [t.name for t in iceberg_tables()]


@pytest.fixture
def aws(monkeypatch):
    with moto_lake(monkeypatch, [BUCKET, LANDING]) as s3, glue_column_statistics_settings() as stand_in:
        yield s3, stand_in


def _ingest(s3, tmp_path, messages: list[str], rows: int = 20, month: int = 1, wanted=WANTED):
    name = f"yellow_tripdata_2024-{month:02d}.parquet"
    shift = dt.datetime(2024, month, 1) - dt.datetime(2024, 1, 1)
    trips = []
    for i in range(rows):
        row = yellow_row(i)
        trips.append(row | {k: row[k] + shift for k in ("tpep_pickup_datetime", "tpep_dropoff_datetime")})
    body = write_parquet(tmp_path / name, trips).read_bytes()
    s3.put_object(Bucket=LANDING, Key=f"landing/{name}", Body=body)
    inspection = raw_files.inspect_file(f"s3://{LANDING}/landing/{name}")
    roots = lake_tables.LakeRoots(f"s3://{BUCKET}/lake", f"s3://{BUCKET}/quarantine", CATALOG)
    result = job.ingest_inspected(
        inspection, roots.lake_root, roots.quarantine_root, catalog=CATALOG, column_statistics=wanted,
        progress=messages.append,
    )  # fmt: skip
    return result, roots


def _trips(roots: lake_tables.LakeRoots, month: int = 1) -> int:
    table = lake_tables.open_catalog(roots).load_table((DATABASE, "yellow_trips"))
    return table.scan(row_filter=f"year = 2024 and month = {month}").to_arrow().num_rows


def test_every_contract_table_gets_the_role_and_the_schedule(aws, tmp_path):
    s3, stand_in = aws
    messages: list[str] = []
    result, roots = _ingest(s3, tmp_path, messages)
    assert result.status == "ingested", result.problem
    assert _trips(roots) == 20
    assert len(TABLES) == 6
    for table in TABLES:
        settings = stand_in.stored(DATABASE, table)
        assert settings is not None, f"{table} has no column statistics settings"
        assert settings["Role"] == ROLE
        assert settings["Schedule"]["ScheduleExpression"] == SCHEDULE
        assert settings["SecurityConfiguration"] == "tlc-dev-column-statistics"
        assert "ColumnNameList" not in settings, "every column: no list is sent"
        assert any(m.startswith(f"column statistics settings of {DATABASE}.{table} created") for m in messages)
    assert {op for op, _ in stand_in.calls} == {
        "get_column_statistics_task_settings",
        "create_column_statistics_task_settings",
    }


def test_a_rerun_changes_nothing(aws, tmp_path):
    s3, stand_in = aws
    first, _ = _ingest(s3, tmp_path, [])
    assert first.status == "ingested"
    before = {table: dict(stand_in.stored(DATABASE, table)) for table in TABLES}
    stand_in.calls.clear()
    messages: list[str] = []
    second, roots = _ingest(s3, tmp_path, messages, rows=7, month=2)  # another month: the job opens the tables
    assert second.status == "ingested" and _trips(roots, 2) == 7
    assert {op for op, _ in stand_in.calls} == {"get_column_statistics_task_settings"}, "only read, nothing written"
    assert {table: stand_in.stored(DATABASE, table) for table in TABLES} == before
    assert not [m for m in messages if m.startswith("column statistics")]
    outcomes = lake_statistics.ensure_for_lake(CATALOG, TABLES, WANTED, client=lake_statistics.glue_client())
    assert outcomes == dict.fromkeys(TABLES, lake_statistics.UNCHANGED)


def test_a_changed_schedule_or_role_is_updated(aws, tmp_path):
    s3, stand_in = aws
    _ingest(s3, tmp_path, [])
    later = StatisticsSchedule(ROLE, "cron(30 2 ? * SUN *)", WANTED.security_configuration)
    messages: list[str] = []
    assert lake_statistics.ensure_for_lake(CATALOG, TABLES, later, messages.append) == dict.fromkeys(
        TABLES, lake_statistics.UPDATED
    )
    for table in TABLES:
        settings = stand_in.stored(DATABASE, table)
        assert (settings["Role"], settings["Schedule"]["ScheduleExpression"]) == (ROLE, "cron(30 2 ? * SUN *)")
    assert len([m for m in messages if "updated (cron(30 2 ? * SUN *))" in m]) == len(TABLES)
    other_role = StatisticsSchedule(ROLE.replace("tlc-dev", "tlc-dev2"), later.schedule, later.security_configuration)
    assert set(lake_statistics.ensure_for_lake(CATALOG, TABLES, other_role).values()) == {lake_statistics.UPDATED}
    assert stand_in.stored(DATABASE, "yellow_trips")["Role"] == other_role.role


def test_a_paused_schedule_stays_paused(aws, tmp_path):
    """The job sets role, schedule and security configuration only: it never starts a schedule someone stopped
    (StopColumnStatisticsTaskRunSchedule; resuming is StartColumnStatisticsTaskRunSchedule, never called)."""
    s3, stand_in = aws
    _ingest(s3, tmp_path, [])
    stand_in.stored(DATABASE, "green_trips")["Schedule"]["State"] = "NOT_SCHEDULED"
    outcomes = lake_statistics.ensure_for_lake(CATALOG, TABLES, WANTED)
    assert outcomes == dict.fromkeys(TABLES, lake_statistics.UNCHANGED)
    assert stand_in.stored(DATABASE, "green_trips")["Schedule"]["State"] == "NOT_SCHEDULED"


def test_an_api_error_is_reported_and_the_ingest_succeeds(aws, tmp_path):
    """AccessDeniedException is what Glue answers when the job role may not pass the statistics role
    (iam:PassRole): the month is committed all the same, each table's failure is reported, and the next run
    makes the settings."""
    s3, stand_in = aws
    messages: list[str] = []
    with stand_in.refusing("AccessDeniedException"):
        result, roots = _ingest(s3, tmp_path, messages)
    assert result.status == "ingested", result.problem
    assert result.manifest["lake_snapshot_id"] is not None and _trips(roots) == 20
    failed = [m for m in messages if "not set, left for the next run" in m]
    assert len(failed) == len(TABLES)
    assert all("AccessDeniedException" in m for m in failed)
    assert all(stand_in.stored(DATABASE, table) is None for table in TABLES)
    again, _ = _ingest(s3, tmp_path, [], rows=5, month=2)
    assert again.status == "ingested"
    assert all(stand_in.stored(DATABASE, table)["Role"] == ROLE for table in TABLES)


def test_a_glue_without_the_api_is_a_reported_failure_too(aws, tmp_path):
    """Glue 5.0's own botocore (1.34.131) has no CreateColumnStatisticsTaskSettings: a client without the
    operation fails each table with AttributeError, reported, not raised (the job installs a newer boto3)."""

    class OldGlue:
        class exceptions:  # noqa: N801 - botocore's attribute name
            EntityNotFoundException = type("EntityNotFoundException", (Exception,), {})

    messages: list[str] = []
    outcomes = lake_statistics.ensure_for_lake(CATALOG, TABLES, WANTED, messages.append, client=OldGlue())
    assert outcomes == dict.fromkeys(TABLES, lake_statistics.FAILED)
    assert all("get_column_statistics_task_settings" in m for m in messages)


def test_nothing_happens_on_the_local_catalog(tmp_path, monkeypatch):
    """A SQLite catalog (a laptop): no Glue client is made, whatever the job was given."""

    def no_glue():
        raise AssertionError("a Glue client was made for a local lake")

    monkeypatch.setattr(lake_statistics, "glue_client", no_glue)
    path = write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", [yellow_row(i) for i in range(10)])
    messages: list[str] = []
    result = job.ingest_inspected(
        raw_files.inspect_file(str(path)), str(tmp_path / "lake"), str(tmp_path / "q"), column_statistics=WANTED,
        progress=messages.append,
    )  # fmt: skip
    assert result.status == "ingested", result.problem
    assert not [m for m in messages if m.startswith("column statistics")]
    assert lake_statistics.ensure_for_lake(f"sqlite:{tmp_path}/c.sqlite", TABLES, WANTED) == {}
    assert lake_statistics.ensure_for_lake(CATALOG, TABLES, None) == {}


def test_the_glue_entry_reads_the_statistics_arguments():
    base = ["script.py", "--inputs", "s3://b/a.parquet", "--lake_root", "s3://l/", "--quarantine_root", "s3://q/"]
    stats = ["--column_stats_role", ROLE, "--column_stats_schedule", SCHEDULE,
             "--column_stats_security_configuration", "tlc-dev-column-statistics"]  # fmt: skip
    assert lake_statistics.from_arguments(glue_entry.resolve_arguments(base + stats)) == WANTED
    assert lake_statistics.from_arguments(glue_entry.resolve_arguments(base)) is None
    assert lake_statistics.from_arguments(glue_entry.resolve_arguments(base + stats[:2])) is None  # no schedule
