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
