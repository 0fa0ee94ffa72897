{#
    Where each node is built.

    A node without a custom schema goes to target.schema; one with `+schema: x` goes to
    `<target.schema>_x`. dbt_project.yml gives staging, intermediate, seeds and snapshots their own
    schema and leaves marts without one, so on dev:

        analytics              marts (fact_trips, dim_*, rpt_*, metricflow_time_spine)
        analytics_staging      stg_* views
        analytics_intermediate int_* views
        analytics_seeds        reference seeds
        analytics_snapshots    snapshots

    It is dbt's default rule, written out so the layout is documented where people look for it and so
    a second environment (DBT_SCHEMA=analytics_ci) never writes into another one's schemas.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
