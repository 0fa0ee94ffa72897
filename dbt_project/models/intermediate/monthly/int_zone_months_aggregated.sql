{#
    Trips per service, pickup month and pickup zone, across all four TLC datasets: the input of
    rpt_monthly_zone_trips_by_service and rpt_monthly_zone_revenue_by_service.

    Taxi and for-hire trips meet here in one shape, under one name per measure both facts carry.
    Revenue is each dataset's own definition: the taxis' total_amount, the high-volume services'
    passenger_total_amount (null for fhv, which has no fares); fare_amount is the taxi meter fare or the
    high-volume base passenger fare. Averages are kept as sums and counts, so the reports divide them.

    Incremental by month like the facts (see int_taxi_days_aggregated): a run aggregates only the months
    the facts rebuilt; ids and measures only, the reports join the zones when they are built.
#}
{%- set services = ['yellow', 'green', 'fhv', 'fhvhv'] %}
{%- set months = months_to_rebuild(ref('stg_tlc__partition_loads'), this, services) %}

with
{{- months_to_build_cte(services, months) }}

taxi_trips as (

    select * from {{ ref('fact_trips') }}
    {{- where_months_to_build('pickup_month', months) }}

),

for_hire_trips as (

    select * from {{ ref('fact_fhv_trips') }}
    {{- where_months_to_build('pickup_month', months) }}

),

trips as (

    select
        service,
        pickup_month,
        pickup_location_id,
        trip_distance_miles as trip_miles,
        trip_duration_minutes,
        fare_amount,
        tip_amount,
        tolls_amount,
        congestion_surcharge_amount,
        airport_fee_amount,
        cbd_congestion_fee_amount,
        total_amount as revenue_amount
    from taxi_trips

    union all

    select
        service,
        pickup_month,
        pickup_location_id,
        trip_miles,
        trip_duration_minutes,
        base_passenger_fare_amount as fare_amount,
        tip_amount,
        tolls_amount,
        congestion_surcharge_amount,
        airport_fee_amount,
        cbd_congestion_fee_amount,
        passenger_total_amount as revenue_amount
    from for_hire_trips

),

aggregated as (

    select
        service,
        pickup_month,
        pickup_location_id,
        count(*) as trips,
        count(trip_miles) as trips_with_miles,
        sum(trip_miles) as trip_miles,
        count(trip_duration_minutes) as trips_with_dropoff,
        sum(trip_duration_minutes) as trip_duration_minutes,
        count(revenue_amount) as trips_with_revenue,
        sum(revenue_amount) as revenue_amount,
        sum(fare_amount) as fare_amount,
        sum(tip_amount) as tip_amount,
        sum(tolls_amount) as tolls_amount,
        sum(congestion_surcharge_amount) as congestion_surcharge_amount,
        sum(airport_fee_amount) as airport_fee_amount,
        sum(cbd_congestion_fee_amount) as cbd_congestion_fee_amount
    from trips
    group by 1, 2, 3

),

{{ stamped_by_partition_builds([ref('fact_trips'), ref('fact_fhv_trips')]) }}

final as (

    select
        cast({{ generate_surrogate_key([
            'service', 'pickup_month', 'pickup_location_id',
        ]) }} as varchar(32)) as zone_month_id,
        cast(service as varchar(8)) as service,
        cast(pickup_month as date) as pickup_month,
        cast(pickup_location_id as integer) as pickup_location_id,
        cast(trips as bigint) as trips,
        cast(trips_with_miles as bigint) as trips_with_miles,
        cast(trip_miles as numeric(14, 2)) as trip_miles,
        cast(trips_with_dropoff as bigint) as trips_with_dropoff,
        cast(trip_duration_minutes as numeric(16, 2)) as trip_duration_minutes,
        cast(trips_with_revenue as bigint) as trips_with_revenue,
        cast(revenue_amount as numeric(14, 2)) as revenue_amount,
        cast(fare_amount as numeric(14, 2)) as fare_amount,
        cast(tip_amount as numeric(14, 2)) as tip_amount,
        cast(tolls_amount as numeric(14, 2)) as tolls_amount,
        cast(congestion_surcharge_amount as numeric(14, 2)) as congestion_surcharge_amount,
        cast(airport_fee_amount as numeric(14, 2)) as airport_fee_amount,
        cast(cbd_congestion_fee_amount as numeric(14, 2)) as cbd_congestion_fee_amount,
        cast(partition_loaded_at as timestamp) as _loaded_at
    from stamped

)

select * from final
