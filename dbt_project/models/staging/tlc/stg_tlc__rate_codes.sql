with

source as (

    select * from {{ ref('tlc_rate_codes') }}

),

renamed as (

    select
        cast(rate_code_id as integer) as rate_code_id,
        cast(rate_code_name as varchar(64)) as rate_code_name

    from source

)

select * from renamed
