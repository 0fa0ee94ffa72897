with

source as (

    select * from {{ source('tlc', 'fhv_trips') }}

),

renamed as (

    select
        ---------- ids
        cast(trip_key as {{ trip_id_type() }}) as trip_id,
        cast(service as varchar(8)) as service,
        cast(dispatching_base_num as varchar(65535)) as dispatching_base_num,
        cast(affiliated_base_num as varchar(65535)) as affiliated_base_num,
        cast(pickup_location_id as integer) as pickup_location_id,
        cast(dropoff_location_id as integer) as dropoff_location_id,

        ---------- timestamps
        cast(pickup_at as timestamp) as pickup_at,
        cast(dropoff_at as timestamp) as dropoff_at,
        -- every accepted row's pickup lies in its file's month (others are quarantined upstream)
        {{ partition_month_start('year', 'month') }} as pickup_month,

        ---------- trip
        cast(sr_flag as integer) as sr_flag,
        -- SR_Flag is 1 or empty (no shared ride asked for, or a layout before 2017-07 without it); any
        -- other code is unknown, not "no"
        case
            when sr_flag = 1 then true
            when sr_flag is null then false
        end as is_shared_request,

        ---------- lineage
        cast(source_file as varchar(128)) as source_file,
        cast(source_row as bigint) as source_row,
        cast(year as integer) as partition_year,
        cast(month as integer) as partition_month

    from source

)

select * from renamed
