-- Yellow and green trips in one relation. Both staging models expose the same columns in the same
-- order (one canonical lake schema), so a plain union all is safe; service tells them apart.
with

yellow_trips as (

    select * from {{ ref('stg_tlc__yellow_trips') }}

),

green_trips as (

    select * from {{ ref('stg_tlc__green_trips') }}

),

unioned as (

    select * from yellow_trips

    union all

    select * from green_trips

)

select * from unioned
