{#
    Taxi and for-hire trips in one shape, for reports across the four services: the measures both
    facts carry, each under one name. Revenue is each dataset's own definition: the taxis'
    total_amount, the high-volume services' passenger_total_amount (null for fhv, which has no fares);
    fare_amount is the taxi meter fare or the high-volume base passenger fare.

    Args:
        taxi_trips: fact_trips (a relation, or the name of a CTE over it).
        for_hire_trips: fact_fhv_trips (a relation, or the name of a CTE over it).
#}
{% macro service_trips_sql(taxi_trips, for_hire_trips) -%}
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
    from {{ taxi_trips }}

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
    from {{ for_hire_trips }}
{%- endmacro %}
