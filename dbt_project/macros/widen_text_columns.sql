{#
    Before an incremental model runs, widens each text column of its existing table that the model's
    YAML now declares wider (`data_type: varchar(N)`), so an existing warehouse's next run carries on
    instead of stopping at the schema-change check (`on_schema_change='fail'`, which contracted
    incremental models must keep). Only widening: any other change still fails there. Run before the
    model's transaction (Redshift alters a column type only outside one).
#}
{% macro widen_text_columns() %}
    {%- if execute and model.config.materialized == 'incremental' -%}
        {%- set existing = adapter.get_relation(this.database, this.schema, this.identifier) -%}
        {%- if existing is not none and existing.is_table -%}
            {%- set current = {} -%}
            {%- for column in adapter.get_columns_in_relation(existing) -%}
                {%- do current.update({column.name | lower: column}) -%}
            {%- endfor -%}
            {%- for name, declared in model.columns.items() -%}
                {%- set have = current.get(name | lower) -%}
                {%- set wanted = (declared.data_type or '') | lower | replace(' ', '') -%}
                {%- if have is not none and have.is_string() and wanted.startswith('varchar(') -%}
                    {%- set size = wanted[8:-1] | int -%}
                    {%- if have.string_size() < size -%}
                        {%- do run_query(
                            'alter table ' ~ existing ~ ' alter column ' ~ adapter.quote(name)
                            ~ ' type varchar(' ~ size ~ ')'
                        ) -%}
                        {%- do log('widened ' ~ existing ~ '.' ~ name ~ ' to varchar(' ~ size ~ ')', info=true) -%}
                    {%- endif -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
