with

source as (

    select * from {{ ref('taxi_zone_lookup') }}

),

renamed as (

    select
        ---------- ids
        cast(locationid as integer) as location_id,

        ---------- attributes
        cast(borough as varchar(64)) as borough,
        cast(zone as varchar(64)) as zone_name,
        cast(service_zone as varchar(32)) as service_zone

    from source

)

select * from renamed
