{#
    Taxi trips per service and pickup day: the input of rpt_daily_revenue.

    Incremental by month like the facts (README "fact_trips, incrementally"; the config is this
    folder's, in dbt_project.yml): the same load-log month resolution and `rebuild_months` strategy, so
    a run aggregates only the months fact_trips rebuilt and its cost follows the new data, not the
    history; the table equals a full refresh. Ids and measures only: the report joins the calendar when
    it is built, so a dimension's change reaches every month.
    _loaded_at is the load the fact's rows were built from (the month is rebuilt when a newer one lands).
#}
{%- set services = ['yellow', 'green'] %}
{%- set months = months_to_rebuild(ref('stg_tlc__partition_loads'), this, services) %}

with
{{- months_to_build_cte(services, months) }}

trips as (

    select * from {{ ref('fact_trips') }}
    {{- where_months_to_build('pickup_month', months) }}

),

aggregated as (

    select
        service,
        pickup_month,
        cast(pickup_at as date) as pickup_date,
        pickup_date_key,
        count(*) as trips,
        sum(passenger_count) as passengers,
        sum(trip_distance_miles) as trip_distance_miles,
        sum(fare_amount) as fare_amount,
        sum(tip_amount) as tip_amount,
        sum(total_amount) as total_amount
    from trips
    group by 1, 2, 3, 4

),

{{ stamped_by_partition_builds([ref('fact_trips')]) }}

final as (

    select
        cast({{ generate_surrogate_key(['service', 'pickup_date']) }} as varchar(32)) as taxi_day_id,
        cast(service as varchar(8)) as service,
        cast(pickup_month as date) as pickup_month,
        cast(pickup_date as date) as pickup_date,
        cast(pickup_date_key as integer) as pickup_date_key,
        cast(trips as bigint) as trips,
        cast(passengers as bigint) as passengers,
        cast(trip_distance_miles as numeric(14, 2)) as trip_distance_miles,
        cast(fare_amount as numeric(14, 2)) as fare_amount,
        cast(tip_amount as numeric(14, 2)) as tip_amount,
        cast(total_amount as numeric(14, 2)) as total_amount,
        cast(partition_loaded_at as timestamp) as _loaded_at
    from stamped

)

select * from final
