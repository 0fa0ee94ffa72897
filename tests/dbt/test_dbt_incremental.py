"""fact_trips, built month by month as partitions are (re)loaded, equals a full refresh; so do the monthly
aggregates the reports roll up (int_*_aggregated) and the reports themselves, each run rebuilding only
the months fact_trips rebuilt (issue 21: a run's cost follows the new data, not the history).

The raw fixture goes into its own schema (`raw_incremental`, selected with the `raw_schema` var) and the
models into `incremental` / `incremental_full`, so this module never disturbs the other tests' build.
"""

from __future__ import annotations

import re

import pytest

from tests.dbt.incremental import IncrementalSchemas, checksum, month_tables, rows_inserted, rows_rebuilt

RAW = "raw_incremental"
INCREMENTAL = "incremental"
FULL_REFRESH = "incremental_full"
SCHEMAS = IncrementalSchemas(RAW, INCREMENTAL, FULL_REFRESH)
# fact_trips, everything built from it, and what those read besides (fact_fhv_trips for the cross-service ones)
RUN_FACT = ("build", "--select", "@fact_trips", "--resource-type", "model", "--resource-type", "seed")
# (fact_fhv_trips too: the cross-service aggregate reads both facts, and this module loads for-hire months)
DOWNSTREAM = ("run", "--select", "fact_trips+", "fact_fhv_trips+")
# The tables built from fact_trips, with their keys: each equals a full refresh after incremental runs.
BUILT_FROM_FACT = {
    "int_taxi_days_aggregated": "taxi_day_id",
    "int_taxi_zone_payment_months_aggregated": "taxi_zone_payment_month_id",
    "int_zone_months_aggregated": "zone_month_id",
    "int_airport_months_aggregated": "airport_month_id",
    "rpt_daily_revenue": "daily_revenue_id",
    "rpt_monthly_revenue_by_zone": "monthly_zone_revenue_id",
    "rpt_tip_rate_by_payment_type": "tip_rate_id",
    "rpt_airport_trips": "airport_trips_id",
    "rpt_monthly_zone_trips_by_service": "zone_month_service_id",
    "rpt_monthly_zone_revenue_by_service": "zone_revenue_id",
}
# The fact's build stamps (which load each partition was built from), one row per (month, service): a
# month emptied by a reload keeps its stamp, so it is compared with a full refresh's but not emptied.
STAMPS = {"fact_trips_partition_builds": "pickup_month, t.service"}
_vars = SCHEMAS.vars


def _tables(sql) -> dict:
    return month_tables(sql, f"{INCREMENTAL}.fact_trips")


def _checksum(sql, schema: str) -> tuple[int, str]:
    return checksum(sql, f"{schema}.fact_trips", "trip_id")


def _relation(schema: str, table: str) -> str:
    return f"{schema}_intermediate.{table}" if table.startswith("int_") else f"{schema}.{table}"


def _assert_built_from_fact_equal_a_full_refresh(sql) -> None:
    for table, key in {**BUILT_FROM_FACT, **STAMPS}.items():
        incremental = checksum(sql, _relation(INCREMENTAL, table), key)
        assert incremental == checksum(sql, _relation(FULL_REFRESH, table), key), table
        assert incremental[0] > 0, table


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
        was = _tables(sql)
        result = dbt(*DOWNSTREAM, *_vars(), schema=INCREMENTAL)
        assert rows_rebuilt(was, _tables(sql)) == _month_rows(sql, month)

    # January's yellow file is re-published: some trips gone, a fare corrected. Only January is rebuilt.
    sql(f"delete from {RAW}.yellow_trips where month = 1 and source_row % 10 = 0")
    sql(f"update {RAW}.yellow_trips set fare_amount = fare_amount + 1 where month = 1 and source_row % 7 = 0")
    _log_load(sql, "yellow", 1, "2024-06-01 09:00+00")
    was = _tables(sql)
    result = dbt(*DOWNSTREAM, *_vars(), schema=INCREMENTAL)
    assert rows_rebuilt(was, _tables(sql)) == _month_rows(sql, 1)
    # the aggregates rebuild January only: what each inserted is exactly its January rows
    for table in (t for t in BUILT_FROM_FACT if t.startswith("int_")):
        january = sql(f"select count(*) from {_relation(INCREMENTAL, table)} where pickup_month = '2024-01-01'")
        assert rows_inserted(result, f"model.tlc_warehouse.{table}") == january[0][0] > 0, table

    # Nothing new: a run rebuilds no month; with lookback_months=1 it rebuilds the newest month only.
    was = _tables(sql)
    result = dbt("run", "--select", "fact_trips", *_vars(lookback_months=1), schema=INCREMENTAL)
    assert rows_rebuilt(was, _tables(sql)) == _month_rows(sql, 3)

    # A fix in the model: var rebuild_months rebuilds the months it names although none was reloaded.
    was = _tables(sql)
    result = dbt("run", "--select", "fact_trips", *_vars(rebuild_months=["2024-02"]), schema=INCREMENTAL)
    assert rows_rebuilt(was, _tables(sql)) == _month_rows(sql, 2)

    was = _tables(sql)
    result = dbt(*DOWNSTREAM, *_vars(rebuild_months=["2024-02"]), schema=INCREMENTAL)
    assert rows_rebuilt(was, _tables(sql)) == _month_rows(sql, 2)

    dbt(*RUN_FACT, "--full-refresh", *_vars(), schema=FULL_REFRESH)

    incremental, full = _checksum(sql, INCREMENTAL), _checksum(sql, FULL_REFRESH)
    assert incremental == full
    assert incremental[0] == sum(_month_rows(sql, m) for m in (1, 2, 3))
    _assert_built_from_fact_equal_a_full_refresh(sql)


def test_a_facts_month_is_a_table_that_holds_its_service_and_month_once(raw_months, sql):
    """PostgreSQL stores fact_trips as a table per (service, month) (macros/month_tables.sql), built
    incrementally and by --full-refresh alike: a month table's service and pickup_month are in the
    catalog (added after its rows, with a default), equal to its rows' values, and its other columns
    are laid out 8-byte aligned first, variable-length last."""
    for schema in (INCREMENTAL, FULL_REFRESH):
        leaves = sql(
            "select c.oid::regclass::text, pg_get_expr(c.relpartbound, c.oid) from pg_partition_tree(%s) t"
            " join pg_class c on c.oid = t.relid where t.isleaf",
            (f"{schema}.fact_trips",),
        )
        months = sql(f"select count(distinct (service, pickup_month)) from {schema}.fact_trips")[0][0]
        assert len(leaves) == months >= 6, leaves  # a table per (service, month) with trips: 2 services x 3
        for table, bound in leaves:
            kept = dict(
                sql(
                    "select attname, attmissingval::text from pg_attribute where attrelid = %s::regclass"
                    " and attname in ('service', 'pickup_month') and atthasmissing",
                    (table,),
                )
            )
            (values,) = sql(f"select distinct service, pickup_month::text from {table}")
            assert kept == {"service": f"{{{values[0]}}}", "pickup_month": f"{{{values[1]}}}"}, table
            assert bound == f"FOR VALUES IN ('{values[1]}')", table
            layout = [
                (length, align)
                for length, align in sql(
                    "select t.typlen, t.typalign from pg_attribute a join pg_type t on t.oid = a.atttypid"
                    " where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped"
                    " and a.attname not in ('service', 'pickup_month') order by a.attnum",
                    (table,),
                )
            ]
            widths = [{"d": 8, "i": 4, "s": 2, "c": 1}[align] if length > 0 else 0 for length, align in layout]
            assert widths == sorted(widths, reverse=True), (table, layout)


def test_run_without_new_loads_rebuilds_nothing(raw_months, dbt, sql):
    before = _checksum(sql, INCREMENTAL)
    was = _tables(sql)
    result = dbt(*DOWNSTREAM, *_vars(), schema=INCREMENTAL)
    assert rows_rebuilt(was, _tables(sql)) == 0
    for table in (t for t in BUILT_FROM_FACT if t.startswith("int_")):
        assert rows_inserted(result, f"model.tlc_warehouse.{table}") == 0, table
    assert _checksum(sql, INCREMENTAL) == before


def test_for_hire_loads_rebuild_nothing(raw_months, dbt, sql):
    # fhv and fhvhv partitions of January and March are loaded: months fact_trips holds, but not its
    # datasets (fact_fhv_trips holds them), so nothing here is rebuilt, now or on the next run.
    for service in ("fhv", "fhvhv"):
        for month in (1, 3):
            _log_load(sql, service, month, "2024-06-15 09:00+00")
    before = _checksum(sql, INCREMENTAL)
    for _ in range(2):
        was = _tables(sql)
        dbt("run", "--select", "fact_trips", *_vars(), schema=INCREMENTAL)
        assert rows_rebuilt(was, _tables(sql)) == 0
    assert _checksum(sql, INCREMENTAL) == before


def test_reload_that_leaves_a_month_without_trips_equals_a_full_refresh(raw_months, dbt, sql):
    # issue #4: February is re-published and every row is quarantined, for both services. No new row
    # carries February, so a delete keyed on the new rows' months kept its old trips.
    assert _checksum(sql, INCREMENTAL)[0] > 0
    sql(f"delete from {RAW}.yellow_trips where month = 2")
    sql(f"delete from {RAW}.green_trips where month = 2")
    for service in ("yellow", "green"):
        _log_load(sql, service, 2, "2024-07-01 09:00+00")
    was = _tables(sql)
    dbt(*DOWNSTREAM, *_vars(), schema=INCREMENTAL)
    assert rows_rebuilt(was, _tables(sql)) == 0
    assert sql(f"select count(*) from {INCREMENTAL}.fact_trips where pickup_month = '2024-02-01'") == [(0,)]
    for table in BUILT_FROM_FACT:
        month = "date_trunc('month', pickup_date)" if table == "rpt_daily_revenue" else "pickup_month"
        february = f"select count(*) from {_relation(INCREMENTAL, table)} where {month} = '2024-02-01'"
        assert sql(february) == [(0,)], table

    dbt(*RUN_FACT, "--full-refresh", *_vars(), schema=FULL_REFRESH)
    incremental, full = _checksum(sql, INCREMENTAL), _checksum(sql, FULL_REFRESH)
    assert incremental == full
    assert incremental[0] == _month_rows(sql, 1) + _month_rows(sql, 3)
    _assert_built_from_fact_equal_a_full_refresh(sql)

    # the emptied month is stamped like any other (the fact's build stamps): nothing left to rebuild
    was = _tables(sql)
    dbt("run", "--select", "fact_trips", *_vars(), schema=INCREMENTAL)
    assert rows_rebuilt(was, _tables(sql)) == 0
    assert _checksum(sql, INCREMENTAL) == full


def test_a_service_left_without_trips_takes_months_again(raw_months, dbt, sql):
    """Reloads can leave a service without a trip in any month: its table in the fact then holds no
    month table (macros/month_tables.sql). When its trips come back, a --full-refresh and an incremental
    run both build them, and the fact equals a full refresh."""
    green = _green_months(sql)
    sql(f"create table {RAW}.green_kept as select * from {RAW}.green_trips")
    try:
        for day, rebuild in ((2, ("run", "--select", "fact_trips", "--full-refresh")), (4, DOWNSTREAM)):
            sql(f"delete from {RAW}.green_trips")
            for month in green:
                _log_load(sql, "green", month, f"2024-07-0{day} 09:00+00")
            dbt(*DOWNSTREAM, *_vars(), schema=INCREMENTAL)
            assert _green_months(sql, INCREMENTAL) == []

            sql(f"insert into {RAW}.green_trips select * from {RAW}.green_kept")
            for month in green:
                _log_load(sql, "green", month, f"2024-07-0{day + 1} 09:00+00")
            dbt(*rebuild, *_vars(), schema=INCREMENTAL)
            assert _green_months(sql, INCREMENTAL) == green, rebuild
    finally:
        sql(f"drop table {RAW}.green_kept")
    dbt(*RUN_FACT, "--full-refresh", *_vars(), schema=FULL_REFRESH)
    assert _checksum(sql, INCREMENTAL) == _checksum(sql, FULL_REFRESH)
    _assert_built_from_fact_equal_a_full_refresh(sql)


def _green_months(sql, schema: str | None = None) -> list[int]:
    """The months with green trips: in the raw fixture, or in a schema's fact_trips."""
    if schema is None:
        return [m for (m,) in sql(f"select distinct month from {RAW}.green_trips order by 1")]
    query = f"select distinct extract(month from pickup_month)::int from {schema}.fact_trips where service = 'green'"
    return [m for (m,) in sql(query + " order by 1")]


def test_incremental_scans_only_the_rebuilt_months_raw_partitions(raw_months, dbt, sql):
    """Issue #4: the rebuilt months reach the raw scans as literals on the partition columns, so
    Postgres prunes every other month's child table at plan time (Spectrum prunes the same way)."""
    _log_load(sql, "yellow", 3, "2024-08-01 09:00+00")
    dbt("compile", "--select", "fact_trips", *_vars(), schema=INCREMENTAL)
    fact_sql = (dbt.target_path(INCREMENTAL) / "compiled/tlc_warehouse/models/marts/core/fact_trips.sql").read_text()
    # March (yellow reloaded) only: February, emptied by the previous test, is stamped as built
    assert "where partition_year = 2024 and partition_month = 3" in fact_sql
    assert not re.search(r"partition_month = [12]\b", fact_sql), "January and February were not reloaded"

    plan = "\n".join(row[0] for row in sql(f"explain {fact_sql}"))
    scanned = set(re.findall(r" on (\w+_trips_2024_\d\d)", plan))
    assert scanned == {f"{s}_trips_2024_03" for s in ("yellow", "green")}, plan


def test_a_build_tests_the_months_it_rebuilt_and_dbt_test_alone_tests_every_month(raw_months, dbt, sql):
    """Issue 21: a daily `dbt build` runs every test on the months it rebuilt (so its cost follows the new
    data), a test still fails on a bad row of such a month, and `dbt test` on its own (`make
    test-warehouse`) reads the whole history."""
    build = ("build", "--select", "fact_trips", *_vars())
    # a duplicate trip in January, which no later build rebuilds
    sql(
        f"insert into {INCREMENTAL}.fact_trips select * from {INCREMENTAL}.fact_trips"
        " where pickup_month = '2024-01-01' order by trip_id limit 1"
    )
    _log_load(sql, "yellow", 3, "2024-09-01 09:00+00")
    result = dbt(*build, schema=INCREMENTAL)
    compiled = dbt.target_path(INCREMENTAL) / "run/tlc_warehouse/models/marts/core/fact_trips.yml"
    unique_sql = next(compiled.glob("unique_fact_trips_trip_id*.sql")).read_text()
    # March reloaded: only March is tested
    tested = re.search(r"where pickup_month in \((.*?)\)\) dbt_subquery", unique_sql)
    assert tested and "cast('2024-03-01' as date)" in tested.group(1), unique_sql
    assert "2024-01-01" not in unique_sql

    # the whole history: January's duplicate is found
    result = dbt("test", "--select", "fact_trips", *_vars(), schema=INCREMENTAL, check=False)
    assert result.returncode != 0
    assert "unique_fact_trips_trip_id" in result.output and "FAIL 1" in result.output, result.output[-3000:]

    # a duplicate inside the month a build rebuilds fails that build
    sql(f"insert into {RAW}.yellow_trips select * from {RAW}.yellow_trips where month = 3 order by source_row limit 1")
    _log_load(sql, "yellow", 3, "2024-09-02 09:00+00")
    result = dbt(*build, schema=INCREMENTAL, check=False)
    assert result.returncode != 0 and "unique_fact_trips_trip_id" in result.output, result.output[-3000:]
