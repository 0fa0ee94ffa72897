{#
    The months each incremental model rebuilt, per dbt invocation: the build log `dbt_month_builds`
    beside the model (one per schema that holds models built by month). The `rebuild_months` strategy
    writes it in the model's own transaction; a `dbt build` reads it back when it tests that model
    (get_where_subquery below), so a daily build tests the months it rebuilt, every one of them, and
    its tests cost what the new data costs, not the history.

    Rows: relation_name (schema.table), invocation_id, pickup_month (null: the run's own row, written
    even when it rebuilt no month), built_at. Kept 30 days.
#}
{% macro month_builds_relation(database, schema) -%}
    {{ return(api.Relation.create(database=database, schema=schema, identifier='dbt_month_builds')) }}
{%- endmacro %}


{# The models built by month (incremental_strategy='rebuild_months'): the ones the build log serves. #}
{% macro models_built_by_month() -%}
    {{ return(graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
        | selectattr('config.incremental_strategy', 'equalto', 'rebuild_months') | list) }}
{%- endmacro %}


{#
    on-run-start: the build log created where missing, and its old rows deleted, in every existing
    schema that holds a model built by month (its next incremental run writes there). Only for the
    commands that build (run, build): a compile, offline or not, and `dbt test` touch nothing. No
    `create schema`: the least-privileged role may not run one, even with `if not exists`
    (orchestration/local/sql/dbt_role.sql, infra/modules/warehouse/sql/dbt_user.sql); a schema that
    does not exist yet holds no table to rebuild by month.
#}
{% macro create_month_builds() -%}
    {%- if execute and flags.WHICH in ('run', 'build') -%}
        {%- set schemas = [] -%}
        {%- for node in models_built_by_month() -%}
            {%- if (node.database, node.schema) not in schemas -%}
                {%- do schemas.append((node.database, node.schema)) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- for database, schema in schemas if adapter.check_schema_exists(database, schema) -%}
            {%- set log = month_builds_relation(database, schema) %}
    create table if not exists {{ log }} (
        relation_name varchar(512),
        invocation_id varchar(64),
        pickup_month date,
        built_at timestamp
    );
    delete from {{ log }} where built_at < {{ dbt.dateadd('day', -30, dbt.current_timestamp()) }};
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}


{#
    The insert that records an incremental run of `relation`: its own row and one per month rebuilt.

    Args:
        relation: the model's relation (the strategy's target_relation).
        months: the 'YYYY-MM-DD' months rebuilt (possibly none).
#}
{% macro record_month_builds(relation, months) -%}
    insert into {{ month_builds_relation(relation.database, relation.schema) }} (relation_name, invocation_id, pickup_month, built_at)
    values
    {%- for month in [none] + months %}
        (
            '{{ relation.schema }}.{{ relation.identifier }}', '{{ invocation_id }}',
            {%- if month is none %} null{% else %} cast('{{ month }}' as date){% endif %},
            {{ dbt.current_timestamp() }}
        ){{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{#
    The months of `relation` this invocation rebuilt, as sorted 'YYYY-MM-DD' strings; none when it did
    not rebuild it by month (not built in this invocation, a first build, a --full-refresh, or a command
    other than `dbt build`): then a test reads every row.

    Args:
        relation: the tested model's relation.
#}
{% macro months_built_in_this_invocation(relation) -%}
    {%- if not execute or flags.WHICH != 'build' or relation.identifier is not defined -%}
        {{ return(none) }}
    {%- endif -%}
    {#- only a model built by month has months: the other tests send no query -#}
    {%- set by_month = models_built_by_month() | selectattr('schema', 'equalto', relation.schema)
        | selectattr('alias', 'equalto', relation.identifier) | list -%}
    {%- if not by_month -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set log = month_builds_relation(relation.database, relation.schema) -%}
    {#- missing where the schema was new when the run started (created later by dbt): a first build -#}
    {%- set found = run_query(
        "select count(*) from information_schema.tables where table_schema = '" ~ log.schema
        ~ "' and table_name = '" ~ log.identifier ~ "'"
    ).rows[0][0] -%}
    {%- if found | int == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = run_query(
        "select pickup_month from " ~ log
        ~ " where relation_name = '" ~ relation.schema ~ "." ~ relation.identifier ~ "'"
        ~ " and invocation_id = '" ~ invocation_id ~ "'"
    ).rows -%}
    {%- if rows | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set months = [] -%}
    {%- for row in rows if row[0] is not none -%}
        {%- do months.append(row[0].strftime('%Y-%m-%d')) -%}
    {%- endfor -%}
    {{ return(months | sort) }}
{%- endmacro %}


{#
    The rows a generic test reads (dbt wraps every generic test's model in get_where_subquery): dbt's own
    `where` config, and for a model this `dbt build` rebuilt by month only those months, as literals on
    pickup_month (only those months' tables on Postgres, zone maps on Redshift). A month rebuilt is tested whole;
    a month not rebuilt was tested by the build that rebuilt it. `dbt test` alone tests every row: the
    whole-history check (`make test-warehouse`).
#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set months = months_built_in_this_invocation(relation) -%}
    {%- if not where and months is none -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set conditions = [where] if where else [] -%}
    {%- if months is not none -%}
        {%- set literals = [] -%}
        {%- for month in months -%}
            {%- do literals.append("cast('" ~ month ~ "' as date)") -%}
        {%- endfor -%}
        {%- do conditions.append('pickup_month in (' ~ literals | join(', ') ~ ')' if literals else '1 = 0') -%}
    {%- endif -%}
    {%- set filtered -%}
        (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
    {%- endset -%}
    {{ return(filtered) }}
{%- endmacro %}
