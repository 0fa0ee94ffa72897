with

vendors as (

    select * from {{ ref('stg_tlc__vendors') }}

),

known_vendors as (

    select
        vendor_id,
        vendor_name,
        false as is_unknown_member
    from vendors

),

-- Codes missing from the TLC reference list (and nulls) map here, so fact_trips keeps every trip.
unknown_member as (

    select
        {{ unknown_member_id() }} as vendor_id,
        'Unknown' as vendor_name,
        true as is_unknown_member

),

unioned as (

    select * from known_vendors

    union all

    select * from unknown_member

),

final as (

    select
        cast(vendor_id as integer) as vendor_id,
        cast(vendor_name as varchar(64)) as vendor_name,
        cast(is_unknown_member as boolean) as is_unknown_member
    from unioned

)

select * from final
