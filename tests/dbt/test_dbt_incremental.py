"""fact_trips, built month by month as partitions are (re)loaded, equals a full refresh.

The raw fixture goes into its own schema (`raw_incremental`, selected with the `raw_schema` var) and the
models into `incremental` / `incremental_full`, so this module never disturbs the other tests' build.
"""

from __future__ import annotations

import re

import pytest

from tests.dbt.incremental import IncrementalSchemas, checksum, rows_inserted

RAW = "raw_incremental"
INCREMENTAL = "incremental"
FULL_REFRESH = "incremental_full"
SCHEMAS = IncrementalSchemas(RAW, INCREMENTAL, FULL_REFRESH)
RUN_FACT = ("build", "--select", "+fact_trips", "--resource-type", "model", "--resource-type", "seed")
_vars = SCHEMAS.vars


def _rows_inserted(result) -> int:
    return rows_inserted(result, "model.tlc_warehouse.fact_trips")


def _checksum(sql, schema: str) -> tuple[int, str]:
    return checksum(sql, f"{schema}.fact_trips", "trip_id")


def _log_load(sql, service: str, month: int, loaded_at: str) -> None:
    SCHEMAS.log_load(sql, service, 2024, month, loaded_at)


def _month_rows(sql, month: int) -> int:
    return sql(
        f"select (select count(*) from {RAW}.yellow_trips where month = %s)"
        f" + (select count(*) from {RAW}.green_trips where month = %s)",
        (month, month),
    )[0][0]


@pytest.fixture(scope="module")
def raw_months(load_raw_fixture, sql):
    """The fixture's trips in schema raw_incremental with an empty load log: nothing is loaded yet."""
    SCHEMAS.reset(load_raw_fixture, sql)


def test_incremental_runs_equal_a_full_refresh(raw_months, dbt, sql):
    # January arrives: the first run creates the table from it
    for service in ("yellow", "green"):
        _log_load(sql, service, 1, "2024-03-05 06:00+00")
    dbt(*RUN_FACT, *_vars(), schema=INCREMENTAL)
    assert _checksum(sql, INCREMENTAL)[0] == _month_rows(sql, 1)

    # February, then March: each run inserts exactly the new month
    for month, loaded_at in ((2, "2024-04-05 06:00+00"), (3, "2024-05-05 06:00+00")):
        for service in ("yellow", "green"):
            _log_load(sql, service, month, loaded_at)
        result = dbt("run", "--select", "fact_trips", *_vars(), schema=INCREMENTAL)
        assert _rows_inserted(result) == _month_rows(sql, month)

    # January's yellow file is re-published: some trips gone, a fare corrected. Only January is rebuilt.
    sql(f"delete from {RAW}.yellow_trips where month = 1 and source_row % 10 = 0")
    sql(f"update {RAW}.yellow_trips set fare_amount = fare_amount + 1 where month = 1 and source_row % 7 = 0")
    _log_load(sql, "yellow", 1, "2024-06-01 09:00+00")
    result = dbt("run", "--select", "fact_trips", *_vars(), schema=INCREMENTAL)
    assert _rows_inserted(result) == _month_rows(sql, 1)

    # Nothing new: a run rebuilds no month; with lookback_months=1 it rebuilds the newest month only.
    result = dbt("run", "--select", "fact_trips", *_vars(lookback_months=1), schema=INCREMENTAL)
    assert _rows_inserted(result) == _month_rows(sql, 3)

    # A fix in the model: var rebuild_months rebuilds the months it names although none was reloaded.
    result = dbt("run", "--select", "fact_trips", *_vars(rebuild_months=["2024-02"]), schema=INCREMENTAL)
    assert _rows_inserted(result) == _month_rows(sql, 2)

    dbt(*RUN_FACT, "--full-refresh", *_vars(), schema=FULL_REFRESH)

    incremental, full = _checksum(sql, INCREMENTAL), _checksum(sql, FULL_REFRESH)
    assert incremental == full
    assert incremental[0] == sum(_month_rows(sql, m) for m in (1, 2, 3))


def test_run_without_new_loads_rebuilds_nothing(raw_months, dbt, sql):
    before = _checksum(sql, INCREMENTAL)
    result = dbt("run", "--select", "fact_trips", *_vars(), schema=INCREMENTAL)
    assert _rows_inserted(result) == 0
    assert _checksum(sql, INCREMENTAL) == before


def test_for_hire_loads_rebuild_nothing(raw_months, dbt, sql):
    # fhv and fhvhv partitions of January and March are loaded: months fact_trips holds, but not its
    # datasets (fact_fhv_trips holds them), so nothing here is rebuilt, now or on the next run.
    for service in ("fhv", "fhvhv"):
        for month in (1, 3):
            _log_load(sql, service, month, "2024-06-15 09:00+00")
    before = _checksum(sql, INCREMENTAL)
    for _ in range(2):
        result = dbt("run", "--select", "fact_trips", *_vars(), schema=INCREMENTAL)
        assert _rows_inserted(result) == 0
    assert _checksum(sql, INCREMENTAL) == before


def test_reload_that_leaves_a_month_without_trips_equals_a_full_refresh(raw_months, dbt, sql):
    # issue #4: February is re-published and every row is quarantined, for both services. No new row
    # carries February, so a delete keyed on the new rows' months kept its old trips.
    assert _checksum(sql, INCREMENTAL)[0] > 0
    sql(f"delete from {RAW}.yellow_trips where month = 2")
    sql(f"delete from {RAW}.green_trips where month = 2")
    for service in ("yellow", "green"):
        _log_load(sql, service, 2, "2024-07-01 09:00+00")
    result = dbt("run", "--select", "fact_trips", *_vars(), schema=INCREMENTAL)
    assert _rows_inserted(result) == 0
    assert sql(f"select count(*) from {INCREMENTAL}.fact_trips where pickup_month = '2024-02-01'") == [(0,)]

    dbt(*RUN_FACT, "--full-refresh", *_vars(), schema=FULL_REFRESH)
    incremental, full = _checksum(sql, INCREMENTAL), _checksum(sql, FULL_REFRESH)
    assert incremental == full
    assert incremental[0] == _month_rows(sql, 1) + _month_rows(sql, 3)

    # the emptied month has no fact rows to stamp its load, so it is re-resolved on every run: harmless
    result = dbt("run", "--select", "fact_trips", *_vars(), schema=INCREMENTAL)
    assert _rows_inserted(result) == 0
    assert _checksum(sql, INCREMENTAL) == full


def test_incremental_scans_only_the_rebuilt_months_raw_partitions(raw_months, dbt, sql):
    """Issue #4: the rebuilt months reach the raw scans as literals on the partition columns, so
    Postgres prunes every other month's child table at plan time (Spectrum prunes the same way)."""
    _log_load(sql, "yellow", 3, "2024-08-01 09:00+00")
    dbt("compile", "--select", "fact_trips", *_vars(), schema=INCREMENTAL)
    fact_sql = (dbt.target_path(INCREMENTAL) / "compiled/tlc_warehouse/models/marts/core/fact_trips.sql").read_text()
    # March (yellow reloaded) and February (emptied by the previous test: no rows stamp its load)
    assert "where partition_year = 2024 and partition_month = 2" in fact_sql
    assert "where partition_year = 2024 and partition_month = 3" in fact_sql
    assert not re.search(r"partition_month = 1\b", fact_sql), "January was not reloaded"

    plan = "\n".join(row[0] for row in sql(f"explain {fact_sql}"))
    scanned = set(re.findall(r" on (\w+_trips_2024_\d\d)", plan))
    assert scanned == {f"{s}_trips_2024_{m:02d}" for s in ("yellow", "green") for m in (2, 3)}, plan
