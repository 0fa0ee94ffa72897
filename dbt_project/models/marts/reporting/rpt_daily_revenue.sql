-- Built from int_taxi_days_aggregated, which is incremental by month: a run reads only the small
-- aggregate, so its cost does not grow with the fact's history.
with

taxi_days as (

    select * from {{ ref('int_taxi_days_aggregated') }}

),

dates as (

    select * from {{ ref('dim_date') }}

),

daily as (

    select
        pickup_date,
        pickup_date_key,
        service,
        sum(trips) as trips,
        sum(passengers) as passengers,
        sum(trip_distance_miles) as trip_distance_miles,
        sum(fare_amount) as fare_amount,
        sum(tip_amount) as tip_amount,
        sum(total_amount) as total_amount
    from taxi_days
    group by 1, 2, 3

),

joined as (

    select
        daily.service,
        daily.pickup_date,
        dates.day_name,
        dates.is_weekend,
        dates.is_us_federal_holiday,
        daily.trips,
        daily.passengers,
        daily.trip_distance_miles,
        daily.fare_amount,
        daily.tip_amount,
        daily.total_amount,
        daily.total_amount / daily.trips as average_total_amount
    from daily
    left join dates
        on daily.pickup_date_key = dates.date_key

),

final as (

    select
        cast({{ generate_surrogate_key(['pickup_date', 'service']) }} as varchar(32)) as daily_revenue_id,
        cast(pickup_date as date) as pickup_date,
        cast(service as varchar(8)) as service,
        cast(day_name as varchar(16)) as day_name,
        cast(is_weekend as boolean) as is_weekend,
        cast(is_us_federal_holiday as boolean) as is_us_federal_holiday,
        cast(trips as bigint) as trips,
        cast(passengers as bigint) as passengers,
        cast(trip_distance_miles as numeric(14, 2)) as trip_distance_miles,
        cast(fare_amount as numeric(14, 2)) as fare_amount,
        cast(tip_amount as numeric(14, 2)) as tip_amount,
        cast(total_amount as numeric(14, 2)) as total_amount,
        cast(average_total_amount as numeric(12, 2)) as average_total_amount
    from joined

)

select * from final
