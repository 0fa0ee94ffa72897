with

zones as (

    select * from {{ ref('stg_tlc__taxi_zones') }}

),

known_zones as (

    select
        location_id,
        borough,
        zone_name,
        service_zone,
        service_zone in ('Airports', 'EWR') as is_airport,
        false as is_unknown_member
    from zones

),

-- Trips with a null zone, or one the lookup does not know (e.g. 0), point here instead of vanishing in
-- a join. TLC's own 264 (Unknown) and 265 (Outside of NYC) stay real zones.
unknown_member as (

    select
        {{ unknown_member_id() }} as location_id,
        'Unknown' as borough,
        'Unknown' as zone_name,
        'Unknown' as service_zone,
        false as is_airport,
        true as is_unknown_member

),

unioned as (

    select * from known_zones

    union all

    select * from unknown_member

),

final as (

    select
        cast(location_id as integer) as location_id,
        cast(borough as varchar(64)) as borough,
        cast(zone_name as varchar(64)) as zone_name,
        cast(service_zone as varchar(32)) as service_zone,
        cast(is_airport as boolean) as is_airport,
        cast(is_unknown_member as boolean) as is_unknown_member
    from unioned

)

select * from final
