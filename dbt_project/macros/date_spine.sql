{#
    One row per day from start_date to end_date inclusive, column `date_day`.

    The day count is worked out in Jinja from the two literal dates, so compiling needs no warehouse
    query (dbt.date_spine asks the warehouse, which breaks offline `dbt compile` for Redshift). Numbers
    come from cross-joined digits because Redshift's generate_series only runs on the leader node and
    cannot feed a table.

    Args:
        start_date: 'YYYY-MM-DD' string.
        end_date: 'YYYY-MM-DD' string, not before start_date.
#}
{% macro date_spine(start_date, end_date) -%}
    {%- set parse = modules.datetime.datetime.strptime -%}
    {%- set n_days = (parse(end_date, '%Y-%m-%d') - parse(start_date, '%Y-%m-%d')).days + 1 -%}
    {%- if n_days < 1 -%}
        {{ exceptions.raise_compiler_error("date_spine: end_date " ~ end_date ~ " is before " ~ start_date) }}
    {%- endif -%}
    {%- set n_digits = (n_days | string | length) -%}

    with

    digits as (
        {% for d in range(10) %}
        select {{ d }} as digit{% if not loop.last %} union all{% endif %}
        {% endfor %}
    ),

    numbers as (

        select
            {% for p in range(n_digits) -%}
            d{{ p }}.digit * {{ 10 ** p }}{% if not loop.last %} + {% endif %}
            {%- endfor %} as day_offset
        from
            {% for p in range(n_digits) -%}
            digits as d{{ p }}{% if not loop.last %} cross join {% endif %}
            {%- endfor %}

    )

    select
        cast({{ dbt.dateadd('day', 'day_offset', "cast('" ~ start_date ~ "' as date)") }} as date) as date_day
    from numbers
    where day_offset < {{ n_days }}
{%- endmacro %}
