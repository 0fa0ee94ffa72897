{#
    Fails with each (service, pickup_month) that holds rows of `model` but has no row in the load log.
    The models built by month only build months the log knows (an inner join on it), so a partition
    swapped in without its log row would be missing from the marts. Reads the lake's narrow columns
    (service and the partition month) only.
#}
{% test every_partition_has_a_load(model, load_log) %}

with

trips as (

    select * from {{ model }}

),

partition_loads as (

    select * from {{ load_log }}

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

{% endtest %}
