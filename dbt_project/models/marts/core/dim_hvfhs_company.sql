with

companies as (

    select * from {{ ref('stg_tlc__hvfhs_companies') }}

),

known_companies as (

    select
        hvfhs_license_num,
        company_name,
        false as is_unknown_member
    from companies

),

-- A license missing from the TLC list, a null, and every fhv trip (not a high-volume service) point
-- here, so fact_fhv_trips keeps every trip. The key is text like the licenses: '-1'.
unknown_member as (

    select
        '{{ unknown_member_id() }}' as hvfhs_license_num,
        'Unknown' as company_name,
        true as is_unknown_member

),

unioned as (

    select * from known_companies

    union all

    select * from unknown_member

),

final as (

    select
        cast(hvfhs_license_num as varchar(16)) as hvfhs_license_num,
        cast(company_name as varchar(64)) as company_name,
        cast(is_unknown_member as boolean) as is_unknown_member
    from unioned

)

select * from final
