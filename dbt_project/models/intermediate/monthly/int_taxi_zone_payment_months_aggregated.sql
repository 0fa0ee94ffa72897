{#
    Taxi trips per service, pickup month, pickup zone and payment type: the input of
    rpt_monthly_revenue_by_zone and rpt_tip_rate_by_payment_type, which roll it up.

    Incremental by month like the facts (see int_taxi_days_aggregated): a run aggregates only the months
    fact_trips rebuilt; ids and measures only, the reports join the dimensions when they are built.
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
        pickup_location_id,
        payment_type_id,
        count(*) as trips,
        sum(case when tip_amount > 0 then 1 else 0 end) as tipped_trips,
        sum(fare_amount) as fare_amount,
        sum(tip_amount) as tip_amount,
        sum(total_amount) as total_amount
    from trips
    group by 1, 2, 3, 4

),

{{ stamped_by_partition_builds([ref('fact_trips')]) }}

final as (

    select
        cast({{ generate_surrogate_key([
            'service', 'pickup_month', 'pickup_location_id', 'payment_type_id',
        ]) }} as varchar(32)) as taxi_zone_payment_month_id,
        cast(service as varchar(8)) as service,
        cast(pickup_month as date) as pickup_month,
        cast(pickup_location_id as integer) as pickup_location_id,
        cast(payment_type_id as integer) as payment_type_id,
        cast(trips as bigint) as trips,
        cast(tipped_trips as bigint) as tipped_trips,
        cast(fare_amount as numeric(14, 2)) as fare_amount,
        cast(tip_amount as numeric(14, 2)) as tip_amount,
        cast(total_amount as numeric(14, 2)) as total_amount,
        cast(partition_loaded_at as timestamp) as _loaded_at
    from stamped

)

select * from final
