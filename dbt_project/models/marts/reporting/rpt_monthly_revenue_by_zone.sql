-- Rolled up from int_taxi_zone_payment_months_aggregated (incremental by month), not from the fact.
with

zone_payment_months as (

    select * from {{ ref('int_taxi_zone_payment_months_aggregated') }}

),

locations as (

    select * from {{ ref('dim_location') }}

),

monthly as (

    select
        pickup_month,
        pickup_location_id,
        sum(trips) as trips,
        sum(fare_amount) as fare_amount,
        sum(tip_amount) as tip_amount,
        sum(total_amount) as total_amount
    from zone_payment_months
    group by 1, 2

),

joined as (

    select
        monthly.pickup_month,
        monthly.pickup_location_id,
        locations.borough,
        locations.zone_name,
        locations.service_zone,
        monthly.trips,
        monthly.fare_amount,
        monthly.tip_amount,
        monthly.total_amount,
        monthly.total_amount / monthly.trips as average_total_amount
    from monthly
    left join locations
        on monthly.pickup_location_id = locations.location_id

),

final as (

    select
        cast(
            {{ generate_surrogate_key(['pickup_month', 'pickup_location_id']) }} as varchar(32)
        ) as monthly_zone_revenue_id,
        cast(pickup_month as date) as pickup_month,
        cast(pickup_location_id as integer) as pickup_location_id,
        cast(borough as varchar(64)) as borough,
        cast(zone_name as varchar(64)) as zone_name,
        cast(service_zone as varchar(32)) as service_zone,
        cast(trips as bigint) as trips,
        cast(fare_amount as numeric(14, 2)) as fare_amount,
        cast(tip_amount as numeric(14, 2)) as tip_amount,
        cast(total_amount as numeric(14, 2)) as total_amount,
        cast(average_total_amount as numeric(12, 2)) as average_total_amount
    from joined

)

select * from final
