-- The least-privileged PostgreSQL role for dbt: reads the raw layer, owns only its own schemas.
--
-- Run once per warehouse database, with psql, as the role that owns the raw layer (the loader;
-- `postgres` on the embedded server), before dbt first builds there:
--
--   psql -X -v ON_ERROR_STOP=1 -v dbt_role=tlc_dbt -v dbt_schema=analytics -f orchestration/local/sql/dbt_role.sql
--
-- then point dbt at it with PGUSER=tlc_dbt (and a password set out of band, e.g. `\password tlc_dbt`;
-- none is written here). What the role can do, and nothing more:
--   * connect to this database and create temporary tables (dbt's unit tests and incremental
--     models use them);
--   * read every table of `raw` (the loader's partitions, quarantine and load log), present and future;
--   * create, replace and drop relations in the schemas it owns: <dbt_schema> and
--     <dbt_schema>_staging, _intermediate, _seeds, _snapshots (dbt_project/macros/generate_schema_name.sql).
-- It cannot write, truncate or drop anything in `raw`, create schemas, create databases or roles.
-- tests/reliability/test_rel_security.py applies this file and runs `dbt build` as the role.

select format('create role %I login nosuperuser nocreatedb nocreaterole noreplication nobypassrls', :'dbt_role')
where not exists (select from pg_roles where rolname = :'dbt_role') \gexec

-- the database: connect and temporary tables only (no CREATE: schemas are made below, by the owner)
grant connect, temporary on database :"DBNAME" to :"dbt_role";
revoke create on database :"DBNAME" from public;
revoke create on schema public from public;

-- raw: read only, including tables the loader creates later
create schema if not exists raw;
grant usage on schema raw to :"dbt_role";
grant select on all tables in schema raw to :"dbt_role";
alter default privileges in schema raw grant select on tables to :"dbt_role";

-- dbt's own schemas, owned by the role so it can replace and drop what it builds there
select format('create schema if not exists %I authorization %I', :'dbt_schema' || suffix, :'dbt_role')
from unnest(array['', '_staging', '_intermediate', '_seeds', '_snapshots']) as suffixes (suffix) \gexec
