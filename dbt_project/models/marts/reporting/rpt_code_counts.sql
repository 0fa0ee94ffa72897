{#
    Trips per service, pickup month, coded column and code, each code marked known, unknown or missing:
    the warehouse's view of the manifests' warnings_by_code (rpt_unknown_codes keeps the unknown ones).
    Codes come from the staging views, as published: the facts keep only the dimension key, and an
    unknown code there is just -1.

    Incremental like the facts (README "fact_trips, incrementally"): the same load-log month resolution
    over all four datasets and the `rebuild_months` strategy, so a run reads only the (re)loaded months'
    partitions (on Spectrum, only the narrow coded columns) and the table equals a full refresh. A view
    would scan every coded column of the whole lake on every query, and its tests on every build. Known
    and missing codes are kept too, so every loaded month has rows and is not re-resolved on each run.

    A code column widened since a warehouse was built (varchar(16) -> varchar(65535)) is altered in
    place first (`widen_text_columns`), so that warehouse's next run carries on.
#}
{{
    config(
        materialized='incremental',
        incremental_strategy='rebuild_months',
        unique_key='pickup_month',
        on_schema_change='fail',
        pre_hook=before_begin('{{ widen_text_columns() }}'),
        dist='even',
        sort=['pickup_month'],
        indexes=[{'columns': ['pickup_month', 'service', '_loaded_at']}],
    )
}}

{%- set services = ['yellow', 'green', 'fhv', 'fhvhv'] %}
{#-
    Each dataset's coded columns: (lake column, as the manifests' warnings_by_code names it; staging
    column). tests/dbt/test_dbt_build.py checks they are the lake contract's coded fields.
-#}
{%- set taxi_codes = [
    ('vendor_id', 'vendor_id'), ('rate_code_id', 'rate_code_id'), ('payment_type', 'payment_type_id'),
    ('store_and_fwd_flag', 'store_and_fwd_flag'), ('trip_type', 'trip_type_id'),
] %}
{%- set coded_columns = {
    'yellow': taxi_codes,
    'green': taxi_codes,
    'fhv': [('sr_flag', 'sr_flag')],
    'fhvhv': [
        ('hvfhs_license_num', 'hvfhs_license_num'), ('shared_request_flag', 'shared_request_flag'),
        ('shared_match_flag', 'shared_match_flag'), ('access_a_ride_flag', 'access_a_ride_flag'),
        ('wav_request_flag', 'wav_request_flag'), ('wav_match_flag', 'wav_match_flag'), ('sr_flag', 'sr_flag'),
    ],
} %}
{%- set months = months_to_rebuild(ref('stg_tlc__partition_loads'), this, services) %}

with

-- Only the months being rebuilt, as literals on the lake's partition columns (see fact_trips).
yellow_trips as (

    {{ select_months_to_build(ref('stg_tlc__yellow_trips'), months) }}

),

green_trips as (

    {{ select_months_to_build(ref('stg_tlc__green_trips'), months) }}

),

fhv_trips as (

    {{ select_months_to_build(ref('stg_tlc__fhv_trips'), months) }}

),

fhvhv_trips as (

    {{ select_months_to_build(ref('stg_tlc__fhvhv_trips'), months) }}

),

partition_loads as (

    select * from {{ ref('stg_tlc__partition_loads') }}

),

known_codes as (

    select * from {{ ref('stg_tlc__known_codes') }}

),

{{ partition_load_ctes('partition_loads', services, months) }}
{%- for service in services %}

-- One pass over the dataset's trips: how many carry each combination of its codes, per month.
{{ service }}_code_combinations as (

    select
        {{ service }}_trips.service,
        {{ service }}_trips.pickup_month,
        {%- for column, staging_column in coded_columns[service] %}
        cast({{ service }}_trips.{{ staging_column }} as varchar(65535)) as {{ column }},
        {%- endfor %}
        latest_loads.loaded_at as partition_loaded_at,
        count(*) as trips
    {{ from_loaded_partitions(service ~ '_trips', months) }}
    group by {{ range(1, coded_columns[service] | length + 4) | join(', ') }}

),
{%- endfor %}

-- One row per month, coded column and combination; a null code is kept (missing).
codes as (
    {%- for service in services %}
    {%- set last_service = loop.last %}
    {%- for column, _ in coded_columns[service] %}

    select
        service,
        pickup_month,
        '{{ column }}' as coded_column,
        {{ column }} as code_value,
        partition_loaded_at,
        trips
    from {{ service }}_code_combinations
    {%- if not (last_service and loop.last) %}

    union all
    {%- endif %}
    {%- endfor %}
    {%- endfor %}

),

aggregated as (

    select
        service,
        pickup_month,
        coded_column,
        code_value,
        partition_loaded_at,
        sum(trips) as trips
    from codes
    group by 1, 2, 3, 4, 5

),

-- known: listed for the dataset's column (the rule the ingestion job applies); unknown: kept by the
-- job, counted in its warnings_by_code, and the dimension's -1 in the facts; missing: null.
classified as (

    select
        aggregated.service,
        aggregated.pickup_month,
        aggregated.coded_column,
        aggregated.code_value,
        known_codes.code_name,
        aggregated.trips,
        aggregated.partition_loaded_at,
        case
            when aggregated.code_value is null then 'missing'
            when known_codes.code_value is null then 'unknown'
            else 'known'
        end as code_status
    from aggregated
    left join known_codes
        on
            aggregated.service = known_codes.service
            and aggregated.coded_column = known_codes.coded_column
            and aggregated.code_value = known_codes.code_value

),

final as (

    select
        cast({{ generate_surrogate_key([
            'service', 'pickup_month', 'coded_column', 'code_value',
        ]) }} as varchar(32)) as code_count_id,
        cast(service as varchar(8)) as service,
        cast(pickup_month as date) as pickup_month,
        cast(coded_column as varchar(32)) as coded_column,
        cast(code_value as varchar(65535)) as code_value,
        cast(code_status as varchar(8)) as code_status,
        cast(code_name as varchar(64)) as code_name,
        cast(trips as bigint) as trips,
        cast(partition_loaded_at as timestamp) as _loaded_at
    from classified

)

select * from final
