-- Trips per pickup month, pickup zone and service, all four TLC datasets side by side: the taxi fact
-- and the for-hire fact share dim_location's zones, so yellow, green, fhv and fhvhv compare zone by zone.
-- Revenue is each dataset's own definition (macro service_trips_sql): null for fhv.
with

taxi_trips as (

    select * from {{ ref('fact_trips') }}

),

for_hire_trips as (

    select * from {{ ref('fact_fhv_trips') }}

),

locations as (

    select * from {{ ref('dim_location') }}

),

trips as (

    {{ service_trips_sql('taxi_trips', 'for_hire_trips') }}

),

monthly as (

    select
        pickup_month,
        pickup_location_id,
        service,
        count(*) as trips,
        count(trip_duration_minutes) as trips_with_dropoff,
        sum(trip_miles) as trip_miles,
        avg(trip_duration_minutes) as average_trip_duration_minutes,
        count(revenue_amount) as trips_with_revenue,
        sum(revenue_amount) as revenue_amount
    from trips
    group by 1, 2, 3

),

joined as (

    select
        monthly.*,
        locations.borough,
        locations.zone_name,
        locations.service_zone
    from monthly
    left join locations
        on monthly.pickup_location_id = locations.location_id

),

final as (

    select
        cast(
            {{ generate_surrogate_key(['pickup_month', 'pickup_location_id', 'service']) }} as varchar(32)
        ) as zone_month_service_id,
        cast(pickup_month as date) as pickup_month,
        cast(pickup_location_id as integer) as pickup_location_id,
        cast(borough as varchar(64)) as borough,
        cast(zone_name as varchar(64)) as zone_name,
        cast(service_zone as varchar(32)) as service_zone,
        cast(service as varchar(8)) as service,
        cast(trips as bigint) as trips,
        cast(trips_with_dropoff as bigint) as trips_with_dropoff,
        cast(trip_miles as numeric(14, 2)) as trip_miles,
        cast(average_trip_duration_minutes as numeric(12, 2)) as average_trip_duration_minutes,
        cast(trips_with_revenue as bigint) as trips_with_revenue,
        cast(revenue_amount as numeric(14, 2)) as revenue_amount
    from joined

)

select * from final
