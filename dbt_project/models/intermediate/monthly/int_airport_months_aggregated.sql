{#
    Taxi trips that start or end at an airport zone (JFK, LaGuardia, Newark), per service, pickup month,
    airport and direction: the input of rpt_airport_trips. A trip between two airports counts once from
    its pickup airport and once to its drop-off airport. Averages are kept as sums and counts.

    Incremental by month like the facts (see int_taxi_days_aggregated): a run aggregates only the months
    fact_trips rebuilt. Which zones are airports is read from dim_location when a month is built.
#}
{%- set services = ['yellow', 'green'] %}
{%- set months = months_to_rebuild(ref('stg_tlc__partition_loads'), this, services) %}

with
{{- months_to_build_cte(services, months) }}

trips as (

    select * from {{ ref('fact_trips') }}
    {{- where_months_to_build('pickup_month', months) }}

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
        trips.service,
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
        trips.service,
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
        service,
        pickup_month,
        airport_location_id,
        direction,
        count(*) as trips,
        count(trip_distance_miles) as trips_with_distance,
        sum(trip_distance_miles) as trip_distance_miles,
        count(trip_duration_minutes) as trips_with_duration,
        sum(trip_duration_minutes) as trip_duration_minutes,
        sum(airport_fee_amount) as airport_fee_amount,
        sum(total_amount) as total_amount
    from airport_trips
    group by 1, 2, 3, 4

),

{{ stamped_by_partition_builds([ref('fact_trips')]) }}

final as (

    select
        cast({{ generate_surrogate_key([
            'service', 'pickup_month', 'airport_location_id', 'direction',
        ]) }} as varchar(32)) as airport_month_id,
        cast(service as varchar(8)) as service,
        cast(pickup_month as date) as pickup_month,
        cast(airport_location_id as integer) as airport_location_id,
        cast(direction as varchar(16)) as direction,
        cast(trips as bigint) as trips,
        cast(trips_with_distance as bigint) as trips_with_distance,
        cast(trip_distance_miles as numeric(14, 2)) as trip_distance_miles,
        cast(trips_with_duration as bigint) as trips_with_duration,
        cast(trip_duration_minutes as numeric(16, 2)) as trip_duration_minutes,
        cast(airport_fee_amount as numeric(14, 2)) as airport_fee_amount,
        cast(total_amount as numeric(14, 2)) as total_amount,
        cast(partition_loaded_at as timestamp) as _loaded_at
    from stamped

)

select * from final
