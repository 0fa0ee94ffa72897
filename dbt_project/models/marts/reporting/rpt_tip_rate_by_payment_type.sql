-- Tip rate = tips / fares, per month and payment type. TLC records card tips only, so cash shows
-- (almost) no tips: read the cash row as "unknown", not as "cash riders do not tip".
with

-- Rolled up from int_taxi_zone_payment_months_aggregated (incremental by month), not from the fact.
zone_payment_months as (

    select * from {{ ref('int_taxi_zone_payment_months_aggregated') }}

),

payment_types as (

    select * from {{ ref('dim_payment_type') }}

),

monthly as (

    select
        pickup_month,
        payment_type_id,
        sum(trips) as trips,
        sum(tipped_trips) as tipped_trips,
        sum(fare_amount) as fare_amount,
        sum(tip_amount) as tip_amount
    from zone_payment_months
    group by 1, 2

),

joined as (

    select
        monthly.pickup_month,
        monthly.payment_type_id,
        payment_types.payment_type_name,
        monthly.trips,
        monthly.tipped_trips,
        monthly.fare_amount,
        monthly.tip_amount,
        -- null rather than a division by zero when a month's fares net to zero (e.g. only no-charge trips)
        monthly.tip_amount / nullif(monthly.fare_amount, 0) as tip_rate,
        cast(monthly.tipped_trips as numeric(14, 4)) / monthly.trips as tipped_trip_share
    from monthly
    left join payment_types
        on monthly.payment_type_id = payment_types.payment_type_id

),

final as (

    select
        cast(
            {{ generate_surrogate_key(['pickup_month', 'payment_type_id']) }} as varchar(32)
        ) as tip_rate_id,
        cast(pickup_month as date) as pickup_month,
        cast(payment_type_id as integer) as payment_type_id,
        cast(payment_type_name as varchar(64)) as payment_type_name,
        cast(trips as bigint) as trips,
        cast(tipped_trips as bigint) as tipped_trips,
        cast(fare_amount as numeric(14, 2)) as fare_amount,
        cast(tip_amount as numeric(14, 2)) as tip_amount,
        cast(tip_rate as numeric(12, 4)) as tip_rate,
        cast(tipped_trip_share as numeric(12, 4)) as tipped_trip_share
    from joined

)

select * from final
