-- Trips per pickup month, pickup zone and service, all four TLC datasets side by side: the taxi fact
-- and the for-hire fact share dim_location's zones, so yellow, green, fhv and fhvhv compare zone by zone.
-- Revenue is each dataset's own definition (int_zone_months_aggregated): null for fhv. Built from that
-- aggregate, which is incremental by month, so a run does not read the facts' history.
with

zone_months as (

    select * from {{ ref('int_zone_months_aggregated') }}

),

locations as (

    select * from {{ ref('dim_location') }}

),

joined as (

    select
        zone_months.pickup_month,
        zone_months.pickup_location_id,
        zone_months.service,
        zone_months.trips,
        zone_months.trips_with_dropoff,
        zone_months.trip_miles,
        zone_months.trip_duration_minutes
        / nullif(zone_months.trips_with_dropoff, 0) as average_trip_duration_minutes,
        zone_months.trips_with_revenue,
        zone_months.revenue_amount,
        locations.borough,
        locations.zone_name,
        locations.service_zone
    from zone_months
    left join locations
        on zone_months.pickup_location_id = locations.location_id

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
