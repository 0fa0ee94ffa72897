{#
    Fails with the rows where `expression` is not true (false or null); narrow the rows with the
    standard `where` test config. Applied to a column, the expression is prefixed with the column
    name, e.g. column dropoff_at with expression ">= pickup_at".
#}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not coalesce(({{ column_name ~ ' ' if column_name is not none else '' }}{{ expression }}), false)

{% endtest %}
