with

source as (

    select * from {{ source('tlc', 'yellow_trips') }}

),

renamed as (

    select
        ---------- ids
        cast(trip_key as {{ trip_id_type() }}) as trip_id,
        cast(service as varchar(8)) as service,
        cast(vendor_id as integer) as vendor_id,
        cast(rate_code_id as integer) as rate_code_id,
        cast(payment_type as integer) as payment_type_id,
        cast(trip_type as integer) as trip_type_id,
        cast(pickup_location_id as integer) as pickup_location_id,
        cast(dropoff_location_id as integer) as dropoff_location_id,

        ---------- timestamps
        cast(pickup_at as timestamp) as pickup_at,
        cast(dropoff_at as timestamp) as dropoff_at,
        -- every accepted row's pickup lies in its file's month (others are quarantined upstream)
        {{ partition_month_start('year', 'month') }} as pickup_month,

        ---------- trip
        cast(passenger_count as integer) as passenger_count,
        cast(trip_distance as numeric(12, 2)) as trip_distance_miles,
        cast(store_and_fwd_flag as varchar(65535)) as store_and_fwd_flag,
        -- Y true, N false; any other code is unknown (null), not "not stored"
        case store_and_fwd_flag when 'Y' then true when 'N' then false end as is_store_and_forward,

        ---------- amounts
        cast(fare_amount as numeric(12, 2)) as fare_amount,
        cast(extra as numeric(12, 2)) as extra_amount,
        cast(mta_tax as numeric(12, 2)) as mta_tax_amount,
        cast(tip_amount as numeric(12, 2)) as tip_amount,
        cast(tolls_amount as numeric(12, 2)) as tolls_amount,
        cast(improvement_surcharge as numeric(12, 2)) as improvement_surcharge_amount,
        cast(congestion_surcharge as numeric(12, 2)) as congestion_surcharge_amount,
        cast(airport_fee as numeric(12, 2)) as airport_fee_amount,
        cast(cbd_congestion_fee as numeric(12, 2)) as cbd_congestion_fee_amount,
        cast(ehail_fee as numeric(12, 2)) as ehail_fee_amount,
        cast(total_amount as numeric(12, 2)) as total_amount,

        ---------- lineage
        cast(source_file as varchar(128)) as source_file,
        cast(source_row as bigint) as source_row,
        cast(year as integer) as partition_year,
        cast(month as integer) as partition_month

    from source

)

select * from renamed
