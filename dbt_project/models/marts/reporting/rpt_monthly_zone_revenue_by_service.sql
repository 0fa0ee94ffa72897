-- Monthly revenue per pickup zone and service, as the DataTalksClub course's dm_monthly_zone_revenue,
-- for every dataset that defines revenue: the taxis' total_amount and the high-volume services'
-- passenger_total_amount (fact_fhv_trips). fhv records carry no fares and are left out, not shown as 0.
-- Components are the charges both kinds of trip share; `fare_amount` is the taxi meter fare or the
-- high-volume base passenger fare. Built from int_zone_months_aggregated, which is incremental by month,
-- so a run does not read the facts' history.
with

zone_months as (

    select * from {{ ref('int_zone_months_aggregated') }}

),

locations as (

    select * from {{ ref('dim_location') }}

),

-- a revenue per dataset that has one: every fhvhv trip, even one whose record lacks the fare
joined as (

    select
        zone_months.pickup_month,
        zone_months.pickup_location_id,
        zone_months.service,
        zone_months.trips,
        zone_months.trips_with_revenue,
        zone_months.revenue_amount,
        zone_months.fare_amount,
        zone_months.tip_amount,
        zone_months.tolls_amount,
        zone_months.congestion_surcharge_amount,
        zone_months.airport_fee_amount,
        zone_months.cbd_congestion_fee_amount,
        zone_months.trip_miles / nullif(zone_months.trips_with_miles, 0) as average_trip_miles,
        locations.borough,
        locations.zone_name,
        locations.service_zone,
        -- per trip that has a revenue: 2019-2020 fhvhv records without fares would dilute it
        zone_months.revenue_amount / nullif(zone_months.trips_with_revenue, 0) as average_revenue_amount
    from zone_months
    left join locations
        on zone_months.pickup_location_id = locations.location_id
    where zone_months.service != 'fhv'

),

final as (

    select
        cast(
            {{ generate_surrogate_key(['pickup_month', 'pickup_location_id', 'service']) }} as varchar(32)
        ) as zone_revenue_id,
        cast(pickup_month as date) as pickup_month,
        cast(pickup_location_id as integer) as pickup_location_id,
        cast(borough as varchar(64)) as borough,
        cast(zone_name as varchar(64)) as zone_name,
        cast(service_zone as varchar(32)) as service_zone,
        cast(service as varchar(8)) as service,
        cast(trips as bigint) as trips,
        cast(trips_with_revenue as bigint) as trips_with_revenue,
        cast(revenue_amount as numeric(14, 2)) as revenue_amount,
        cast(fare_amount as numeric(14, 2)) as fare_amount,
        cast(tip_amount as numeric(14, 2)) as tip_amount,
        cast(tolls_amount as numeric(14, 2)) as tolls_amount,
        cast(congestion_surcharge_amount as numeric(14, 2)) as congestion_surcharge_amount,
        cast(airport_fee_amount as numeric(14, 2)) as airport_fee_amount,
        cast(cbd_congestion_fee_amount as numeric(14, 2)) as cbd_congestion_fee_amount,
        cast(average_revenue_amount as numeric(12, 2)) as average_revenue_amount,
        cast(average_trip_miles as numeric(12, 2)) as average_trip_miles
    from joined

)

select * from final
