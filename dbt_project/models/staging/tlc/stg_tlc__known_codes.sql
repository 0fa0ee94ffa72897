with

source as (

    select * from {{ ref('tlc_known_codes') }}

),

renamed as (

    select
        cast(service as varchar(8)) as service,
        cast(coded_column as varchar(32)) as coded_column,
        cast(code_value as varchar(65535)) as code_value,
        cast(code_name as varchar(64)) as code_name

    from source

)

select * from renamed
