-- Trips that start or end at an airport zone (JFK, LaGuardia, Newark), per month, airport and
-- direction. A trip between two airports counts once from its pickup airport and once to its drop-off
-- airport, so sum over one direction to count trips. Rolled up over the taxi services from
-- int_airport_months_aggregated (incremental by month), not from the fact.
with

airport_months as (

    select * from {{ ref('int_airport_months_aggregated') }}

),

locations as (

    select * from {{ ref('dim_location') }}

),

aggregated as (

    select
        airport_months.pickup_month,
        airport_months.airport_location_id,
        locations.zone_name as airport_name,
        airport_months.direction,
        sum(airport_months.trips) as trips,
        sum(airport_months.trip_distance_miles)
        / nullif(sum(airport_months.trips_with_distance), 0) as average_trip_distance_miles,
        sum(airport_months.trip_duration_minutes)
        / nullif(sum(airport_months.trips_with_duration), 0) as average_trip_duration_minutes,
        sum(airport_months.airport_fee_amount) as airport_fee_amount,
        sum(airport_months.total_amount) as total_amount
    from airport_months
    inner join locations
        on airport_months.airport_location_id = locations.location_id
    group by 1, 2, 3, 4

),

final as (

    select
        cast(
            {{ generate_surrogate_key(['pickup_month', 'airport_location_id', 'direction']) }} as varchar(32)
        ) as airport_trips_id,
        cast(pickup_month as date) as pickup_month,
        cast(airport_location_id as integer) as airport_location_id,
        cast(airport_name as varchar(64)) as airport_name,
        cast(direction as varchar(16)) as direction,
        cast(trips as bigint) as trips,
        cast(average_trip_distance_miles as numeric(12, 2)) as average_trip_distance_miles,
        cast(average_trip_duration_minutes as numeric(12, 2)) as average_trip_duration_minutes,
        cast(airport_fee_amount as numeric(14, 2)) as airport_fee_amount,
        cast(total_amount as numeric(14, 2)) as total_amount
    from aggregated

)

select * from final
