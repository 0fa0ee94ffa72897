"""fact_fhv_trips, and the monthly aggregates over the lake (int_base_months_aggregated, rpt_code_counts),
built month by month as fhv and fhvhv partitions are (re)loaded, equal a full refresh.

The same guarantees as fact_trips (tests/dbt/test_dbt_incremental.py) through the same macros: the
months come from the load log (only the for-hire datasets' loads count), reach the raw scans as
partition literals, and are replaced whole, so a reload that empties a month empties it here too. The
raw fixture goes into its own schema (`raw_incremental_fhv`) and the models into `incremental_fhv` /
`incremental_fhv_full`, so this module never disturbs the other tests' builds.
"""

from __future__ import annotations

import re

import pytest

from tests.dbt.incremental import IncrementalSchemas, checksum, month_tables, rows_inserted, rows_rebuilt

RAW = "raw_incremental_fhv"
INCREMENTAL = "incremental_fhv"
FULL_REFRESH = "incremental_fhv_full"
SCHEMAS = IncrementalSchemas(RAW, INCREMENTAL, FULL_REFRESH)
SELECT = ("--select", "+fact_fhv_trips", "+rpt_code_counts")
BUILD = ("build", *SELECT, "--resource-type", "model", "--resource-type", "seed")
RUN = ("run", *SELECT)
# Every table these runs build incrementally or from the incremental ones, compared with a full refresh.
COMPARED = {
    "fact_fhv_trips": "trip_id",
    "dim_base": "base_num",
    "rpt_code_counts": "code_count_id",
    "int_base_months_aggregated": "base_month_id",
    # the fact's build stamps: which load each partition was built from, one row per (month, service)
    "fact_fhv_trips_partition_builds": "pickup_month, t.service",
}
_vars = SCHEMAS.vars
_log_load = SCHEMAS.log_load


def _tables(sql) -> dict:
    return month_tables(sql, f"{INCREMENTAL}.fact_fhv_trips")


def _relation(schema: str, table: str) -> str:
    return f"{schema}_intermediate.{table}" if table.startswith("int_") else f"{schema}.{table}"


def _checksum(sql, schema: str, table: str = "fact_fhv_trips") -> tuple[int, str]:
    return checksum(sql, _relation(schema, table), COMPARED[table])


def _month_rows(sql, month: int, year: int = 2024) -> int:
    return sql(
        f"select (select count(*) from {RAW}.fhv_trips where year = %s and month = %s)"
        f" + (select count(*) from {RAW}.fhvhv_trips where year = %s and month = %s)",
        (year, month, year, month),
    )[0][0]


def _assert_equal_to_a_full_refresh(dbt, sql) -> None:
    dbt(*BUILD, "--full-refresh", *_vars(), schema=FULL_REFRESH)
    for table in COMPARED:
        assert _checksum(sql, INCREMENTAL, table) == _checksum(sql, FULL_REFRESH, table), table


@pytest.fixture(scope="module")
def raw_months(load_raw_fixture, sql):
    """The fixture's trips in schema raw_incremental_fhv with an empty load log: nothing is loaded yet."""
    SCHEMAS.reset(load_raw_fixture, sql)


def test_incremental_runs_equal_a_full_refresh(raw_months, dbt, sql):
    # 2015-01 (that year's layout: no drop-off) and 2024-01 arrive: the first run creates the tables
    _log_load(sql, "fhv", 2015, 1, "2024-03-01 06:00+00")
    for service in ("fhv", "fhvhv"):
        _log_load(sql, service, 2024, 1, "2024-03-05 06:00+00")
    dbt(*BUILD, *_vars(), schema=INCREMENTAL)
    assert _checksum(sql, INCREMENTAL)[0] == _month_rows(sql, 1) + _month_rows(sql, 1, year=2015)

    # February, then March: each run inserts exactly the new month. March brings bases never seen
    # before (B03999, B09999): dim_base gains them before the fact joins it, so no trip of them is '-1'.
    for month, loaded_at in ((2, "2024-04-05 06:00+00"), (3, "2024-05-05 06:00+00")):
        for service in ("fhv", "fhvhv"):
            _log_load(sql, service, 2024, month, loaded_at)
        was = _tables(sql)
        dbt(*RUN, *_vars(), schema=INCREMENTAL)
        assert rows_rebuilt(was, _tables(sql)) == _month_rows(sql, month)
    new_bases = sql(
        f"select dispatching_base_num, count(*) from {INCREMENTAL}.fact_fhv_trips"
        " where dispatching_base_num in ('B03999', 'B09999') group by 1 order by 1"
    )
    assert [base for base, _ in new_bases] == ["B03999", "B09999"]
    assert (
        sum(n for _, n in new_bases)
        == sql(
            f"select (select count(*) from {RAW}.fhvhv_trips where dispatching_base_num = 'B03999')"
            f" + (select count(*) from {RAW}.fhv_trips where dispatching_base_num = 'B09999')"
        )[0][0]
    )

    # A taxi month is loaded: not this fact's dataset, so it rebuilds nothing here (fact_trips does)
    _log_load(sql, "yellow", 2024, 1, "2024-06-01 06:00+00")
    was = _tables(sql)
    dbt("run", "--select", "fact_fhv_trips", *_vars(), schema=INCREMENTAL)
    assert rows_rebuilt(was, _tables(sql)) == 0

    # January's fhvhv file is re-published: trips gone, a license TLC does not list, a new base.
    # Only January is rebuilt; the dimension and the aggregates follow.
    sql(f"delete from {RAW}.fhvhv_trips where month = 1 and source_row % 10 = 0")
    sql(f"update {RAW}.fhvhv_trips set hvfhs_license_num = 'HV0009' where month = 1 and source_row % 7 = 0")
    sql(f"update {RAW}.fhvhv_trips set dispatching_base_num = 'B03777' where month = 1 and source_row % 9 = 0")
    _log_load(sql, "fhvhv", 2024, 1, "2024-06-01 09:00+00")
    was = _tables(sql)
    dbt(*RUN, *_vars(), schema=INCREMENTAL)
    assert rows_rebuilt(was, _tables(sql)) == _month_rows(sql, 1)
    assert sql(f"select count(*) from {INCREMENTAL}.dim_base where base_num = 'B03777'") == [(1,)]

    # Nothing new: with lookback_months=1 a run rebuilds the newest month only
    was = _tables(sql)
    dbt("run", "--select", "fact_fhv_trips", *_vars(lookback_months=1), schema=INCREMENTAL)
    assert rows_rebuilt(was, _tables(sql)) == _month_rows(sql, 3)

    # A fix in the model: var rebuild_months rebuilds the months it names although none was reloaded
    was = _tables(sql)
    dbt("run", "--select", "fact_fhv_trips", *_vars(rebuild_months=["2015-01"]), schema=INCREMENTAL)
    assert rows_rebuilt(was, _tables(sql)) == _month_rows(sql, 1, year=2015)

    _assert_equal_to_a_full_refresh(dbt, sql)
    total = sum(_month_rows(sql, m) for m in (1, 2, 3)) + _month_rows(sql, 1, year=2015)
    assert _checksum(sql, INCREMENTAL)[0] == total


def test_run_without_new_loads_rebuilds_nothing(raw_months, dbt, sql):
    before = {table: _checksum(sql, INCREMENTAL, table) for table in COMPARED}
    was = _tables(sql)
    result = dbt(*RUN, *_vars(), schema=INCREMENTAL)
    assert rows_rebuilt(was, _tables(sql)) == 0
    assert rows_inserted(result, "model.tlc_warehouse.int_base_months_aggregated") == 0
    assert {table: _checksum(sql, INCREMENTAL, table) for table in COMPARED} == before


def test_reload_that_leaves_a_month_without_trips_equals_a_full_refresh(raw_months, dbt, sql):
    # February is re-published for both for-hire datasets and every row is quarantined: no new row
    # carries February, and its trips, bases and codes must go anyway.
    assert sql(f"select count(*) from {INCREMENTAL}.fact_fhv_trips where pickup_month = '2024-02-01'")[0][0] > 0
    sql(f"delete from {RAW}.fhv_trips where year = 2024 and month = 2")
    sql(f"delete from {RAW}.fhvhv_trips where year = 2024 and month = 2")
    for service in ("fhv", "fhvhv"):
        _log_load(sql, service, 2024, 2, "2024-07-01 09:00+00")
    was = _tables(sql)
    dbt(*RUN, *_vars(), schema=INCREMENTAL)
    assert rows_rebuilt(was, _tables(sql)) == 0
    for table in ("fact_fhv_trips", "int_base_months_aggregated"):
        assert sql(f"select count(*) from {_relation(INCREMENTAL, table)} where pickup_month = '2024-02-01'") == [
            (0,)
        ], table
    # rpt_code_counts loses February's for-hire codes (it holds every dataset's)
    assert sql(
        f"select count(*) from {INCREMENTAL}.rpt_code_counts"
        " where pickup_month = '2024-02-01' and service in ('fhv', 'fhvhv')"
    ) == [(0,)]

    _assert_equal_to_a_full_refresh(dbt, sql)
    full = _checksum(sql, FULL_REFRESH)
    assert full[0] == _month_rows(sql, 1) + _month_rows(sql, 3) + _month_rows(sql, 1, year=2015)

    # the emptied month is stamped like any other (the fact's build stamps): nothing left to rebuild
    was = _tables(sql)
    dbt(*RUN, *_vars(), schema=INCREMENTAL)
    assert rows_rebuilt(was, _tables(sql)) == 0
    assert _checksum(sql, INCREMENTAL) == full


def test_incremental_scans_only_the_rebuilt_months_raw_partitions(raw_months, dbt, sql):
    """The rebuilt months reach the raw scans as literals on the partition columns, so Postgres prunes
    every other month's child table at plan time (Spectrum prunes the same way)."""
    _log_load(sql, "fhvhv", 2024, 3, "2024-08-01 09:00+00")
    dbt("compile", "--select", "fact_fhv_trips", *_vars(), schema=INCREMENTAL)
    compiled = dbt.target_path(INCREMENTAL) / "compiled/tlc_warehouse/models/marts/core/fact_fhv_trips.sql"
    fact_sql = compiled.read_text()
    # March (fhvhv reloaded) only: February, emptied by the previous test, is stamped as built
    assert "where partition_year = 2024 and partition_month = 3" in fact_sql
    assert not re.search(r"partition_month = [12]\b", fact_sql), "January and February were not reloaded"
    assert "partition_year = 2015" not in fact_sql

    plan = "\n".join(row[0] for row in sql(f"explain {fact_sql}"))
    scanned = set(re.findall(r" on (\w+_trips_\d{4}_\d\d)", plan))
    assert scanned == {f"{s}_trips_2024_03" for s in ("fhv", "fhvhv")}, plan
