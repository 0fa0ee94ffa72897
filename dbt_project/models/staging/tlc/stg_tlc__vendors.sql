with

source as (

    select * from {{ ref('tlc_vendors') }}

),

renamed as (

    select
        cast(vendor_id as integer) as vendor_id,
        cast(vendor_name as varchar(64)) as vendor_name

    from source

)

select * from renamed
