-- The data-quality warnings of the ingestion (issue #12): trips kept although a coded column carries a
-- value its code table lacks, per service, month, column and code. The same counts as the manifests'
-- warnings_by_code (`column=value`), queryable; in the facts these trips point to the -1 members.
with

code_counts as (

    select * from {{ ref('rpt_code_counts') }}

),

unknown_codes as (

    select
        code_count_id as unknown_code_id,
        service,
        pickup_month,
        coded_column,
        code_value,
        coded_column || '=' || code_value as warning_key,
        trips
    from code_counts
    where code_status = 'unknown'

),

final as (

    select
        cast(unknown_code_id as varchar(32)) as unknown_code_id,
        cast(service as varchar(8)) as service,
        cast(pickup_month as date) as pickup_month,
        cast(coded_column as varchar(32)) as coded_column,
        cast(code_value as varchar(65535)) as code_value,
        cast(warning_key as varchar(65535)) as warning_key,
        cast(trips as bigint) as trips
    from unknown_codes

)

select * from final
