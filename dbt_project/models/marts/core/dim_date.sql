-- Calendar from a fixed spine (vars date_spine_start/date_spine_end), not from the trips: a dimension
-- built from the fact would lose the days nobody rode and move every time a month is loaded.
with

spine as (

    {{ date_spine(var('date_spine_start'), var('date_spine_end')) }}

),

parts as (

    select
        date_day,
        cast(extract(year from date_day) as integer) as year_number,
        cast(extract(quarter from date_day) as integer) as quarter_number,
        cast(extract(month from date_day) as integer) as month_number,
        cast(extract(day from date_day) as integer) as day_of_month,
        -- 0 = Sunday .. 6 = Saturday on both Postgres and Redshift
        cast(extract(dow from date_day) as integer) as day_of_week,
        cast(extract(doy from date_day) as integer) as day_of_year
    from spine

),

-- US federal holidays on their actual dates (5 U.S.C. 6103). Floating ones are the n-th weekday of
-- their month: the 3rd Monday falls on day 15..21, the last Monday of May on day 25..31, and so on.
holidays as (

    select
        *,
        case
            when month_number = 1 and day_of_month = 1 then 'New Year''s Day'
            when month_number = 1 and day_of_week = 1 and day_of_month between 15 and 21
                then 'Birthday of Martin Luther King, Jr.'
            when month_number = 2 and day_of_week = 1 and day_of_month between 15 and 21
                then 'Washington''s Birthday'
            when month_number = 5 and day_of_week = 1 and day_of_month >= 25 then 'Memorial Day'
            when month_number = 6 and day_of_month = 19 and year_number >= 2021
                then 'Juneteenth National Independence Day'
            when month_number = 7 and day_of_month = 4 then 'Independence Day'
            when month_number = 9 and day_of_week = 1 and day_of_month <= 7 then 'Labor Day'
            when month_number = 10 and day_of_week = 1 and day_of_month between 8 and 14 then 'Columbus Day'
            when month_number = 11 and day_of_month = 11 then 'Veterans Day'
            when month_number = 11 and day_of_week = 4 and day_of_month between 22 and 28
                then 'Thanksgiving Day'
            when month_number = 12 and day_of_month = 25 then 'Christmas Day'
        end as holiday_name
    from parts

),

known_days as (

    select
        year_number * 10000 + month_number * 100 + day_of_month as date_key,
        date_day,
        {{ dbt.date_trunc('month', 'date_day') }} as month_start_date,
        year_number,
        quarter_number,
        month_number,
        case month_number
            when 1 then 'January' when 2 then 'February' when 3 then 'March'
            when 4 then 'April' when 5 then 'May' when 6 then 'June'
            when 7 then 'July' when 8 then 'August' when 9 then 'September'
            when 10 then 'October' when 11 then 'November' when 12 then 'December'
        end as month_name,
        day_of_month,
        day_of_week,
        case day_of_week
            when 0 then 'Sunday' when 1 then 'Monday' when 2 then 'Tuesday' when 3 then 'Wednesday'
            when 4 then 'Thursday' when 5 then 'Friday' when 6 then 'Saturday'
        end as day_name,
        day_of_year,
        day_of_week in (0, 6) as is_weekend,
        holiday_name is not null as is_us_federal_holiday,
        holiday_name as us_federal_holiday_name,
        false as is_unknown_member
    from holidays

),

-- Kept for symmetry with the other dimensions; every trip's pickup day lies inside the spine.
unknown_member as (

    select
        {{ unknown_member_id() }} as date_key,
        cast(null as date) as date_day,
        cast(null as date) as month_start_date,
        cast(null as integer) as year_number,
        cast(null as integer) as quarter_number,
        cast(null as integer) as month_number,
        'Unknown' as month_name,
        cast(null as integer) as day_of_month,
        cast(null as integer) as day_of_week,
        'Unknown' as day_name,
        cast(null as integer) as day_of_year,
        false as is_weekend,
        false as is_us_federal_holiday,
        cast(null as varchar(64)) as us_federal_holiday_name,
        true as is_unknown_member

),

unioned as (

    select * from known_days

    union all

    select * from unknown_member

),

final as (

    select
        cast(date_key as integer) as date_key,
        cast(date_day as date) as date_day,
        cast(month_start_date as date) as month_start_date,
        cast(year_number as integer) as year_number,
        cast(quarter_number as integer) as quarter_number,
        cast(month_number as integer) as month_number,
        cast(month_name as varchar(16)) as month_name,
        cast(day_of_month as integer) as day_of_month,
        cast(day_of_week as integer) as day_of_week,
        cast(day_name as varchar(16)) as day_name,
        cast(day_of_year as integer) as day_of_year,
        cast(is_weekend as boolean) as is_weekend,
        cast(is_us_federal_holiday as boolean) as is_us_federal_holiday,
        cast(us_federal_holiday_name as varchar(64)) as us_federal_holiday_name,
        cast(is_unknown_member as boolean) as is_unknown_member
    from unioned

)

select * from final
