{#
    The for-hire bases each month's trips name, per role: the input of dim_base. TLC publishes a list of
    licensed bases, but the pipeline has no network to fetch it and a seed of it would go stale (every
    base licensed later would fall to the unknown member), so the bases come from the trips themselves:
    from the staging views (through int_fhv_trips_unioned), not from fact_fhv_trips, which is built
    after dim_base and joins it.

    Incremental like the facts (README "fact_trips, incrementally"): the same load-log month
    resolution and `rebuild_months` strategy, so a run reads only the (re)loaded months' partitions,
    narrow base columns, and the table equals a full refresh. A full table would scan every month's
    bases on every build (on Spectrum, the whole for-hire lake). Every loaded month has rows (the
    dispatching role counts a null base too), so no month is re-resolved without cause.

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

{%- set services = ['fhv', 'fhvhv'] %}
{%- set months = months_to_rebuild(ref('stg_tlc__partition_loads'), this, services) %}

with

trips as (

    {{ select_months_to_build(ref('int_fhv_trips_unioned'), months) }}

),

partition_loads as (

    select * from {{ ref('stg_tlc__partition_loads') }}

),

{{ partition_load_ctes('partition_loads', services, months) }}

-- One pass over the trips: how many carry each combination of bases, per month.
base_combinations as (

    select
        trips.service,
        trips.pickup_month,
        trips.hvfhs_license_num,
        trips.dispatching_base_num,
        trips.originating_base_num,
        trips.affiliated_base_num,
        latest_loads.loaded_at as partition_loaded_at,
        count(*) as trips
    {{ from_loaded_partitions('trips', months) }}
    group by 1, 2, 3, 4, 5, 6, 7

),

-- Dispatching counts every trip, a null base included, so every loaded month has rows.
base_roles as (

    select
        service,
        pickup_month,
        'dispatching' as base_role,
        dispatching_base_num as base_num,
        hvfhs_license_num,
        partition_loaded_at,
        trips
    from base_combinations

    union all

    select
        service,
        pickup_month,
        'originating' as base_role,
        originating_base_num as base_num,
        hvfhs_license_num,
        partition_loaded_at,
        trips
    from base_combinations
    where originating_base_num is not null

    union all

    select
        service,
        pickup_month,
        'affiliated' as base_role,
        affiliated_base_num as base_num,
        hvfhs_license_num,
        partition_loaded_at,
        trips
    from base_combinations
    where affiliated_base_num is not null

),

aggregated as (

    select
        service,
        pickup_month,
        base_role,
        base_num,
        hvfhs_license_num,
        partition_loaded_at,
        sum(trips) as trips
    from base_roles
    group by 1, 2, 3, 4, 5, 6

),

final as (

    select
        cast({{ generate_surrogate_key([
            'service', 'pickup_month', 'base_role', 'base_num', 'hvfhs_license_num',
        ]) }} as varchar(32)) as base_month_id,
        cast(service as varchar(8)) as service,
        cast(pickup_month as date) as pickup_month,
        cast(base_role as varchar(16)) as base_role,
        cast(base_num as varchar(65535)) as base_num,
        cast(hvfhs_license_num as varchar(65535)) as hvfhs_license_num,
        cast(trips as bigint) as trips,
        cast(partition_loaded_at as timestamp) as _loaded_at
    from aggregated

)

select * from final
