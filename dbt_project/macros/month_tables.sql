{#
    PostgreSQL storage of a fact (config `month_tables=true`): one table per (service, month), each
    holding the columns that vary by row, with its `service` and `pickup_month` kept once in the
    catalog, as the raw layer stores a month (orchestration/local/load_postgres.py). The fact is a
    table partitioned by list (service), each service a table partitioned by list (pickup_month).

    A month table is filled under a loading name, then `service` and `pickup_month` are added as
    columns with a default, which PostgreSQL keeps once and reads for every row already there (the
    default is dropped after: it is these rows' value, not one for later rows); the old table of that
    (service, month) is dropped and the new one attached, in the model's transaction. So a rebuild
    replaces a month whole, a month a reload emptied loses its table, readers see the old month until
    the commit, and a `where pickup_month in (...)` reads only those months' tables. Columns are laid
    out widest alignment first, so no row pays padding.

    Redshift (columnar, sorted on the pickup time) stores the fact as one table and rebuilds months by
    delete + insert: `rebuild_months_sql` and `get_create_table_as_sql` keep dbt's behaviour there.
#}

{# The partition columns: constant within a month table, so kept once per table, not per row. #}
{% macro month_table_constants() -%}
    {{ return(['service', 'pickup_month']) }}
{%- endmacro %}


{# True when the model being built is stored as month tables (config month_tables, on PostgreSQL). #}
{% macro stored_as_month_tables() -%}
    {{ return(config.get('month_tables', false) and adapter.type() == 'postgres') }}
{%- endmacro %}


{#
    dbt's table creation for a first build or --full-refresh: month tables for a model configured so
    (month_tables_create_sql), dbt's own create table otherwise (a temporary table always).
#}
{% macro postgres__get_create_table_as_sql(temporary, relation, sql) -%}
    {%- if not temporary and stored_as_month_tables() -%}
        {{ return(month_tables_create_sql(relation, sql)) }}
    {%- endif -%}
    {{ return(create_table_as(temporary, relation, sql)) }}
{%- endmacro %}

{% macro redshift__get_create_table_as_sql(temporary, relation, sql) -%}
    {{ return(create_table_as(temporary, relation, sql)) }}
{%- endmacro %}


{#
    The first build (or --full-refresh) of a model stored as month tables: its rows into a temporary
    table, then the partitioned table with the contract's columns and constraints, and a month table
    for each (service, month) among the rows. On --full-refresh dbt builds `relation` beside the model
    and swaps the two; the old service tables are dropped at the swap, so the new ones take their names.

    Args:
        relation: the table to create (`this`, or dbt's intermediate relation on --full-refresh).
        sql: the model's compiled select.
#}
{% macro month_tables_create_sql(relation, sql) -%}
    {%- if config.get('contract').enforced -%}
        {%- do get_assert_columns_equivalent(sql) -%}
    {%- endif -%}
    {%- set rows = month_rows_relation(this) -%}
    {#- BRIN: the rows arrive month by month (the raw months are scanned in order), so each month's
        insert below reads that month's blocks rather than every month's; ANALYZE so the planner knows. -#}
    {%- do run_query(
        'drop table if exists ' ~ rows ~ '; create temporary table ' ~ rows ~ ' as (' ~ sql ~ ');'
        ~ ' create index on ' ~ rows ~ ' using brin (pickup_month); analyze ' ~ rows
    ) -%}
    {#- --full-refresh: the model's old service tables (none on a first build), dropped at the swap -#}
    {%- set earlier = partitions_of(this).services %}
    create table {{ relation }}
    {{ get_table_columns_and_constraints() }}
    partition by list (service);
    {{ month_tables_fill_sql(relation, rows, {}, earlier.values() | list) }}
    drop table {{ rows }}
{%- endmacro %}


{#
    The rebuild_months strategy for a model stored as month tables: each month rebuilt gets new tables
    from dbt's temporary table of the new rows (one per service with rows), swapped in for its old
    ones; a month rebuilt without rows loses its tables. First, the build log row, as for every model.

    Args:
        arg_dict: dbt's strategy arguments (target_relation, temp_relation).
        months: the 'YYYY-MM-DD' months being rebuilt.
#}
{% macro month_tables_rebuild_sql(arg_dict, months) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set kind = run_query(
        "select relkind from pg_class where oid = cast('" ~ target ~ "' as regclass)"
    ).rows[0][0] -%}
    {%- if kind != 'p' -%}
        {{ exceptions.raise_compiler_error(
            target ~ " is " ~ earlier_layout_message() ~ ": one table, where this release keeps a table per month"
        ) }}
    {%- endif -%}
    {%- set partitions = partitions_of(target) -%}
    {%- set replaced = partitions.months | selectattr('pickup_month', 'in', months)
        | map(attribute='relation') | list -%}
    {{ record_month_builds(target, months) }};
    {{ month_tables_fill_sql(target, arg_dict['temp_relation'], partitions.services, replaced) }}
{%- endmacro %}


{#
    Message of a model a release before month tables built, the phrase the local runner knows (it
    rebuilds every model in full: orchestration/local/dbt_runner.py EARLIER_LAYOUT).
#}
{% macro earlier_layout_message() -%}
    {{ return('stored by an earlier release in another layout') }}
{%- endmacro %}


{#
    Statements that build a month table for each (service, month) among the rows of `source`, then
    swap them in. Each is filled under a loading name, its constants added (with a default, so kept
    once; not null, and checked to be the month's, so that ATTACH need not read the rows), and
    analyzed, since the next models read it at once. Then the swap, last, so the parent's exclusive
    lock is held only from there to the commit: the `replaced` tables dropped, each new one renamed and
    attached to its service's table (created where the parent has none).

    Args:
        parent: the partitioned table.
        source: a relation of the model's rows (every column).
        existing_service_tables: the parent's service tables (partitions_of) before this build.
        replaced: the tables to drop (month tables, or a --full-refresh's old service tables).
#}
{% macro month_tables_fill_sql(parent, source, existing_service_tables, replaced) -%}
    {%- set constants = month_table_constants() -%}
    {%- set layout = month_table_columns(source) -%}
    {%- set columns = layout.rows -%}
    {%- set constant_types = layout.constants -%}
    {%- set names = columns | map(attribute='quoted') | join(', ') -%}
    {%- set not_null = contract_not_null_columns() -%}
    {%- set service_tables = {} -%}
    {%- do service_tables.update(existing_service_tables) -%}
    {%- set pairs = run_query(
        'select service, pickup_month from ' ~ source ~ ' group by 1, 2 order by 1, 2'
    ).rows -%}
    {%- set built = [] -%}
    {%- for row in pairs -%}
        {%- set service = month_table_service(row[0]) -%}
        {%- set month = row[1].strftime('%Y-%m-%d') -%}
        {%- set table = month_table_relation(parent, service, month) -%}
        {%- set loading = table.incorporate(path={'identifier': table.identifier ~ '__loading'}) -%}
        {%- set values = {'service': "'" ~ service ~ "'", 'pickup_month': "cast('" ~ month ~ "' as date)"} -%}
        {%- do built.append({'service': service, 'month': month, 'table': table, 'loading': loading}) %}
    drop table if exists {{ loading }};
    create table {{ loading }} (
        {%- for column in columns %}
        {{ column.quoted }} {{ column.data_type }}{{ ' not null' if column.name in not_null }}{{ ',' if not loop.last }}
        {%- endfor %}
    );
    insert into {{ loading }} ({{ names }})
    select {{ names }}
    from {{ source }}
    where service = {{ values.service }} and pickup_month = {{ values.pickup_month }};
    alter table {{ loading }}
        {%- for name in constants %}
        add column {{ name }} {{ constant_types[name] }} not null default {{ values[name] }},
        {%- endfor %}
        add constraint month_table_values check (
            {%- for name in constants %}{{ name }} = {{ values[name] }}{{ ' and ' if not loop.last }}{% endfor -%}
        );
    alter table {{ loading }}
        {%- for name in constants %}
        alter column {{ name }} drop default{{ ',' if not loop.last }}
        {%- endfor %};
    analyze {{ loading }};
    {%- endfor %}
    {%- for table in replaced %}
    drop table {{ table }};
    {%- endfor %}
    {%- for item in built %}
    {%- if item.service not in service_tables %}
    {%- do service_tables.update({item.service: month_table_relation(parent, item.service, none)}) %}
    create table {{ service_tables[item.service] }} partition of {{ parent }}
    for values in ('{{ item.service }}') partition by list (pickup_month);
    {%- endif %}
    alter table {{ item.loading }} rename to {{ item.table.identifier }};
    alter table {{ service_tables[item.service] }}
    attach partition {{ item.table }} for values in (cast('{{ item.month }}' as date));
    {%- endfor %}
{%- endmacro %}


{#
    A partitioned model's tables, from the catalog's partition bounds: `services` (service -> its
    partitioned table, every one, with months or not) and `months` (each month table: service,
    pickup_month as 'YYYY-MM-DD' whatever the session's DateStyle, relation). Both empty when the model
    does not exist or is not stored so.

    Args:
        parent: the partitioned table.
#}
{% macro partitions_of(parent) -%}
    {%- set query -%}
        select
            split_part(pg_get_expr(service_table.relpartbound, service_table.oid), '''', 2),
            service_table.relname,
            to_char(cast(split_part(pg_get_expr(month_table.relpartbound, month_table.oid), '''', 2) as date), 'YYYY-MM-DD'),
            month_table.relname
        from pg_inherits as service_link
        inner join pg_class as service_table on service_link.inhrelid = service_table.oid
        left join pg_inherits as month_link on service_table.oid = month_link.inhparent
        left join pg_class as month_table on month_link.inhrelid = month_table.oid
        where service_link.inhparent = to_regclass('{{ parent }}')
        order by 1, 3
    {%- endset -%}
    {%- set partitions = {'services': {}, 'months': []} -%}
    {%- for service, service_table, month, month_table in run_query(query).rows -%}
        {%- do partitions.services.update({service: parent.incorporate(path={'identifier': service_table})}) -%}
        {%- if month_table is not none -%}
            {%- do partitions.months.append({
                'service': service,
                'pickup_month': month,
                'relation': parent.incorporate(path={'identifier': month_table}),
            }) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(partitions) }}
{%- endmacro %}


{#
    The table of a service's month (`<model>__<service>_<yyyy>_<mm>`), or of the service alone
    (`<model>__<service>`) when month is none; named after the model, not `parent`, so the tables of a
    --full-refresh keep their names once dbt has swapped the new table in.

    Args:
        parent: the partitioned table.
        service: a service name (month_table_service).
        month: 'YYYY-MM-DD', or none.
#}
{% macro month_table_relation(parent, service, month) -%}
    {%- set name = this.identifier ~ '__' ~ service ~ ('' if month is none else '_' ~ month[0:4] ~ '_' ~ month[5:7]) -%}
    {{ return(parent.incorporate(path={'identifier': name})) }}
{%- endmacro %}


{#
    A service name as it goes into a table name and a literal: lower-case letters, digits and
    underscores only, else the build stops naming the value.

    Args:
        value: the service of a row.
#}
{% macro month_table_service(value) -%}
    {%- if not modules.re.fullmatch('[a-z][a-z0-9_]{0,15}', value | string) -%}
        {{ exceptions.raise_compiler_error("month tables: service " ~ (value | string)[:40] ~ " is not a service name") }}
    {%- endif -%}
    {{ return(value | string) }}
{%- endmacro %}


{#
    The columns of `source`, as a month table holds them: `rows`, the columns but the constants (name,
    quoted, data_type) in the order a month table stores them (8-byte aligned first, then 4, 2 and 1,
    variable-length last, so no value waits on padding), and `constants` (name -> type).

    Args:
        source: a relation with the model's columns.
#}
{% macro month_table_columns(source) -%}
    {%- set query -%}
        select attribute.attname, format_type(attribute.atttypid, attribute.atttypmod)
        from pg_attribute as attribute
        inner join pg_type as type on attribute.atttypid = type.oid
        where
            attribute.attrelid = to_regclass('{{ source }}')
            and attribute.attnum > 0
            and not attribute.attisdropped
        order by
            type.typlen = -1,
            case type.typalign when 'd' then 0 when 'i' then 1 when 's' then 2 else 3 end,
            attribute.attnum
    {%- endset -%}
    {%- set columns = {'rows': [], 'constants': {}} -%}
    {%- for name, data_type in run_query(query).rows -%}
        {%- if name in month_table_constants() -%}
            {%- do columns.constants.update({name: data_type}) -%}
        {%- else -%}
            {%- do columns.rows.append({'name': name, 'quoted': adapter.quote(name), 'data_type': data_type}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not columns.rows -%}
        {{ exceptions.raise_compiler_error("month tables: " ~ source ~ " has no columns to store") }}
    {%- endif -%}
    {%- for name in month_table_constants() if name not in columns.constants -%}
        {{ exceptions.raise_compiler_error("month tables: " ~ source ~ " has no column " ~ name) }}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}


{# The names of the model's columns with a not_null constraint (the contract's, enforced on the parent). #}
{% macro contract_not_null_columns() -%}
    {%- set names = [] -%}
    {%- for name, column in model.columns.items() -%}
        {%- if column.constraints | selectattr('type', 'equalto', 'not_null') | list -%}
            {%- do names.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}


{# The session's temporary table of a first build's rows, before they go to their month tables. #}
{% macro month_rows_relation(relation) -%}
    {{ return(api.Relation.create(identifier=relation.identifier ~ '__month_rows', type='table')) }}
{%- endmacro %}
