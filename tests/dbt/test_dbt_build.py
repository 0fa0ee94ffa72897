"""`dbt build` on the embedded PostgreSQL with the raw fixture: every node passes and no trip is lost."""

from __future__ import annotations


def test_dbt_build_passes(built_warehouse):
    statuses = built_warehouse.statuses()
    assert statuses, "dbt build ran nothing"
    failed = {uid: s for uid, s in statuses.items() if s not in ("success", "pass")}
    assert not failed, failed


def test_fact_trips_keeps_every_raw_trip(built_warehouse, sql):
    (raw,) = sql("select (select count(*) from raw.yellow_trips) + (select count(*) from raw.green_trips)")[0]
    (fact,) = sql("select count(*) from analytics.fact_trips")[0]
    assert fact == raw > 0


def test_unknown_codes_land_on_the_unknown_member(built_warehouse, sql):
    # the fixture's vendor 5, payment type 9 and drop-off zone 0 are not in the reference seeds
    rows = sql(
        """
        select
            count(*) filter (where raw.vendor_id = 5 and fact.vendor_id = -1),
            count(*) filter (where raw.payment_type = 9 and fact.payment_type_id = -1),
            count(*) filter (where raw.dropoff_location_id = 0 and fact.dropoff_location_id = -1),
            count(*) filter (where raw.payment_type is null and fact.payment_type_id = -1)
        from raw.yellow_trips as raw
        inner join analytics.fact_trips as fact on fact.trip_id = raw.trip_key
        """
    )
    assert all(n > 0 for n in rows[0]), rows


def test_fact_fhv_trips_keeps_every_raw_trip(built_warehouse, sql):
    raw = dict(sql("select 'fhv', count(*) from raw.fhv_trips union all select 'fhvhv', count(*) from raw.fhvhv_trips"))
    fact = dict(sql("select service, count(*) from analytics.fact_fhv_trips group by 1"))
    assert fact == raw
    assert raw["fhv"] > 0 and raw["fhvhv"] > 0


def test_for_hire_unknowns_land_on_the_unknown_members(built_warehouse, sql):
    # raw value -> fact key: an unlisted license, null zones, trips naming no base, 2015 rows (no drop-off)
    checks = {
        "license HV0009 -> '-1'": """
            select count(*) filter (where fact.hvfhs_license_num = '-1'), count(*)
            from raw.fhvhv_trips as raw inner join analytics.fact_fhv_trips as fact on fact.trip_id = raw.trip_key
            where raw.hvfhs_license_num = 'HV0009'""",
        "fhvhv null pickup zone -> -1": """
            select count(*) filter (where fact.pickup_location_id = -1), count(*)
            from raw.fhvhv_trips as raw inner join analytics.fact_fhv_trips as fact on fact.trip_id = raw.trip_key
            where raw.pickup_location_id is null""",
        "fhv null pickup zone -> -1": """
            select count(*) filter (where fact.pickup_location_id = -1), count(*)
            from raw.fhv_trips as raw inner join analytics.fact_fhv_trips as fact on fact.trip_id = raw.trip_key
            where raw.pickup_location_id is null""",
        "2015 fhv: no drop-off, drop-off zone -1, known base": """
            select count(*) filter (where fact.dropoff_at is null and fact.dropoff_location_id = -1
                                    and fact.dispatching_base_num = raw.dispatching_base_num), count(*)
            from raw.fhv_trips as raw inner join analytics.fact_fhv_trips as fact on fact.trip_id = raw.trip_key
            where raw.year = 2015""",
        "fhv trips: no company, no originating base": """
            select count(*) filter (where hvfhs_license_num = '-1' and originating_base_num = '-1'), count(*)
            from analytics.fact_fhv_trips where service = 'fhv'""",
    }
    for name, query in checks.items():
        mapped, total = sql(query)[0]
        assert mapped == total > 0, name


def test_dim_base_holds_every_base_the_trips_name(built_warehouse, sql):
    named = {
        row[0]
        for row in sql(
            """
            select dispatching_base_num from raw.fhv_trips
            union select affiliated_base_num from raw.fhv_trips
            union select dispatching_base_num from raw.fhvhv_trips
            union select originating_base_num from raw.fhvhv_trips
            """
        )
        if row[0] is not None
    }
    members = dict(sql("select base_num, hvfhs_license_num from analytics.dim_base where not is_unknown_member"))
    assert set(members) == named
    # affiliation as the data states it: the high-volume bases' licenses, none for the other bases
    assert members["B03404"] == "HV0003" and members["B03406"] == "HV0005" and members["B00013"] == "-1"
    # no fact row falls back to '-1' while its trip names a base
    assert sql(
        """
        select count(*) from raw.fhvhv_trips as raw
        inner join analytics.fact_fhv_trips as fact on fact.trip_id = raw.trip_key
        where fact.dispatching_base_num <> raw.dispatching_base_num
        """
    ) == [(0,)]


def _expected_warnings(sql) -> dict[tuple, int]:
    """The ingestion job's warning rule (ingestion/rules.py `warnings`), applied to the raw layer: a
    non-null value of a coded field that its code table does not list, counted per month."""
    from datetime import date

    from ingestion.contract import DATASETS

    expected = {}
    for dataset in DATASETS:
        for field in dataset.fields:
            if field.codes is None:
                continue
            rows = sql(
                f"""
                select year, month, cast({field.name} as text), count(*) from raw.{dataset.table}
                where {field.name} is not null and cast({field.name} as text) <> all(%s)
                group by 1, 2, 3
                """,
                ([str(value) for value in field.codes.values],),
            )
            for year, month, code, trips in rows:
                expected[(dataset.service, date(year, month, 1), field.name, code)] = trips
    return expected


def test_unknown_codes_are_the_ingestion_warnings(built_warehouse, sql):
    expected = _expected_warnings(sql)
    actual = {
        (service, month, column, code): trips
        for service, month, column, code, trips, key in sql(
            "select service, pickup_month, coded_column, code_value, trips, warning_key"
            " from analytics.rpt_unknown_codes"
        )
        if key == f"{column}={code}"
    }
    assert actual == expected
    # the fixture's shared_match_flag YES is reported whole, never cut to the known Y (issue 20)
    assert {code for (_, _, column, code) in actual if column == "shared_match_flag"} == {"X", "YES"}
    # the fixture's vendor 5, payment type 9, license HV0009 and shared_match_flag X
    assert {(service, column) for service, _, column, _ in expected} >= {
        ("yellow", "vendor_id"),
        ("yellow", "payment_type"),
        ("fhvhv", "hvfhs_license_num"),
        ("fhvhv", "shared_match_flag"),
    }


def test_code_counts_cover_every_coded_column_of_the_contract(built_warehouse, sql):
    from ingestion.contract import DATASETS

    contract = {(d.service, f.name) for d in DATASETS for f in d.fields if f.codes is not None}
    counted = set(sql("select distinct service, coded_column from analytics.rpt_code_counts"))
    assert counted == contract
    # every trip is counted once per coded column of its dataset
    per_column = sql(
        """
        select service, pickup_month, coded_column, sum(trips) from analytics.rpt_code_counts group by 1, 2, 3
        """
    )
    trips = {
        (service, month): n
        for service, month, n in sql(
            """
            select service, pickup_month, count(*) from analytics.fact_trips group by 1, 2
            union all
            select service, pickup_month, count(*) from analytics.fact_fhv_trips group by 1, 2
            """
        )
    }
    assert per_column and all(n == trips[(service, month)] for service, month, _, n in per_column)


def test_cross_service_reports_add_up_to_the_facts(built_warehouse, sql):
    facts = {
        service: (trips, revenue)
        for service, trips, revenue in sql(
            """
            select service, count(*), sum(total_amount) from analytics.fact_trips group by 1
            union all
            select service, count(*), sum(passenger_total_amount) from analytics.fact_fhv_trips group by 1
            """
        )
    }
    assert set(facts) == {"yellow", "green", "fhv", "fhvhv"}
    by_zone = {
        service: (trips, revenue)
        for service, trips, revenue in sql(
            "select service, sum(trips), sum(revenue_amount) from analytics.rpt_monthly_zone_trips_by_service"
            " group by 1"
        )
    }
    assert by_zone == facts
    assert facts["fhv"][1] is None, "fhv records no fares: no revenue"
    revenue = {
        service: (trips, revenue)
        for service, trips, revenue in sql(
            "select service, sum(trips), sum(revenue_amount) from analytics.rpt_monthly_zone_revenue_by_service"
            " group by 1"
        )
    }
    assert revenue == {service: facts[service] for service in ("yellow", "green", "fhvhv")}


def test_a_partition_without_its_load_log_row_fails_the_build(load_raw_fixture, dbt, sql):
    # the facts build only the months the load log knows: fhv 2015-01 without its row would be left out
    load_raw_fixture("raw_unlogged")
    sql("delete from raw_unlogged.partition_loads where service = 'fhv' and year = 2015")
    selected = ("--select", "+int_trips_unioned", "+int_fhv_trips_unioned", "stg_tlc__partition_loads")
    result = dbt("build", *selected, "--vars", '{"raw_schema": "raw_unlogged"}', schema="unlogged", check=False)
    assert result.returncode == 1
    statuses = {
        uid.split(".")[2]: status
        for uid, status in result.statuses().items()
        if uid.startswith("test.") and "every_partition_has_a_load" in uid
    }
    assert statuses == {
        "every_partition_has_a_load_int_fhv_trips_unioned_ref_stg_tlc__partition_loads_": "fail",
        "every_partition_has_a_load_int_trips_unioned_ref_stg_tlc__partition_loads_": "pass",
    }, result.output[-3000:]


def test_a_code_column_an_older_warehouse_holds_narrower_is_widened_by_the_next_run(built_warehouse, dbt, sql):
    # a warehouse built before codes were typed whole (issue 20) holds varchar(16): its next incremental
    # run widens the columns in place (pre-hook widen_text_columns) instead of stopping at the schema check
    # (and so do the base numbers, widened the same way)
    narrowed = {
        ("analytics", "rpt_code_counts", "code_value"),
        ("analytics_intermediate", "int_base_months_aggregated", "hvfhs_license_num"),
        ("analytics_intermediate", "int_base_months_aggregated", "base_num"),
        ("analytics", "fact_fhv_trips", "dispatching_base_num"),
        ("analytics", "fact_fhv_trips", "originating_base_num"),
        ("analytics", "fact_fhv_trips", "affiliated_base_num"),
    }
    for schema, table, column in narrowed:
        sql(f"alter table {schema}.{table} alter column {column} type varchar(16)")
    result = dbt("run", "--select", "rpt_code_counts", "int_base_months_aggregated", "fact_fhv_trips", check=False)
    assert result.returncode == 0, result.output[-3000:]
    keys = ", ".join(f"('{s}', '{t}', '{c}')" for s, t, c in sorted(narrowed))
    widths = sql(
        "select table_schema, table_name, column_name, character_maximum_length from information_schema.columns"
        f" where (table_schema, table_name, column_name) in ({keys})"
    )
    assert {(s, t, c): n for s, t, c, n in widths} == {key: 65535 for key in narrowed}
