-- Trips that start or end at an airport zone (JFK, LaGuardia, Newark), per month, airport and
-- direction. A trip between two airports counts once from its pickup airport and once to its drop-off
-- airport, so sum over one direction to count trips.
with

trips as (

    select * from {{ ref('fact_trips') }}

),

locations as (

    select * from {{ ref('dim_location') }}

),

airports as (

    select * from locations
    where is_airport

),

from_airport as (

    select
        trips.pickup_month,
        trips.pickup_location_id as airport_location_id,
        'from_airport' as direction,
        trips.trip_distance_miles,
        trips.trip_duration_minutes,
        trips.airport_fee_amount,
        trips.total_amount
    from trips
    inner join airports
        on trips.pickup_location_id = airports.location_id

),

to_airport as (

    select
        trips.pickup_month,
        trips.dropoff_location_id as airport_location_id,
        'to_airport' as direction,
        trips.trip_distance_miles,
        trips.trip_duration_minutes,
        trips.airport_fee_amount,
        trips.total_amount
    from trips
    inner join airports
        on trips.dropoff_location_id = airports.location_id

),

airport_trips as (

    select * from from_airport

    union all

    select * from to_airport

),

aggregated as (

    select
        airport_trips.pickup_month,
        airport_trips.airport_location_id,
        airports.zone_name as airport_name,
        airport_trips.direction,
        count(*) as trips,
        avg(airport_trips.trip_distance_miles) as average_trip_distance_miles,
        avg(airport_trips.trip_duration_minutes) as average_trip_duration_minutes,
        sum(airport_trips.airport_fee_amount) as airport_fee_amount,
        sum(airport_trips.total_amount) as total_amount
    from airport_trips
    inner join airports
        on airport_trips.airport_location_id = airports.location_id
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
