with

source as (

    select * from {{ source('tlc', 'fhvhv_trips') }}

),

renamed as (

    select
        ---------- ids
        cast(trip_key as {{ trip_id_type() }}) as trip_id,
        cast(service as varchar(8)) as service,
        cast(hvfhs_license_num as varchar(65535)) as hvfhs_license_num,
        cast(dispatching_base_num as varchar(65535)) as dispatching_base_num,
        cast(originating_base_num as varchar(65535)) as originating_base_num,
        cast(pickup_location_id as integer) as pickup_location_id,
        cast(dropoff_location_id as integer) as dropoff_location_id,

        ---------- timestamps
        cast(request_at as timestamp) as request_at,
        cast(on_scene_at as timestamp) as on_scene_at,
        cast(pickup_at as timestamp) as pickup_at,
        cast(dropoff_at as timestamp) as dropoff_at,
        -- every accepted row's pickup lies in its file's month (others are quarantined upstream)
        {{ partition_month_start('year', 'month') }} as pickup_month,

        ---------- trip
        cast(trip_miles as numeric(12, 2)) as trip_miles,
        cast(trip_time as bigint) as trip_seconds,

        ---------- flags as published (Y/N; 2019-2020 files: SR_Flag 1 or empty)
        cast(shared_request_flag as varchar(65535)) as shared_request_flag,
        cast(shared_match_flag as varchar(65535)) as shared_match_flag,
        cast(access_a_ride_flag as varchar(65535)) as access_a_ride_flag,
        cast(wav_request_flag as varchar(65535)) as wav_request_flag,
        cast(wav_match_flag as varchar(65535)) as wav_match_flag,
        cast(sr_flag as integer) as sr_flag,

        ---------- flags as booleans: Y true, N false, any other code (and null) unknown
        -- a shared ride asked for: shared_request_flag in the Parquet layout, SR_Flag (1 or empty) in
        -- the 2019-2020 CSVs, which have no shared_request_flag
        case
            when shared_request_flag = 'Y' or sr_flag = 1 then true
            when shared_request_flag = 'N' then false
            when shared_request_flag is null and sr_flag is null then false
        end as is_shared_request,
        case shared_match_flag when 'Y' then true when 'N' then false end as is_shared_match,
        case access_a_ride_flag when 'Y' then true when 'N' then false end as is_access_a_ride,
        case wav_request_flag when 'Y' then true when 'N' then false end as is_wav_request,
        case wav_match_flag when 'Y' then true when 'N' then false end as is_wav_match,

        ---------- amounts
        cast(base_passenger_fare as numeric(12, 2)) as base_passenger_fare_amount,
        cast(tolls as numeric(12, 2)) as tolls_amount,
        cast(bcf as numeric(12, 2)) as black_car_fund_amount,
        cast(sales_tax as numeric(12, 2)) as sales_tax_amount,
        cast(congestion_surcharge as numeric(12, 2)) as congestion_surcharge_amount,
        cast(airport_fee as numeric(12, 2)) as airport_fee_amount,
        cast(cbd_congestion_fee as numeric(12, 2)) as cbd_congestion_fee_amount,
        cast(tips as numeric(12, 2)) as tip_amount,
        cast(driver_pay as numeric(12, 2)) as driver_pay_amount,

        ---------- lineage
        cast(source_file as varchar(128)) as source_file,
        cast(source_row as bigint) as source_row,
        cast(year as integer) as partition_year,
        cast(month as integer) as partition_month

    from source

)

select * from renamed
