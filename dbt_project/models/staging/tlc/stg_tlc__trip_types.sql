with

source as (

    select * from {{ ref('tlc_trip_types') }}

),

renamed as (

    select
        cast(trip_type_id as integer) as trip_type_id,
        cast(trip_type_name as varchar(64)) as trip_type_name

    from source

)

select * from renamed
