with

source as (

    select * from {{ source('tlc', 'quarantined_trips') }}

),

renamed as (

    select
        ---------- ids
        cast(trip_key as varchar(64)) as trip_id,
        cast(service as varchar(8)) as service,
        cast(source_file as varchar(128)) as source_file,
        cast(source_row as bigint) as source_row,
        cast(year as integer) as partition_year,
        cast(month as integer) as partition_month,
        {{ partition_month_start('year', 'month') }} as file_month,

        ---------- rejection
        cast(reason_code as varchar(64)) as reason_code,
        cast(reason as varchar(65535)) as reason,
        cast(raw_record as varchar(65535)) as raw_record,

        ---------- parsed values (null where unparseable)
        cast(pickup_at as timestamp) as pickup_at,
        cast(dropoff_at as timestamp) as dropoff_at,
        cast(pickup_location_id as integer) as pickup_location_id,
        cast(dropoff_location_id as integer) as dropoff_location_id

    from source

)

select * from renamed
