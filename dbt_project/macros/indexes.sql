{#
    Redshift has no CREATE INDEX, but dbt-redshift falls back to dbt-postgres's macros, which turn an
    `indexes:` config into CREATE INDEX statements. Returning nothing here lets fact_trips carry its
    Postgres index config while Redshift relies on its sort key.
#}
{% macro redshift__get_create_index_sql(relation, index_dict) -%}
    {{ return(none) }}
{%- endmacro %}
