-- For-hire bases (TLC base license numbers). TLC's list of licensed bases cannot be fetched here (no
-- network) and a seed of it would go stale, so the members are the bases the trips name, from
-- int_base_months_aggregated: the staging views' base numbers, aggregated per month incrementally so
-- no build rescans the lake. Not from fact_fhv_trips, which joins this dimension (and a dimension from
-- its fact moves with the fact's rebuilds).
with

base_months as (

    select * from {{ ref('int_base_months_aggregated') }}

),

companies as (

    select * from {{ ref('stg_tlc__hvfhs_companies') }}

),

seen_bases as (

    select
        base_num,
        min(pickup_month) as first_seen_month,
        max(pickup_month) as last_seen_month,
        max(case when service = 'fhvhv' and base_role = 'dispatching' then 1 else 0 end) = 1
            as is_high_volume_base
    from base_months
    where base_num is not null
    group by 1

),

dispatched_licenses as (

    select
        base_num,
        pickup_month,
        hvfhs_license_num,
        sum(trips) as trips
    from base_months
    where
        service = 'fhvhv'
        and base_role = 'dispatching'
        and base_num is not null
        and hvfhs_license_num is not null
    group by 1, 2, 3

),

-- The high-volume license a base dispatches for, as the data says it: the license of most of its
-- fhvhv trips in its newest month of them (a base that changes hands shows its newest company).
newest_licenses as (

    select
        base_num,
        hvfhs_license_num,
        row_number() over (
            partition by base_num
            order by pickup_month desc, trips desc, hvfhs_license_num asc
        ) as license_rank
    from dispatched_licenses

),

known_bases as (

    select
        seen_bases.base_num,
        coalesce(companies.hvfhs_license_num, '{{ unknown_member_id() }}') as hvfhs_license_num,
        coalesce(companies.company_name, 'Unknown') as hvfhs_company_name,
        seen_bases.is_high_volume_base,
        seen_bases.first_seen_month,
        seen_bases.last_seen_month,
        false as is_unknown_member
    from seen_bases
    left join newest_licenses
        on
            seen_bases.base_num = newest_licenses.base_num
            and newest_licenses.license_rank = 1
    left join companies
        on newest_licenses.hvfhs_license_num = companies.hvfhs_license_num

),

-- Trips that name no base point here; the key is text like the base numbers: '-1'.
unknown_member as (

    select
        '{{ unknown_member_id() }}' as base_num,
        '{{ unknown_member_id() }}' as hvfhs_license_num,
        'Unknown' as hvfhs_company_name,
        false as is_high_volume_base,
        cast(null as date) as first_seen_month,
        cast(null as date) as last_seen_month,
        true as is_unknown_member

),

unioned as (

    select * from known_bases

    union all

    select * from unknown_member

),

final as (

    select
        cast(base_num as varchar(65535)) as base_num,
        cast(hvfhs_license_num as varchar(16)) as hvfhs_license_num,
        cast(hvfhs_company_name as varchar(64)) as hvfhs_company_name,
        cast(is_high_volume_base as boolean) as is_high_volume_base,
        cast(first_seen_month as date) as first_seen_month,
        cast(last_seen_month as date) as last_seen_month,
        cast(is_unknown_member as boolean) as is_unknown_member
    from unioned

)

select * from final
