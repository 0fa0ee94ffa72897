with

payment_types as (

    select * from {{ ref('stg_tlc__payment_types') }}

),

known_payment_types as (

    select
        payment_type_id,
        payment_type_name,
        false as is_unknown_member
    from payment_types

),

-- Codes missing from the TLC reference list (and nulls) map here, so fact_trips keeps every trip.
unknown_member as (

    select
        {{ unknown_member_id() }} as payment_type_id,
        'Unknown' as payment_type_name,
        true as is_unknown_member

),

unioned as (

    select * from known_payment_types

    union all

    select * from unknown_member

),

final as (

    select
        cast(payment_type_id as integer) as payment_type_id,
        cast(payment_type_name as varchar(64)) as payment_type_name,
        cast(is_unknown_member as boolean) as is_unknown_member
    from unioned

)

select * from final
