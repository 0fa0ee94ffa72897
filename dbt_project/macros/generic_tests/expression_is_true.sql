{#
    Fails with the rows where `expression` is not true (false or null), optionally only rows matching
    `where_clause`-style config. Applied to a column, the expression is prefixed with the column name,
    e.g. column total_amount with expression ">= fare_amount".
#}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not coalesce(({{ column_name ~ ' ' if column_name is not none else '' }}{{ expression }}), false)

{% endtest %}
