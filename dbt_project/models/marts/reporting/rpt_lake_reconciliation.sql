{#
    Every loaded month of every service, reconciled: the trips and quarantined rows the ingestion
    committed to the lake (the month's newest load-log row) against what the warehouse holds (the
    facts, and the quarantine as the warehouse reads it). The test on reconciliation_status fails
    `dbt build` on a mismatch, so the AWS Transform fails too and names the months (the dbt container
    reads the failing rows back, orchestration/container/entrypoint.py); locally `make run` prints the
    same.

    A month whose fact rows were built from an older load than the log's newest is `behind`, not a
    mismatch: on AWS another execution can commit a month while this build runs (its log row landing
    after the fact was built); the next build rebuilds both, since this row keeps the older load's
    stamp. Only a month built from its newest load is judged.

    Incremental like the facts (same load-log month resolution, rebuild_months strategy): a run counts
    only the (re)loaded months, reading the facts by pickup_month and the quarantine by its partition
    columns, and keeps the other months' verdicts; --full-refresh recounts every month.
#}
{{
    config(
        materialized='incremental',
        incremental_strategy='rebuild_months',
        unique_key='pickup_month',
        on_schema_change='fail',
        dist='all',
        sort=['pickup_month'],
        indexes=[{'columns': ['pickup_month', 'service', '_loaded_at']}],
    )
}}

{%- set services = ['yellow', 'green', 'fhv', 'fhvhv'] %}
{%- set months = months_to_rebuild(ref('stg_tlc__partition_loads'), this, services) %}

with

partition_loads as (

    select * from {{ ref('stg_tlc__partition_loads') }}

),

quarantined_trips as (

    {{ select_months_to_build(ref('stg_tlc__quarantined_trips'), months) }}

),

taxi_trips as (

    select
        service,
        pickup_month
    from {{ ref('fact_trips') }}
    {{- where_months_to_build('pickup_month', months) }}

),

fhv_trips as (

    select
        service,
        pickup_month
    from {{ ref('fact_fhv_trips') }}
    {{- where_months_to_build('pickup_month', months) }}

),

{{ partition_load_ctes('partition_loads', services, months) }}

-- The month's newest load: what the lake holds now (a reload appends a row, the log keeps the old ones).
lake_counts as (

    select
        partition_loads.service,
        partition_loads.pickup_month,
        partition_loads.source_file,
        partition_loads.rows_loaded,
        partition_loads.rows_quarantined,
        partition_loads.loaded_at
    from partition_loads
    inner join latest_loads
        on
            partition_loads.service = latest_loads.service
            and partition_loads.pickup_month = latest_loads.pickup_month
            and partition_loads.loaded_at = latest_loads.loaded_at
    {{- where_months_to_build('partition_loads.pickup_month', months) }}

),

fact_rows as (

    select * from taxi_trips

    union all

    select * from fhv_trips

),

warehouse_trips as (

    select
        service,
        pickup_month,
        count(*) as trips
    from fact_rows
    group by 1, 2

),

-- built_from: the load the month's fact rows were built from (the facts' build stamps).
{{ partition_builds_cte([ref('fact_trips'), ref('fact_fhv_trips')]) }}

warehouse_quarantine as (

    select
        service,
        file_month as pickup_month,
        count(*) as quarantined
    from quarantined_trips
    group by 1, 2

),

-- Left joins from the load log: a month the warehouse lost entirely must show as 0, not vanish.
compared as (

    select
        lake_counts.service,
        lake_counts.pickup_month,
        lake_counts.source_file,
        lake_counts.rows_loaded as lake_trips,
        coalesce(warehouse_trips.trips, 0) as warehouse_trips,
        lake_counts.rows_quarantined as lake_quarantined,
        coalesce(warehouse_quarantine.quarantined, 0) as warehouse_quarantined,
        lake_counts.loaded_at,
        partition_builds._loaded_at as built_from
    from lake_counts
    left join warehouse_trips
        on
            lake_counts.service = warehouse_trips.service
            and lake_counts.pickup_month = warehouse_trips.pickup_month
    left join warehouse_quarantine
        on
            lake_counts.service = warehouse_quarantine.service
            and lake_counts.pickup_month = warehouse_quarantine.pickup_month
    left join partition_builds
        on
            lake_counts.service = partition_builds.service
            and lake_counts.pickup_month = partition_builds.pickup_month

),

final as (

    select
        ---------- ids
        cast(service as varchar(8)) as service,
        cast(pickup_month as date) as pickup_month,
        cast(source_file as varchar(128)) as source_file,

        ---------- counts
        cast(lake_trips as bigint) as lake_trips,
        cast(warehouse_trips as bigint) as warehouse_trips,
        cast(lake_quarantined as bigint) as lake_quarantined,
        cast(warehouse_quarantined as bigint) as warehouse_quarantined,
        cast(case
            when built_from < loaded_at then 'behind'
            when lake_trips = warehouse_trips and lake_quarantined = warehouse_quarantined then 'reconciled'
            else 'mismatch'
        end as varchar(10)) as reconciliation_status,

        ---------- timestamps
        -- a month behind keeps the older load's stamp, so the next build judges it again
        cast(case when built_from < loaded_at then built_from else loaded_at end as timestamp) as _loaded_at

    from compared

)

select * from final
