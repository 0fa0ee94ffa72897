with

rate_codes as (

    select * from {{ ref('stg_tlc__rate_codes') }}

),

known_rate_codes as (

    select
        rate_code_id,
        rate_code_name,
        false as is_unknown_member
    from rate_codes

),

-- Codes missing from the TLC reference list (and nulls) map here, so fact_trips keeps every trip.
unknown_member as (

    select
        {{ unknown_member_id() }} as rate_code_id,
        'Unknown' as rate_code_name,
        true as is_unknown_member

),

unioned as (

    select * from known_rate_codes

    union all

    select * from unknown_member

),

final as (

    select
        cast(rate_code_id as integer) as rate_code_id,
        cast(rate_code_name as varchar(64)) as rate_code_name,
        cast(is_unknown_member as boolean) as is_unknown_member
    from unioned

)

select * from final
