{#
    Fails with one row per duplicated combination of `combination_of_columns`: the primary-key test
    for a model whose grain is several columns (as dbt_utils.unique_combination_of_columns).
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

duplicates as (

    select
        {{ combination_of_columns | join(',\n        ') }},
        count(*) as n_rows
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1

)

select * from duplicates

{% endtest %}
