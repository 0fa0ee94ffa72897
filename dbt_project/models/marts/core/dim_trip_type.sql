with

trip_types as (

    select * from {{ ref('stg_tlc__trip_types') }}

),

known_trip_types as (

    select
        trip_type_id,
        trip_type_name,
        false as is_unknown_member
    from trip_types

),

-- Codes missing from the TLC reference list (and nulls) map here, so fact_trips keeps every trip.
unknown_member as (

    select
        {{ unknown_member_id() }} as trip_type_id,
        'Unknown' as trip_type_name,
        true as is_unknown_member

),

unioned as (

    select * from known_trip_types

    union all

    select * from unknown_member

),

final as (

    select
        cast(trip_type_id as integer) as trip_type_id,
        cast(trip_type_name as varchar(64)) as trip_type_name,
        cast(is_unknown_member as boolean) as is_unknown_member
    from unioned

)

select * from final
