"""The Redshift target without a cluster: parse, compile and lint what dbt would send to Redshift.

`dbt compile --no-introspect --no-populate-cache` opens no connection; the project's is_incremental()
shim takes the answer from the `assume_incremental` var there, so both fact_trips variants (first
build and incremental) are compiled. The host is a reserved `.invalid` name: a connection attempt
would fail loudly rather than reach anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REDSHIFT_ENV = {
    "REDSHIFT_HOST": "tlc-warehouse.redshift.invalid",
    "REDSHIFT_CLUSTER_ID": "tlc-warehouse",
    "AWS_REGION": "us-east-1",
}
OFFLINE = ("--no-introspect", "--no-populate-cache")
FACT = "model.tlc_warehouse.fact_trips"


@pytest.fixture(scope="module")
def redshift_compiled(dbt) -> tuple[dict, Path, Path]:
    """manifest.json of the prod target, and the compiled SQL of the first-build and incremental runs."""
    dbt("compile", *OFFLINE, schema="analytics", target="prod", extra_env=REDSHIFT_ENV)
    first_build = dbt.target_path("analytics", "prod")
    manifest = json.loads((first_build / "manifest.json").read_text())

    dbt(
        "compile", *OFFLINE, "--select", "fact_trips", "--vars", '{"assume_incremental": true}',
        schema="analytics_incremental", target="prod", extra_env=REDSHIFT_ENV,
    )
    incremental = dbt.target_path("analytics_incremental", "prod")
    return manifest, first_build / "compiled" / "tlc_warehouse", incremental / "compiled" / "tlc_warehouse"


def test_manifest_is_for_redshift(redshift_compiled):
    manifest, _, _ = redshift_compiled
    assert manifest["metadata"]["adapter_type"] == "redshift"
    schemas = {s["name"]: s["schema"] for s in manifest["sources"].values()}
    assert set(schemas.values()) == {"spectrum"}, "sources must point at the Spectrum external schema"


def test_fact_and_dimension_physical_design(redshift_compiled):
    manifest, _, _ = redshift_compiled
    nodes = manifest["nodes"]
    fact = nodes[FACT]["config"]
    assert fact["materialized"] == "incremental"
    assert fact["incremental_strategy"] == "delete+insert"
    assert fact["unique_key"] == "pickup_month"
    assert fact["dist"] == "even"
    assert fact["sort"] == ["pickup_date", "pickup_at"]

    dims = [n for n in nodes.values() if n["resource_type"] == "model" and n["name"].startswith("dim_")]
    assert len(dims) >= 6
    assert {n["name"]: n["config"].get("dist") for n in dims} == {n["name"]: "all" for n in dims}

    views = [n for n in nodes.values() if n["resource_type"] == "model" and n["config"]["materialized"] == "view"]
    assert views and all(n["config"].get("bind") is False for n in views), "views over Spectrum must be late-binding"


def test_incremental_sql_reads_the_existing_table(redshift_compiled):
    _, first_build, incremental = redshift_compiled
    fact_sql = "marts/core/fact_trips.sql"
    assert '"analytics"."fact_trips"' not in (first_build / "models" / fact_sql).read_text()
    assert '"analytics_incremental"."fact_trips"' in (incremental / "models" / fact_sql).read_text()


def test_compiled_models_lint_clean_as_redshift(redshift_compiled):
    from sqlfluff.core import FluffConfig, Linter

    _, first_build, incremental = redshift_compiled
    files = sorted((first_build / "models").rglob("*.sql"))
    files = [f for f in files if f.parent.suffix != ".yml"]  # generic tests are dbt's SQL, not ours
    files.append(incremental / "models" / "marts/core/fact_trips.sql")
    assert len(files) > 10

    config = FluffConfig(
        overrides={
            "dialect": "redshift",
            "templater": "raw",
            # layout is Jinja's whitespace, RF06 dbt's quoting of relation names, ST06 excluded project-wide
            "exclude_rules": "layout,RF06,ST06",
        }
    )
    linter = Linter(config=config)
    problems = []
    for path in files:
        result = linter.lint_string(path.read_text(), fname=str(path))
        problems += [f"{path.name}:{v.line_no}: {v.rule_code()} {v.desc()}" for v in result.violations]
    assert not problems, "\n".join(problems)


def test_postgres_index_config_is_a_no_op_on_redshift(dbt):
    # dbt-redshift falls back to dbt-postgres's CREATE INDEX macro; the project overrides it with nothing
    inline = "select '{{ get_create_index_sql(this, {\"columns\": [\"pickup_month\"]}) }}' as ddl"
    result = dbt(
        "compile", *OFFLINE, "--inline", inline, schema="analytics_inline", target="prod", extra_env=REDSHIFT_ENV
    )
    assert "select 'None' as ddl" in result.output
