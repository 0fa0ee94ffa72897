-- FHV and high-volume FHV trips in one relation; `service` tells them apart. Columns are listed by
-- name; the ones only high-volume records carry (license, originating base, request times, miles,
-- amounts, the Y/N flags) are typed nulls for fhv, and fhv's affiliated base is null for fhvhv.
{%- set trip_columns = [
    'trip_id', 'service', 'hvfhs_license_num',
    'dispatching_base_num', 'originating_base_num', 'affiliated_base_num',
    'pickup_location_id', 'dropoff_location_id',
    'request_at', 'on_scene_at', 'pickup_at', 'dropoff_at', 'pickup_month',
    'trip_miles', 'trip_seconds',
    'is_shared_request', 'is_shared_match', 'is_access_a_ride', 'is_wav_request', 'is_wav_match',
    'base_passenger_fare_amount', 'tolls_amount', 'black_car_fund_amount', 'sales_tax_amount',
    'congestion_surcharge_amount', 'airport_fee_amount', 'cbd_congestion_fee_amount', 'tip_amount',
    'driver_pay_amount',
    'source_file', 'source_row', 'partition_year', 'partition_month',
] %}
{%- set fhvhv_only = {
    'hvfhs_license_num': 'varchar(65535)', 'originating_base_num': 'varchar(65535)',
    'request_at': 'timestamp', 'on_scene_at': 'timestamp',
    'trip_miles': 'numeric(12, 2)', 'trip_seconds': 'bigint',
    'is_shared_match': 'boolean', 'is_access_a_ride': 'boolean', 'is_wav_request': 'boolean',
    'is_wav_match': 'boolean',
    'base_passenger_fare_amount': 'numeric(12, 2)', 'tolls_amount': 'numeric(12, 2)',
    'black_car_fund_amount': 'numeric(12, 2)', 'sales_tax_amount': 'numeric(12, 2)',
    'congestion_surcharge_amount': 'numeric(12, 2)', 'airport_fee_amount': 'numeric(12, 2)',
    'cbd_congestion_fee_amount': 'numeric(12, 2)', 'tip_amount': 'numeric(12, 2)',
    'driver_pay_amount': 'numeric(12, 2)',
} %}
{%- set fhv_only = {'affiliated_base_num': 'varchar(65535)'} %}
{%- set fhv_select, fhvhv_select = [], [] %}
{%- for column in trip_columns %}
    {%- do fhv_select.append(
        'cast(null as ' ~ fhvhv_only[column] ~ ') as ' ~ column if column in fhvhv_only else column
    ) %}
    {%- do fhvhv_select.append(
        'cast(null as ' ~ fhv_only[column] ~ ') as ' ~ column if column in fhv_only else column
    ) %}
{%- endfor %}

with

fhv_trips as (

    select * from {{ ref('stg_tlc__fhv_trips') }}

),

fhvhv_trips as (

    select * from {{ ref('stg_tlc__fhvhv_trips') }}

),

unioned as (

    select
        {{ fhv_select | join(',\n        ') }}
    from fhv_trips

    union all

    select
        {{ fhvhv_select | join(',\n        ') }}
    from fhvhv_trips

)

select * from unioned
