-- Every (service, month) holding trips has a row in the load log. fact_trips only builds months the
-- log knows, so a partition swapped in without its log row would be missing from the marts.
with

trips as (

    select * from {{ ref('int_trips_unioned') }}

),

partition_loads as (

    select * from {{ ref('stg_tlc__partition_loads') }}

),

trip_partitions as (

    select distinct
        service,
        pickup_month
    from trips

),

unlogged as (

    select trip_partitions.*
    from trip_partitions
    left join partition_loads
        on
            trip_partitions.service = partition_loads.service
            and trip_partitions.pickup_month = partition_loads.pickup_month
    where partition_loads.service is null

)

select * from unlogged
