with

source as (

    select * from {{ source('tlc', 'partition_loads') }}

),

renamed as (

    select
        ---------- ids
        cast(service as varchar(8)) as service,
        cast(year as integer) as partition_year,
        cast(month as integer) as partition_month,
        {{ partition_month_start('year', 'month') }} as pickup_month,

        ---------- load
        cast(source_file as varchar(128)) as source_file,
        cast(sha256 as varchar(64)) as source_file_sha256,
        cast(row_count as bigint) as rows_loaded,
        cast(quarantined_count as bigint) as rows_quarantined,
        {{ to_utc_timestamp('loaded_at') }} as loaded_at

    from source

)

select * from renamed
