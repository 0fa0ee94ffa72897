{#
    Which load of each lake partition (service, month) a fact was built from: the fact's build stamps,
    one row per partition in the table `<fact>_partition_builds` beside the fact, not a timestamp on
    each of its rows (8 bytes a row, and the index that served the probes, 7 more). Like the build log
    dbt_month_builds, it is the warehouse's bookkeeping, read by macros, not a source or a model.

    Written in the fact's own transaction by its post-hook (record_partition_builds): a crash leaves
    the fact and its stamps as they were together. The stamps are the loads captured before the fact's
    rows were read (capture_partition_builds), so a load that commits in between leaves a stamp older
    than the rows and the month is rebuilt again, never the reverse. months_to_rebuild reads them
    (partition_builds_sql), and so do the models that roll a fact up, to stamp their own months with
    the load the fact's rows came from.
#}


{#
    The table of a fact's build stamps: beside the fact, named after it.

    Args:
        fact: the fact's relation (`this` in the fact, ref() elsewhere).
#}
{% macro partition_builds_table(fact) -%}
    {{ return(api.Relation.create(
        database=fact.database, schema=fact.schema, identifier=fact.identifier ~ '_partition_builds', type='table'
    )) }}
{%- endmacro %}


{#
    A fact's build stamps as the relation months_to_rebuild and the roll-ups read: service,
    pickup_month, _loaded_at (the load the fact's rows of that partition were built from). Unit tests
    give them as `this` (a fixture with those columns). When the fact's own incremental run is about
    to read them, the table is created first if missing (a warehouse a release before the stamps built).

    Args:
        fact: the fact's relation (`this` in the fact, ref() elsewhere).
#}
{% macro partition_builds_sql(fact) -%}
    {%- if model.resource_type == 'unit_test' -%}
        {{ return(this) }}
    {%- endif -%}
    {#- the fact's own incremental run; a roll-up reads them after the fact's build wrote them -#}
    {%- if execute and flags.INTROSPECT and fact.identifier == this.identifier and is_incremental() -%}
        {%- do run_query(create_partition_builds(fact)) -%}
    {%- endif %}
    (
        select
            service,
            pickup_month,
            loaded_at as _loaded_at
        from {{ partition_builds_table(fact) }}
    )
{%- endmacro %}


{#
    `create table if not exists` of a fact's build stamps: before its first incremental run reads them
    and before its post-hook writes them. One table per fact, so two facts building at once never race
    to create the same table.

    Args:
        fact: the fact's relation.
#}
{% macro create_partition_builds(fact) -%}
    create table if not exists {{ partition_builds_table(fact) }} (
        service varchar(8),
        pickup_month date,
        loaded_at timestamp
    )
{%- endmacro %}


{#
    The session's temporary table of the stamps a build of the fact writes (capture_partition_builds
    fills it, record_partition_builds reads it). Unqualified, like rebuild_months_relation.
#}
{% macro captured_builds_relation(fact) -%}
    {{ return(api.Relation.create(identifier=fact.identifier ~ '__captured_builds', type='table')) }}
{%- endmacro %}


{#
    Captures, while the fact is rendered and before its rows are read, the newest load of each
    partition the build rebuilds: every partition of the fact's services on a first build or
    --full-refresh (`months` none; plus a row with a null service that says "every month"), else those
    of the months listed. Only in `dbt run` and `dbt build` (the commands that run the post-hook).

    Args:
        fact: the fact's relation (`this`).
        load_log: the load log, ref('stg_tlc__partition_loads').
        services: the datasets the fact holds.
        months: what months_to_rebuild returned.
#}
{% macro capture_partition_builds(fact, load_log, services, months) -%}
    {#- only a command that builds runs the post-hook: a compile or `dbt docs generate` captures nothing -#}
    {%- if not execute or flags.WHICH not in ('run', 'build') or model.resource_type == 'unit_test'
        or months is string -%}
        {{ return('') }}
    {%- endif -%}
    {%- set captured = captured_builds_relation(fact) -%}
    {%- do run_query('drop table if exists ' ~ captured) -%}
    {%- set query -%}
        create temporary table {{ captured }} as
        select latest_loads.service, latest_loads.pickup_month, latest_loads.loaded_at
        from (
            {{ latest_partition_loads_sql(load_log, services) }}
        ) as latest_loads
        {{- where_months_to_build('latest_loads.pickup_month', months) }}
        {%- if months is none %}

        union all

        select cast(null as varchar(8)), cast(null as date), cast(null as timestamp)
        {%- endif %}
    {%- endset -%}
    {%- do run_query(query) -%}
{%- endmacro %}


{#
    The fact's post-hook, in its transaction: the stamps of the months it rebuilt replace theirs (all of
    them after a first build or --full-refresh), from what capture_partition_builds captured.
#}
{% macro record_partition_builds() -%}
    {%- set stamps = partition_builds_table(this) -%}
    {%- set captured = captured_builds_relation(this) -%}
    {{ create_partition_builds(this) }};
    delete from {{ stamps }}
    where
        pickup_month in (select captured.pickup_month from {{ captured }} as captured)
        or exists (select 1 from {{ captured }} as captured where captured.service is null);
    insert into {{ stamps }} (service, pickup_month, loaded_at)
    select service, pickup_month, loaded_at
    from {{ captured }}
    where service is not null
{%- endmacro %}


{#
    The CTE `partition_builds`: the build stamps of every fact a model reads (service, pickup_month,
    _loaded_at; the facts hold disjoint services). Ends with a comma: the model's next CTE follows.

    Args:
        facts: the relations of the facts the model reads ([ref('fact_trips')], ...).
#}
{% macro partition_builds_cte(facts) -%}
partition_builds as (

    {%- for fact in facts %}
    select * from {{ partition_builds_sql(fact) }} as {{ fact.identifier }}_builds
    {%- if not loop.last %}

    union all
    {% endif %}
    {%- endfor %}

),
{%- endmacro %}


{#
    The CTE `stamped` of a roll-up of the facts (after partition_builds_cte): its `aggregated` rows
    (with service and pickup_month) and, as partition_loaded_at, the load the facts' rows of that
    partition were built from (their build stamps): the roll-up's own stamp, which its
    months_to_rebuild compares with the load log. Without a stamp (a partition loaded while the fact
    was being built, so its rows are newer than the captured loads) the oldest time: the fact and the
    roll-up both rebuild that month next run. Ends with a comma: the model's next CTE follows.

    Args:
        facts: the relations of the facts the roll-up reads ([ref('fact_trips')], ...).
#}
{% macro stamped_by_partition_builds(facts) -%}
{{ partition_builds_cte(facts) }}

stamped as (

    select
        aggregated.*,
        coalesce(partition_builds._loaded_at, cast('1970-01-01' as timestamp)) as partition_loaded_at
    from aggregated
    left join partition_builds
        on
            aggregated.service = partition_builds.service
            and aggregated.pickup_month = partition_builds.pickup_month

),
{%- endmacro %}
