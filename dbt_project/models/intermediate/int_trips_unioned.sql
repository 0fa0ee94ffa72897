-- Yellow and green trips in one relation; `service` tells them apart. Both staging models expose the
-- canonical lake schema, and the columns are listed by name so a column added to one service only
-- fails here instead of shifting the other service's values.
{%- set trip_columns = [
    'trip_id', 'service', 'vendor_id', 'rate_code_id', 'payment_type_id', 'trip_type_id',
    'pickup_location_id', 'dropoff_location_id',
    'pickup_at', 'dropoff_at', 'pickup_month',
    'passenger_count', 'trip_distance_miles', 'is_store_and_forward',
    'fare_amount', 'extra_amount', 'mta_tax_amount', 'tip_amount', 'tolls_amount',
    'improvement_surcharge_amount', 'congestion_surcharge_amount', 'airport_fee_amount',
    'cbd_congestion_fee_amount', 'ehail_fee_amount', 'total_amount',
    'source_file', 'source_row', 'partition_year', 'partition_month',
] %}

with

yellow_trips as (

    select * from {{ ref('stg_tlc__yellow_trips') }}

),

green_trips as (

    select * from {{ ref('stg_tlc__green_trips') }}

),

unioned as (

    select
        {{ trip_columns | join(',\n        ') }}
    from yellow_trips

    union all

    select
        {{ trip_columns | join(',\n        ') }}
    from green_trips

)

select * from unioned
