{#
    Which pickup months an incremental model over the lake (fact_trips, fact_fhv_trips and the monthly
    aggregates rpt_code_counts, int_base_months_aggregated) rebuilds, resolved ONCE, before the model's
    SQL is rendered, so the same list both filters the source (literal predicates on the raw tables'
    partition columns: Spectrum prunes partitions, Postgres prunes child tables at plan time) and
    tells the `rebuild_months` strategy what to delete (a month whose reload left no trips must lose
    its old rows too: a delete keyed on the new rows would miss it).

    The resolution is written to a temporary table (rebuild_months_relation) and read back from it,
    here and by the strategy: the materialization renders the strategy in a new Jinja context, so the
    list cannot travel in a variable, and resolving again there could disagree with the rows already
    selected (a load committed in between). dbt compiles and executes a model on one connection, so
    the session's temporary table is what the strategy reads; were it missing, the strategy fails
    rather than guess.

    Returns:
        none     not an incremental run (first build, --full-refresh): build every month.
        list     'YYYY-MM-DD' month starts, sorted (possibly empty): rebuild exactly these.
        'query'  resolve in SQL instead (months_to_rebuild_sql as a CTE): unit tests, whose `this` and
                 refs are fixture CTEs no standalone query can read, and offline compiles
                 (--no-introspect) without var `rebuild_months`.

    Args:
        load_log: relation of the load log (service, pickup_month, loaded_at).
        built: what the model was built from, per partition (service, pickup_month, _loaded_at): `this`
            for a roll-up that stamps its rows, a fact's build stamps (partition_builds_sql).
        services: the datasets the model holds (['yellow', 'green']): only their loads count, so
            loading another dataset's month never rebuilds this model's copy of that month.
#}
{% macro months_to_rebuild(load_log, built, services) -%}
    {%- if not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if not flags.INTROSPECT -%}
        {%- set requested = requested_rebuild_months() -%}
        {{ return(requested if requested else 'query') }}
    {%- endif -%}
    {%- if model.resource_type == 'unit_test' or not execute -%}
        {{ return('query') }}
    {%- endif -%}
    {%- set months_table = rebuild_months_relation(this) -%}
    {#- a session may compile the model more than once (sqlfluff's dbt templater does): the last wins -#}
    {%- do run_query('drop table if exists ' ~ months_table) -%}
    {%- do run_query(
        'create temporary table ' ~ months_table ~ ' as ' ~ months_to_rebuild_sql(load_log, built, services)
    ) -%}
    {{ return(recorded_rebuild_months(months_table)) }}
{%- endmacro %}


{#
    The query behind months_to_rebuild: one column, pickup_month, one row per month to rebuild.

    A month is rebuilt when a (service, month) partition of it, of one of `services`, was loaded (load
    log) after the load it was built from, or was never built; plus the newest `lookback_months`
    loaded months of those services; plus var `rebuild_months`. NOT EXISTS rather than a grouped max
    over the table: on Postgres each load-log row is one probe of a roll-up's (pickup_month, service,
    _loaded_at) index or of a fact's stamps (one row per partition), so resolving costs the same at 12
    months of history as at 1; Redshift runs it as a join on two narrow columns.

    Args:
        load_log: relation of the load log (service, pickup_month, loaded_at).
        built: per partition, the load it was built from (service, pickup_month, _loaded_at).
        services: the datasets the model holds.
#}
{% macro months_to_rebuild_sql(load_log, built, services) -%}
    select distinct latest_loads.pickup_month
    from (
        {{ latest_partition_loads_sql(load_log, services) }}
    ) as latest_loads
    where not exists (
        select 1
        from {{ built }} as built
        where
            built.pickup_month = latest_loads.pickup_month
            and built.service = latest_loads.service
            and built._loaded_at >= latest_loads.loaded_at
    )
    {{- lookback_months_sql(load_log, services) }}
    {%- for month in requested_rebuild_months() %}

    union

    select cast('{{ month }}' as date)
    {%- endfor -%}
{%- endmacro %}


{#
    The newest load of each (service, month) partition: service, pickup_month, loaded_at. The loader
    keeps one row per partition (upserted on reload); max() also copes with a log that keeps every
    reload.

    Args:
        load_log: the load log (a relation, or the name of a CTE over it).
        services: only these datasets; none: all.
#}
{% macro latest_partition_loads_sql(load_log, services=none) -%}
    select
        service,
        pickup_month,
        max(loaded_at) as loaded_at
    from {{ load_log }}
    {%- if services %}
    where {{ services_in('service', services) }}
    {%- endif %}
    group by 1, 2
{%- endmacro %}


{#
    `union` the newest var(lookback_months) loaded months of the given services in the load log;
    nothing when the var is 0.

    Args:
        load_log: relation of the load log (service, pickup_month).
        services: the datasets the model holds.
#}
{% macro lookback_months_sql(load_log, services) -%}
    {%- set lookback = var('lookback_months') | int -%}
    {%- if lookback > 0 %}

    union

    select loads.pickup_month
    from {{ load_log }} as loads
    where
        {{ services_in('loads.service', services) }}
        and loads.pickup_month > (
            select {{ dbt.dateadd('month', -lookback, 'max(newest.pickup_month)') }}
            from {{ load_log }} as newest
            where {{ services_in('newest.service', services) }}
        )
    {%- endif -%}
{%- endmacro %}


{#
    `<column> in ('a', 'b')`: the services a model holds, as literals.

    Args:
        column: the service column.
        services: list of service names.
#}
{% macro services_in(column, services) -%}
    {{ column }} in ({% for service in services %}'{{ service }}'{{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}


{#
    Var `rebuild_months` (['YYYY-MM', ...]) as sorted 'YYYY-MM-DD' month starts; a value of another
    shape stops the run with the offending value named.
#}
{% macro requested_rebuild_months() -%}
    {%- set months = [] -%}
    {%- for month in var('rebuild_months', []) -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-(0[1-9]|1[0-2])', month | string) -%}
            {{ exceptions.raise_compiler_error(
                "var rebuild_months: " ~ (month | string)[:40] ~ " is not a month YYYY-MM"
            ) }}
        {%- endif -%}
        {%- do months.append((month | string) ~ '-01') -%}
    {%- endfor -%}
    {{ return(months | unique | sort | list) }}
{%- endmacro %}


{#
    The session's temporary table that holds the months an incremental run of `relation` rebuilds
    (written by months_to_rebuild, read by the rebuild_months strategy). Unqualified: temporary tables
    live in the session's own schema on Postgres and Redshift alike.

    Args:
        relation: the incremental model's relation (`this`, or the strategy's target_relation).
#}
{% macro rebuild_months_relation(relation) -%}
    {{ return(api.Relation.create(identifier=relation.identifier ~ '__rebuild_months', type='table')) }}
{%- endmacro %}


{#
    The months recorded in a rebuild_months_relation, as sorted 'YYYY-MM-DD' strings.

    Args:
        months_table: the temporary table (rebuild_months_relation).
#}
{% macro recorded_rebuild_months(months_table) -%}
    {%- set months = [] -%}
    {%- for row in run_query('select pickup_month from ' ~ months_table ~ ' order by 1').rows -%}
        {%- do months.append(row[0].strftime('%Y-%m-%d')) -%}
    {%- endfor -%}
    {{ return(months) }}
{%- endmacro %}


{#
    The rows of the given months of a relation over the lake, one `select ... where year = Y and
    month = M` per month joined by `union all`: literals on the partition columns, the form Spectrum
    prunes partitions on and Postgres prunes its range (year, month) partitions on at plan time.

    Not one `where` with an OR of months: Postgres factors `year = 2024` out of
    `(year = 2024 and month = 2) or (year = 2024 and month = 3)`, prunes each remaining OR arm on its
    own, and `month = 2` without the leading key column prunes nothing, so every month of the year was
    scanned (an IN list behaves the same). An empty list selects no row.

    Args:
        relation: the relation to read (a view over the lake tables).
        months: list of 'YYYY-MM-DD' month starts.
        year_column: column of `relation`, the partition year.
        month_column: column of `relation`, the partition month 1..12.
#}
{% macro select_partition_months(relation, months, year_column, month_column) -%}
    {%- for month in (months | sort) or [none] %}
    select * from {{ relation }}
    {%- if month is none %}
    where 1 = 0
    {%- else %}
    where {{ year_column }} = {{ month[0:4] | int }} and {{ month_column }} = {{ month[5:7] | int }}
    {%- endif %}
    {%- if not loop.last %}

    union all
    {% endif %}
    {%- endfor %}
{%- endmacro %}


{#
    The rows of `relation` (a view over the lake with partition_year and partition_month) an
    incremental model reads: every row when it builds every month or resolves its months in SQL
    (`months` none or 'query', see months_to_rebuild), else only the months in the list, as literals
    on the partition columns (select_partition_months) so the other months' partitions are never read.

    Args:
        relation: the relation to read.
        months: what months_to_rebuild returned.
#}
{% macro select_months_to_build(relation, months) -%}
    {%- if months is none or months is string %}
    select * from {{ relation }}
    {%- else %}
    {{ select_partition_months(relation, months, 'partition_year', 'partition_month') }}
    {%- endif %}
{%- endmacro %}


{#
    `where <column> in (...)`: the months an incremental model builds, on a built model's month column
    (a mart rather than the lake, so no partition columns to prune on): nothing when it builds every
    month, the `months_to_build` CTE of partition_load_ctes when the months are resolved in SQL, else
    the listed months as literals (an empty list selects no row).

    Args:
        column: the month column (first day of the month, a date).
        months: what months_to_rebuild returned.
#}
{% macro where_months_to_build(column, months) -%}
    {%- if months == 'query' %}
    where {{ column }} in (select months_to_build.pickup_month from months_to_build)
    {%- elif months is not none and months | length == 0 %}
    where 1 = 0
    {%- elif months is not none %}
    where {{ column }} in (
        {%- for month in months | sort %}cast('{{ month }}' as date){{ ', ' if not loop.last }}{% endfor -%}
    )
    {%- endif %}
{%- endmacro %}


{#
    Custom incremental strategy (`incremental_strategy='rebuild_months'`): delete exactly the months the
    model resolved (months_to_rebuild) from the target, then insert the new rows (a model stored as
    month tables on Postgres swaps in new tables for those months instead: month_tables.sql); the months are
    recorded in the build log (month_builds.sql), which scopes this `dbt build`'s tests to them. dbt's
    delete+insert deletes only the key values present in the new rows, so a month whose reload left
    zero trips kept its old rows, and an incremental run no longer equalled a full refresh.

    The months come from the session's temporary table months_to_rebuild wrote while the model was
    rendered (one resolution per run), read back as literals so the delete uses pickup_month's zone maps on Redshift (on Postgres
    they pick the month tables to replace).

    Args:
        arg_dict: dbt's strategy arguments (target_relation, temp_relation, unique_key, dest_columns).
#}
{% macro get_incremental_rebuild_months_sql(arg_dict) -%}
    {%- set months = recorded_rebuild_months(rebuild_months_relation(arg_dict['target_relation'])) -%}
    {%- if stored_as_month_tables() -%}
        {{ return(month_tables_rebuild_sql(arg_dict, months)) }}
    {%- endif -%}
    {%- set dest_cols_csv = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {#- first: the last statement's row count is what dbt reports as the model's rows -#}
    {{ record_month_builds(arg_dict['target_relation'], months) }};
    {%- if months %}
    delete from {{ arg_dict['target_relation'] }}
    where {{ arg_dict['unique_key'] }} in (
        {%- for month in months %}cast('{{ month }}' as date){% if not loop.last %}, {% endif %}{% endfor -%}
    );
    {% endif %}
    insert into {{ arg_dict['target_relation'] }} ({{ dest_cols_csv }})
    (
        select {{ dest_cols_csv }}
        from {{ arg_dict['temp_relation'] }}
    )
{%- endmacro %}


{#
    The CTEs an incremental model over the lake joins its trips to (from_loaded_partitions): each
    partition's newest load as `latest_loads`, and, when the months are resolved in SQL (`months` is
    'query': unit tests and offline compiles), the months to build as `months_to_build`. Both end with
    a comma: the model's next CTE follows.

    Args:
        partition_loads: the load log (the name of the model's CTE over it).
        services: the datasets the model holds.
        months: what months_to_rebuild returned.
        built: what months_to_rebuild was given as `built` (none: `this`).
#}
{% macro partition_load_ctes(partition_loads, services, months, built=none) -%}
latest_loads as (

    {{ latest_partition_loads_sql(partition_loads) }}

),
{{- months_to_build_cte(services, months, built) }}
{%- endmacro %}


{#
    When the months are resolved in SQL (`months` is 'query': unit tests and offline compiles), the
    CTE `months_to_build` that where_months_to_build reads, ending with a comma; otherwise nothing. For
    incremental models over a mart, which need no `latest_loads` (partition_load_ctes has both).

    Args:
        services: the datasets the model holds.
        months: what months_to_rebuild returned.
        built: what months_to_rebuild was given as `built` (none: `this`).
#}
{% macro months_to_build_cte(services, months, built=none) -%}
{%- if months == 'query' %}

-- Unit tests and offline compiles only: the same month resolution as months_to_rebuild, in SQL.
months_to_build as (

    {{ months_to_rebuild_sql(ref('stg_tlc__partition_loads'), this if built is none else built, services) }}

),
{%- endif %}
{%- endmacro %}


{#
    FROM `trips` joined to its partition's newest load, limited to `months_to_build` when the months are resolved in SQL.
    Inner join on purpose: a partition counts as loaded once its load-log row exists (the loader writes
    both in one transaction); every_partition_has_a_load on the intermediate views guards the contract.

    Args:
        trips: the name of the model's CTE of trips (service, pickup_month).
        months: what months_to_rebuild returned.
#}
{% macro from_loaded_partitions(trips, months) -%}
    from {{ trips }}
    inner join latest_loads
        on
            {{ trips }}.service = latest_loads.service
            and {{ trips }}.pickup_month = latest_loads.pickup_month
    {%- if months == 'query' %}
    where {{ trips }}.pickup_month in (select months_to_build.pickup_month from months_to_build)
    {%- endif %}
{%- endmacro %}
