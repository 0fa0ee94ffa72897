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
