{#
    Seconds between two naive timestamps, as a number (fractions kept on Postgres).

    Postgres has no datediff; Redshift's datediff is the idiomatic (and sort-key friendly) form.
    dbt.datediff(..., 'second') would work on Postgres too but expands to a page of date_part calls.

    Args:
        start_at: SQL expression, timestamp.
        end_at: SQL expression, timestamp.
#}
{% macro timestamp_diff_seconds(start_at, end_at) -%}
    {{ return(adapter.dispatch('timestamp_diff_seconds')(start_at, end_at)) }}
{%- endmacro %}

{% macro default__timestamp_diff_seconds(start_at, end_at) -%}
    extract(epoch from ({{ end_at }} - {{ start_at }}))
{%- endmacro %}

{% macro redshift__timestamp_diff_seconds(start_at, end_at) -%}
    datediff(second, {{ start_at }}, {{ end_at }})
{%- endmacro %}


{#
    A timestamp-with-time-zone column as a naive UTC timestamp.

    Postgres converts timestamptz -> timestamp with the *session* time zone, so a plain cast would make
    `_loaded_at` depend on who runs dbt; `at time zone 'UTC'` pins it. Redshift casts timestamptz to
    UTC, and on a naive Spectrum column `at time zone` would do the opposite conversion, so a cast.

    Args:
        column: SQL expression, timestamptz (or timestamp on Spectrum).
#}
{% macro to_utc_timestamp(column) -%}
    {{ return(adapter.dispatch('to_utc_timestamp')(column)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(column) -%}
    ({{ column }} at time zone 'UTC')
{%- endmacro %}

{# dbt-redshift falls back to postgres__ macros, so Redshift needs its own even where it matches default #}
{% macro redshift__to_utc_timestamp(column) -%}
    cast({{ column }} as timestamp)
{%- endmacro %}


{#
    First day of a lake partition's month, from its integer `year` and `month` partition columns.

    to_date over yyyymm text works unchanged on Postgres and Redshift (Redshift has no make_date).

    Args:
        year_column: SQL expression, integer year.
        month_column: SQL expression, integer month 1..12.
#}
{% macro partition_month_start(year_column, month_column) -%}
    to_date(cast({{ year_column }} * 100 + {{ month_column }} as varchar), 'YYYYMM')
{%- endmacro %}
