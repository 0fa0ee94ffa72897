with

source as (

    select * from {{ ref('tlc_hvfhs_companies') }}

),

renamed as (

    select
        cast(hvfhs_license_num as varchar(65535)) as hvfhs_license_num,
        cast(company_name as varchar(64)) as company_name

    from source

)

select * from renamed
