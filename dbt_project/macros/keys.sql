{#
    Key of the unknown member every dimension carries.

    Facts map a code the reference data does not know (or a null) to it, so a left join never drops a
    trip and relationships tests hold.
#}
{% macro unknown_member_id() -%}
    -1
{%- endmacro %}


{#
    A deterministic surrogate key: md5 over the columns joined by '-', each cast to varchar with nulls
    replaced by a marker so (null, 'a') and ('', 'a') differ; the scheme of
    dbt_utils.generate_surrogate_key, which this project cannot install (no network for dbt Hub).
    Plain md5 and || rather than dbt.hash/dbt.concat, whose Redshift forms mix in upper-case TEXT.

    Args:
        columns: list of SQL expressions.
#}
{% macro generate_surrogate_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append(
            "coalesce(cast(" ~ column ~ " as varchar), '_dbt_utils_surrogate_key_null_')"
        ) -%}
        {%- if not loop.last %}{% do parts.append("'-'") %}{% endif -%}
    {%- endfor -%}
    md5({{ parts | join(" || ") }})
{%- endmacro %}



{#
    The warehouse type of a trip's 128-bit key (the lake's trip_key, 32 hex digits): PostgreSQL's uuid,
    16 bytes a row where the text took 33 (the local raw layer stores it so already); char(32) on
    Redshift, which has no uuid type. The facts' contracts state the same per target (fact_*.yml).
#}
{% macro trip_id_type() -%}
    {{ return(adapter.dispatch('trip_id_type')()) }}
{%- endmacro %}

{% macro default__trip_id_type() -%}
    uuid
{%- endmacro %}

{% macro redshift__trip_id_type() -%}
    char(32)
{%- endmacro %}
