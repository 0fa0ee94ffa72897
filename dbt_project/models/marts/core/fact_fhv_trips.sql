{#
    For-hire trips at their own grain: one row per fhv or fhvhv trip. Not in fact_trips: these trips
    have no taximeter (no vendor, rate code, payment type or meter amounts); high-volume trips carry app
    fares, driver pay and the base that dispatched them instead. The conformed dim_date and
    dim_location are shared with fact_trips, so zones and days compare across all four services.

    Incremental exactly as fact_trips (README "fact_trips, incrementally"): the months to rebuild are
    resolved once from the load log (loads of fhv and fhvhv only), read as literals on the lake's
    partition columns, and replaced whole by the `rebuild_months` strategy, so a reload that empties a
    month empties it here too and `--full-refresh` gives the same table.

    trip_id has no primary-key constraint, for fact_trips' reason: a unique btree over random hash keys
    makes every month's inserts grow with history. Its uniqueness is guaranteed upstream and tested
    (unique + not_null) on every build, here only: the lake views feeding it leave the test to it.

    The base numbers, widened since a warehouse was built (varchar(16) -> varchar(65535), issue 20), are
    altered in place first (`widen_text_columns`), so that warehouse's next run carries on.

    Redshift: dimensions are DISTSTYLE ALL, nothing joins this table on trip_id: EVEN. Sort on the
    pickup time, as fact_trips. Which load each partition was built from: the fact's build stamps
    (macros/partition_builds.sql), as fact_trips; Postgres: a table per (service, month), as fact_trips.
#}
{{
    config(
        materialized='incremental',
        incremental_strategy='rebuild_months',
        unique_key='pickup_month',
        on_schema_change='fail',
        pre_hook=before_begin('{{ widen_text_columns() }}'),
        dist='even',
        sort=['pickup_at'],
        sort_type='compound',
        month_tables=true,
        post_hook="{{ record_partition_builds() }}",
    )
}}

{#- The datasets this fact holds: only their loads rebuild its months (fact_trips holds the taxis). -#}
{%- set services = ['fhv', 'fhvhv'] %}
{#- Resolved once per run (macros/months_to_rebuild.sql): none on a first build or --full-refresh. -#}
{%- set built = partition_builds_sql(this) %}
{%- set months = months_to_rebuild(ref('stg_tlc__partition_loads'), built, services) %}
{%- do capture_partition_builds(this, ref('stg_tlc__partition_loads'), services, months) %}

with

-- Only the months being rebuilt, as literals on the lake's partition columns (see fact_trips).
trips as (

    {{ select_months_to_build(ref('int_fhv_trips_unioned'), months) }}

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

companies as (

    select * from {{ ref('dim_hvfhs_company') }}

),

bases as (

    select * from {{ ref('dim_base') }}

),

{{ partition_load_ctes('partition_loads', services, months, built) }}

trips_to_build as (

    select trips.*
    {{ from_loaded_partitions('trips', months) }}

),

-- Left joins plus coalesce to the unknown member: a null zone, an unlisted license or a trip naming no
-- base never drops the trip.
joined as (

    select
        ---------- ids
        trips_to_build.trip_id,
        trips_to_build.service,
        coalesce(dates.date_key, {{ unknown_member_id() }}) as pickup_date_key,
        coalesce(pickup_locations.location_id, {{ unknown_member_id() }}) as pickup_location_id,
        coalesce(dropoff_locations.location_id, {{ unknown_member_id() }}) as dropoff_location_id,
        coalesce(companies.hvfhs_license_num, '{{ unknown_member_id() }}') as hvfhs_license_num,
        coalesce(dispatching_bases.base_num, '{{ unknown_member_id() }}') as dispatching_base_num,
        coalesce(originating_bases.base_num, '{{ unknown_member_id() }}') as originating_base_num,
        coalesce(affiliated_bases.base_num, '{{ unknown_member_id() }}') as affiliated_base_num,

        ---------- timestamps
        trips_to_build.request_at,
        trips_to_build.on_scene_at,
        trips_to_build.pickup_at,
        trips_to_build.dropoff_at,
        trips_to_build.pickup_month,

        ---------- trip
        trips_to_build.trip_miles,
        trips_to_build.trip_seconds,
        round(
            {{ timestamp_diff_seconds('trips_to_build.pickup_at', 'trips_to_build.dropoff_at') }} / 60.0, 2
        ) as trip_duration_minutes,
        trips_to_build.is_shared_request,
        trips_to_build.is_shared_match,
        trips_to_build.is_access_a_ride,
        trips_to_build.is_wav_request,
        trips_to_build.is_wav_match,

        ---------- amounts
        trips_to_build.base_passenger_fare_amount,
        trips_to_build.tolls_amount,
        trips_to_build.black_car_fund_amount,
        trips_to_build.sales_tax_amount,
        trips_to_build.congestion_surcharge_amount,
        trips_to_build.airport_fee_amount,
        trips_to_build.cbd_congestion_fee_amount,
        trips_to_build.tip_amount,
        -- What the passenger paid, the for-hire counterpart of a taxi's total_amount: every charge TLC
        -- records, each missing one as 0; null when the record has no fare at all (fhv, and
        -- high-volume records of the 2019-2020 CSV layout).
        case
            when trips_to_build.base_passenger_fare_amount is not null
                then
                    trips_to_build.base_passenger_fare_amount
                    + coalesce(trips_to_build.tolls_amount, 0)
                    + coalesce(trips_to_build.black_car_fund_amount, 0)
                    + coalesce(trips_to_build.sales_tax_amount, 0)
                    + coalesce(trips_to_build.congestion_surcharge_amount, 0)
                    + coalesce(trips_to_build.airport_fee_amount, 0)
                    + coalesce(trips_to_build.cbd_congestion_fee_amount, 0)
                    + coalesce(trips_to_build.tip_amount, 0)
        end as passenger_total_amount,
        trips_to_build.driver_pay_amount,

        ---------- lineage
        trips_to_build.source_row

    from trips_to_build
    left join dates
        on cast(trips_to_build.pickup_at as date) = dates.date_day
    left join locations as pickup_locations
        on trips_to_build.pickup_location_id = pickup_locations.location_id
    left join locations as dropoff_locations
        on trips_to_build.dropoff_location_id = dropoff_locations.location_id
    left join companies
        on trips_to_build.hvfhs_license_num = companies.hvfhs_license_num
    left join bases as dispatching_bases
        on trips_to_build.dispatching_base_num = dispatching_bases.base_num
    left join bases as originating_bases
        on trips_to_build.originating_base_num = originating_bases.base_num
    left join bases as affiliated_bases
        on trips_to_build.affiliated_base_num = affiliated_bases.base_num

),

-- Explicit types: the enforced contract (fact_fhv_trips.yml) checks them on Postgres and Redshift alike.
final as (

    select
        cast(trip_id as {{ trip_id_type() }}) as trip_id,
        cast(service as varchar(8)) as service,
        cast(pickup_date_key as integer) as pickup_date_key,
        cast(pickup_location_id as smallint) as pickup_location_id,
        cast(dropoff_location_id as smallint) as dropoff_location_id,
        cast(hvfhs_license_num as varchar(16)) as hvfhs_license_num,
        cast(dispatching_base_num as varchar(65535)) as dispatching_base_num,
        cast(originating_base_num as varchar(65535)) as originating_base_num,
        cast(affiliated_base_num as varchar(65535)) as affiliated_base_num,
        cast(request_at as timestamp) as request_at,
        cast(on_scene_at as timestamp) as on_scene_at,
        cast(pickup_at as timestamp) as pickup_at,
        cast(dropoff_at as timestamp) as dropoff_at,
        cast(pickup_month as date) as pickup_month,
        cast(trip_miles as numeric(12, 2)) as trip_miles,
        cast(trip_seconds as bigint) as trip_seconds,
        cast(trip_duration_minutes as numeric(12, 2)) as trip_duration_minutes,
        cast(is_shared_request as boolean) as is_shared_request,
        cast(is_shared_match as boolean) as is_shared_match,
        cast(is_access_a_ride as boolean) as is_access_a_ride,
        cast(is_wav_request as boolean) as is_wav_request,
        cast(is_wav_match as boolean) as is_wav_match,
        cast(base_passenger_fare_amount as numeric(12, 2)) as base_passenger_fare_amount,
        cast(tolls_amount as numeric(12, 2)) as tolls_amount,
        cast(black_car_fund_amount as numeric(12, 2)) as black_car_fund_amount,
        cast(sales_tax_amount as numeric(12, 2)) as sales_tax_amount,
        cast(congestion_surcharge_amount as numeric(12, 2)) as congestion_surcharge_amount,
        cast(airport_fee_amount as numeric(12, 2)) as airport_fee_amount,
        cast(cbd_congestion_fee_amount as numeric(12, 2)) as cbd_congestion_fee_amount,
        cast(tip_amount as numeric(12, 2)) as tip_amount,
        cast(passenger_total_amount as numeric(12, 2)) as passenger_total_amount,
        cast(driver_pay_amount as numeric(12, 2)) as driver_pay_amount,
        cast(source_row as integer) as source_row
    from joined

)

select * from final
