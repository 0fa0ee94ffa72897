with

source as (

    select * from {{ ref('tlc_payment_types') }}

),

renamed as (

    select
        cast(payment_type_id as integer) as payment_type_id,
        cast(payment_type_name as varchar(64)) as payment_type_name

    from source

)

select * from renamed
