-- The least-privileged Redshift user for dbt: reads the Spectrum schema, owns only its own schemas.
-- The Redshift counterpart of orchestration/local/sql/dbt_role.sql.
--
-- Terraform applies this file at deploy time (infra/modules/warehouse/dbt_user.tf): it renders the
-- names below, cuts the file at each semicolon, and sends every statement through the Redshift Data
-- API as the namespace admin (the Redshift-managed admin secret, read by whoever runs terraform
-- apply; the dbt task never sees it). The first statement runs once per user name; the others are
-- idempotent and run again whenever this file changes. Comments are whole lines starting with two
-- dashes, and no statement holds a semicolon of its own.
--
-- The user is the dbt ECS task role's identity: Redshift Serverless maps an IAM role to the
-- database user "IAMR:<role name>" when that role calls redshift-serverless:GetCredentials, which
-- is how dbt signs in (profiles.yml.example, target prod, method iam). No password exists, so
-- there is nothing to store, leak or rotate: each connection gets a temporary one (15 minutes).
--
-- What the user can do, and nothing more:
--   * create temporary tables in the database (dbt's incremental models stage rows in them);
--   * read the external schema over the lake (Spectrum), the only source dbt reads on Redshift;
--   * create, replace and drop relations in the schemas it owns: <dbt_schema> and
--     <dbt_schema>_staging, _intermediate, _seeds, _snapshots (dbt_project/macros/generate_schema_name.sql).
-- It is no superuser, cannot create users, databases or schemas, and cannot create anything in
-- public. tests/reliability/test_rel_security.py checks this file statement by statement.

-- The user: no password (IAM only), no CREATEDB, no CREATEUSER (so no superuser either), and it sees
-- only its own rows in the system tables.
create user "${dbt_user}" password disable nocreatedb nocreateuser syslog access restricted;

-- Temporary tables only; no CREATE on the database, so it cannot make schemas of its own.
grant temp on database ${database} to "${dbt_user}";

-- Nobody but the admin creates objects in public (Redshift lets every user do it by default).
revoke create on schema public from public;

-- dbt's own schemas, owned by the user so it can replace and drop what it builds there.
create schema if not exists ${dbt_schema} authorization "${dbt_user}";
create schema if not exists ${dbt_schema}_staging authorization "${dbt_user}";
create schema if not exists ${dbt_schema}_intermediate authorization "${dbt_user}";
create schema if not exists ${dbt_schema}_seeds authorization "${dbt_user}";
create schema if not exists ${dbt_schema}_snapshots authorization "${dbt_user}";

-- The raw layer: USAGE on an external schema is what lets a user select from its external tables
-- (they take no table-level grants); reading the lake itself is the Spectrum role's job.
grant usage on schema ${spectrum_schema} to "${dbt_user}";
