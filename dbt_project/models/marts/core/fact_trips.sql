{#
    unique_key: a month is the unit of (re)loading upstream (one lake partition per service and month,
    swapped as a whole). Rebuilding whole months keeps the fact equal to a full refresh even when a
    reload removed or changed trips; a trip-level merge would leave removed trips behind.

    Incremental (README "fact_trips, incrementally"): the months to rebuild are resolved once
    (macros/months_to_rebuild.sql) into a temporary table of the session; they filter the source as
    literals on the lake's partition columns and the custom strategy `rebuild_months` deletes exactly
    them, so a month a reload left without trips is emptied too (dbt's delete+insert only deleted
    months present in the new rows; dbt's microbatch picks months by the clock, not by the load log:
    see the README).

    trip_id has no primary-key constraint, on purpose: its uniqueness is guaranteed upstream (trip_key is
    a 128-bit hash of the trip's values; the ingestion quarantines duplicates) and checked by the unique
    and not_null tests of every `dbt build`; not_null stays an enforced constraint. On Postgres the
    constraint's unique btree over random hash keys was the one cost of an incremental run that grew
    with history: a month's inserts land all over an index larger than shared_buffers (BENCHMARKS.md,
    "What we tried (dbt)": inserting 200k rows into 12 months took 3.3 s with it, 0.6 s without). On
    Redshift a primary key is informational only. Nothing here looks trips up by trip_id.

    Redshift: every dimension is DISTSTYLE ALL, so joins from the fact never move rows, and nothing joins
    another large table on trip_id: a distribution key would buy no co-location and only risk skew, so
    EVEN. Queries filter on day ranges and months arrive in order, so a sort on the pickup time stays
    nearly clean, and pickup_month's zone maps let the month delete skip blocks.

    Which load each (service, month) was built from is the fact's build stamps (macros/partition_builds.sql:
    a table beside the fact, one row per partition, written by the post-hook in the model's
    transaction), not a column of every row. Postgres keeps the fact as a table per (service, month)
    (month_tables, macros/month_tables.sql): service and pickup_month are kept once per table, a rebuild
    swaps a month's table, a month filter reads only that month's tables, and no index is needed.
    Redshift ignores month_tables, Postgres the dist and sort keys.
#}
{{
    config(
        materialized='incremental',
        incremental_strategy='rebuild_months',
        unique_key='pickup_month',
        on_schema_change='fail',
        dist='even',
        sort=['pickup_at'],
        sort_type='compound',
        month_tables=true,
        post_hook="{{ record_partition_builds() }}",
    )
}}

{#- The datasets this fact holds: only their loads rebuild its months (fact_fhv_trips holds the others). -#}
{%- set services = ['yellow', 'green'] %}
{#- Resolved once per run (macros/months_to_rebuild.sql): none on a first build or --full-refresh. -#}
{%- set built = partition_builds_sql(this) %}
{%- set months = months_to_rebuild(ref('stg_tlc__partition_loads'), built, services) %}
{%- do capture_partition_builds(this, ref('stg_tlc__partition_loads'), services, months) %}

with

-- Only the months being rebuilt, as literals on the lake's partition columns: the predicate reaches the
-- raw scans through the staging views, so Spectrum reads only those partitions and Postgres plans only
-- those child tables. A filter on the computed pickup_month would read every month on every run.
trips as (

    {{ select_months_to_build(ref('int_trips_unioned'), months) }}

),

partition_loads as (

    select * from {{ ref('stg_tlc__partition_loads') }}

),

dates as (

    select * from {{ ref('dim_date') }}

),

locations as (

    select * from {{ ref('dim_location') }}

),

vendors as (

    select * from {{ ref('dim_vendor') }}

),

payment_types as (

    select * from {{ ref('dim_payment_type') }}

),

rate_codes as (

    select * from {{ ref('dim_rate_code') }}

),

trip_types as (

    select * from {{ ref('dim_trip_type') }}

),

{{ partition_load_ctes('partition_loads', services, months, built) }}

trips_to_build as (

    select trips.*
    {{ from_loaded_partitions('trips', months) }}

),

-- Left joins plus coalesce to the unknown member: a code the reference data lacks never drops a trip.
joined as (

    select
        ---------- ids
        trips_to_build.trip_id,
        trips_to_build.service,
        coalesce(dates.date_key, {{ unknown_member_id() }}) as pickup_date_key,
        coalesce(pickup_locations.location_id, {{ unknown_member_id() }}) as pickup_location_id,
        coalesce(dropoff_locations.location_id, {{ unknown_member_id() }}) as dropoff_location_id,
        coalesce(vendors.vendor_id, {{ unknown_member_id() }}) as vendor_id,
        coalesce(payment_types.payment_type_id, {{ unknown_member_id() }}) as payment_type_id,
        coalesce(rate_codes.rate_code_id, {{ unknown_member_id() }}) as rate_code_id,
        coalesce(trip_types.trip_type_id, {{ unknown_member_id() }}) as trip_type_id,

        ---------- timestamps
        trips_to_build.pickup_at,
        trips_to_build.dropoff_at,
        trips_to_build.pickup_month,

        ---------- trip
        trips_to_build.passenger_count,
        trips_to_build.trip_distance_miles,
        round(
            {{ timestamp_diff_seconds('trips_to_build.pickup_at', 'trips_to_build.dropoff_at') }} / 60.0, 2
        ) as trip_duration_minutes,
        trips_to_build.is_store_and_forward,

        ---------- amounts
        trips_to_build.fare_amount,
        trips_to_build.extra_amount,
        trips_to_build.mta_tax_amount,
        trips_to_build.tip_amount,
        trips_to_build.tolls_amount,
        trips_to_build.improvement_surcharge_amount,
        trips_to_build.congestion_surcharge_amount,
        trips_to_build.airport_fee_amount,
        trips_to_build.cbd_congestion_fee_amount,
        trips_to_build.ehail_fee_amount,
        trips_to_build.total_amount,

        ---------- lineage
        trips_to_build.source_row

    from trips_to_build
    left join dates
        on cast(trips_to_build.pickup_at as date) = dates.date_day
    left join locations as pickup_locations
        on trips_to_build.pickup_location_id = pickup_locations.location_id
    left join locations as dropoff_locations
        on trips_to_build.dropoff_location_id = dropoff_locations.location_id
    left join vendors
        on trips_to_build.vendor_id = vendors.vendor_id
    left join payment_types
        on trips_to_build.payment_type_id = payment_types.payment_type_id
    left join rate_codes
        on trips_to_build.rate_code_id = rate_codes.rate_code_id
    left join trip_types
        on trips_to_build.trip_type_id = trip_types.trip_type_id

),

-- Explicit types: the enforced contract (fact_trips.yml) checks them on Postgres and Redshift alike.
final as (

    select
        cast(trip_id as {{ trip_id_type() }}) as trip_id,
        cast(service as varchar(8)) as service,
        cast(pickup_date_key as integer) as pickup_date_key,
        cast(pickup_location_id as smallint) as pickup_location_id,
        cast(dropoff_location_id as smallint) as dropoff_location_id,
        cast(vendor_id as smallint) as vendor_id,
        cast(payment_type_id as smallint) as payment_type_id,
        cast(rate_code_id as smallint) as rate_code_id,
        cast(trip_type_id as smallint) as trip_type_id,
        cast(pickup_at as timestamp) as pickup_at,
        cast(dropoff_at as timestamp) as dropoff_at,
        cast(pickup_month as date) as pickup_month,
        cast(passenger_count as smallint) as passenger_count,
        cast(trip_distance_miles as numeric(12, 2)) as trip_distance_miles,
        cast(trip_duration_minutes as numeric(12, 2)) as trip_duration_minutes,
        cast(is_store_and_forward as boolean) as is_store_and_forward,
        cast(fare_amount as numeric(12, 2)) as fare_amount,
        cast(extra_amount as numeric(12, 2)) as extra_amount,
        cast(mta_tax_amount as numeric(12, 2)) as mta_tax_amount,
        cast(tip_amount as numeric(12, 2)) as tip_amount,
        cast(tolls_amount as numeric(12, 2)) as tolls_amount,
        cast(improvement_surcharge_amount as numeric(12, 2)) as improvement_surcharge_amount,
        cast(congestion_surcharge_amount as numeric(12, 2)) as congestion_surcharge_amount,
        cast(airport_fee_amount as numeric(12, 2)) as airport_fee_amount,
        cast(cbd_congestion_fee_amount as numeric(12, 2)) as cbd_congestion_fee_amount,
        cast(ehail_fee_amount as numeric(12, 2)) as ehail_fee_amount,
        cast(total_amount as numeric(12, 2)) as total_amount,
        cast(source_row as integer) as source_row
    from joined

)

select * from final
