{#
    dbt's is_incremental(), usable without a warehouse connection.

    dbt decides "incremental run?" by asking the warehouse whether the table exists. CI compiles the
    project for Redshift with no cluster (`dbt compile --target prod --no-introspect
    --no-populate-cache`), where that question cannot be asked; then the answer comes from the var
    `assume_incremental` (default false: compile the first-build SQL; true: the incremental SQL).
    Every connected run (--introspect, the default) defers to dbt's own macro unchanged.
#}
{% macro is_incremental() %}
    {%- if not flags.INTROSPECT -%}
        {{ return(var('assume_incremental', false)) }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{% endmacro %}
