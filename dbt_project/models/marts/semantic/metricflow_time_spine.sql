-- The day grain MetricFlow joins metrics to (cumulative metrics, gaps filled with zero), taken from the
-- calendar so there is one list of days in the warehouse.
with

dates as (

    select * from {{ ref('dim_date') }}

),

final as (

    select date_day
    from dates
    where not is_unknown_member

)

select * from final
