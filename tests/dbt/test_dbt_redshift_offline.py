"""The Redshift target without a cluster: parse, compile and lint what dbt would send to Redshift.

`dbt compile --no-introspect --no-populate-cache` opens no connection; the project's is_incremental()
shim takes the answer from the `assume_incremental` var there, so every variant of the models built
incrementally by month (fact_trips, fact_fhv_trips, int_base_months_aggregated, rpt_code_counts) is
compiled: first build, incremental with the months to rebuild given (var `rebuild_months`, what a
connected run resolves from the load log), and incremental with the months resolved in SQL (no var). The host is a
reserved `.invalid` name: a connection attempt would fail loudly rather than reach anything.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REDSHIFT_ENV = {
    "REDSHIFT_HOST": "tlc-warehouse.redshift.invalid",
    "REDSHIFT_CLUSTER_ID": "tlc-warehouse",
    "AWS_REGION": "us-east-1",
}
OFFLINE = ("--no-introspect", "--no-populate-cache")
FACT = "model.tlc_warehouse.fact_trips"
# Every model over the lake built incrementally by month, and what it reads the lake through.
INCREMENTAL_MODELS = {
    "models/marts/core/fact_trips.sql": ["int_trips_unioned"],
    "models/marts/core/fact_fhv_trips.sql": ["int_fhv_trips_unioned"],
    "models/intermediate/int_base_months_aggregated.sql": ["int_fhv_trips_unioned"],
    "models/marts/reporting/rpt_code_counts.sql": [
        "stg_tlc__yellow_trips",
        "stg_tlc__green_trips",
        "stg_tlc__fhv_trips",
        "stg_tlc__fhvhv_trips",
    ],
}
INCREMENTAL_SELECT = ("--select", *(path.rsplit("/", 1)[1].removesuffix(".sql") for path in INCREMENTAL_MODELS))


REBUILD_MONTHS = {"assume_incremental": True, "rebuild_months": ["2023-12", "2024-02", "2024-03"]}


@pytest.fixture(scope="module")
def redshift_compiled(dbt) -> tuple[dict, Path, Path, Path]:
    """manifest.json of the prod target, and the compiled SQL of the first-build run, the incremental run
    resolved in SQL and the incremental run given its months."""
    dbt("compile", *OFFLINE, schema="analytics", target="prod", extra_env=REDSHIFT_ENV)
    first_build = dbt.target_path("analytics", "prod")
    manifest = json.loads((first_build / "manifest.json").read_text())

    dbt(
        "compile",
        *OFFLINE,
        *INCREMENTAL_SELECT,
        "--vars",
        '{"assume_incremental": true}',
        schema="analytics_incremental",
        target="prod",
        extra_env=REDSHIFT_ENV,
    )
    incremental = dbt.target_path("analytics_incremental", "prod")

    dbt(
        "compile",
        *OFFLINE,
        *INCREMENTAL_SELECT,
        "--vars",
        json.dumps(REBUILD_MONTHS),
        schema="analytics_months",
        target="prod",
        extra_env=REDSHIFT_ENV,
    )
    months = dbt.target_path("analytics_months", "prod")
    return (
        manifest,
        *(path / "compiled" / "tlc_warehouse" for path in (first_build, incremental, months)),
    )


def test_manifest_is_for_redshift(redshift_compiled):
    manifest, *_ = redshift_compiled
    assert manifest["metadata"]["adapter_type"] == "redshift"
    schemas = {s["name"]: s["schema"] for s in manifest["sources"].values()}
    assert set(schemas.values()) == {"spectrum"}, "sources must point at the Spectrum external schema"


def test_fact_and_dimension_physical_design(redshift_compiled):
    manifest, *_ = redshift_compiled
    nodes = manifest["nodes"]
    fact = nodes[FACT]["config"]
    assert fact["materialized"] == "incremental"
    assert fact["incremental_strategy"] == "rebuild_months"
    assert fact["unique_key"] == "pickup_month"
    assert fact["dist"] == "even"
    assert fact["sort"] == ["pickup_at"]

    for_hire = nodes["model.tlc_warehouse.fact_fhv_trips"]["config"]
    assert {key: for_hire[key] for key in ("materialized", "incremental_strategy", "unique_key", "dist", "sort")} == {
        key: fact[key] for key in ("materialized", "incremental_strategy", "unique_key", "dist", "sort")
    }
    for uid in ("model.tlc_warehouse.int_base_months_aggregated", "model.tlc_warehouse.rpt_code_counts"):
        config = nodes[uid]["config"]
        assert (config["incremental_strategy"], config["unique_key"], config["sort"]) == (
            "rebuild_months",
            "pickup_month",
            ["pickup_month"],
        ), uid

    dims = [n for n in nodes.values() if n["resource_type"] == "model" and n["name"].startswith("dim_")]
    assert len(dims) >= 8
    assert {n["name"]: n["config"].get("dist") for n in dims} == {n["name"]: "all" for n in dims}

    views = [n for n in nodes.values() if n["resource_type"] == "model" and n["config"]["materialized"] == "view"]
    assert views and all(n["config"].get("bind") is False for n in views), "views over Spectrum must be late-binding"


FACT_SQL = "models/marts/core/fact_trips.sql"


def test_incremental_sql_reads_the_existing_table(redshift_compiled):
    _, first_build, incremental, _ = redshift_compiled
    for path in INCREMENTAL_MODELS:
        name = path.rsplit("/", 1)[1].removesuffix(".sql")
        # what it was built from: a fact's build stamps beside it, a roll-up's own rows
        built = f"{name}_partition_builds" if name.startswith("fact_") else name
        assert f'"{built}"' not in (first_build / path).read_text(), path
        assert re.search(rf'"analytics_incremental(_intermediate)?"\."{built}"', (incremental / path).read_text()), path


def test_every_incremental_model_prunes_spectrum_partitions(redshift_compiled):
    # Each reads the lake only through the months given, as partition literals, one select per month and
    # relation (the same macro as fact_trips); resolving nothing from its own table.
    _, first_build, _, months = redshift_compiled
    for path, relations in INCREMENTAL_MODELS.items():
        compiled = " ".join((months / path).read_text().split())
        for relation in relations:
            schema = "analytics_months_intermediate" if relation.startswith("int_") else "analytics_months_staging"
            selects = " union all ".join(
                f'select * from "tlc"."{schema}"."{relation}"'
                f" where partition_year = {year} and partition_month = {month}"
                for year, month in ((2023, 12), (2024, 2), (2024, 3))
            )
            assert f"as ( {selects} )" in compiled, (path, relation)
        assert "partition_year =" not in (first_build / path).read_text(), path
        assert "not exists" not in compiled, f"{path}: the months are given, not resolved"


def test_incremental_sql_prunes_spectrum_partitions(redshift_compiled):
    # Issue #4: the months to rebuild reach the Spectrum scans as literals on the partition columns
    # (year, month), which is what Spectrum prunes partitions on; the first build reads every month.
    _, first_build, _, months = redshift_compiled
    fact_sql = (months / FACT_SQL).read_text()
    selects = " union all ".join(
        f'select * from "tlc"."analytics_months_intermediate"."int_trips_unioned"'
        f" where partition_year = {year} and partition_month = {month}"
        for year, month in ((2023, 12), (2024, 2), (2024, 3))
    )
    assert f"trips as ( {selects} )" in " ".join(fact_sql.split())
    assert "partition_year =" not in (first_build / FACT_SQL).read_text()
    assert '"analytics_months"."fact_trips"' not in fact_sql, "the months are resolved, not queried"

    # the columns the predicate names are the staging views' casts of the Spectrum partition columns
    yellow = (first_build / "models/staging/tlc/stg_tlc__yellow_trips.sql").read_text()
    assert "cast(year as integer) as partition_year" in yellow
    assert "cast(month as integer) as partition_month" in yellow
    assert '"spectrum"."yellow_trips"' in yellow


def test_compiled_models_lint_clean_as_redshift(redshift_compiled):
    from sqlfluff.core import FluffConfig, Linter

    _, first_build, incremental, months = redshift_compiled
    files = sorted((first_build / "models").rglob("*.sql"))
    files = [f for f in files if f.parent.suffix != ".yml"]  # generic tests are dbt's SQL, not ours
    files += [variant / path for variant in (incremental, months) for path in INCREMENTAL_MODELS]
    assert len(files) > 10

    config = FluffConfig(
        overrides={
            "dialect": "redshift",
            "templater": "raw",
            # layout is Jinja's whitespace, RF06 dbt's quoting of relation names, ST06 excluded project-wide
            "exclude_rules": "layout,RF06,ST06",
        }
    )
    # one process per core (~1.7x faster on 2)
    linted = Linter(config=config).lint_paths(tuple(str(path) for path in files), processes=0)
    assert sum(len(directory.files) for directory in linted.paths) == len(files)
    problems = [
        f"{Path(record['filepath']).name}:{v['start_line_no']}: {v['code']} {v['description']}"
        for record in linted.as_records()
        for v in record["violations"]
    ]
    assert not problems, "\n".join(problems)


def test_postgres_index_config_is_a_no_op_on_redshift(dbt):
    # dbt-redshift falls back to dbt-postgres's CREATE INDEX macro; the project overrides it with nothing
    inline = 'select \'{{ get_create_index_sql(this, {"columns": ["pickup_month"]}) }}\' as ddl'
    result = dbt(
        "compile", *OFFLINE, "--inline", inline, schema="analytics_inline", target="prod", extra_env=REDSHIFT_ENV
    )
    assert "select 'None' as ddl" in result.output


def test_freshness_queries_age_spectrum_text_timestamps(redshift_compiled, dbt):
    # Spectrum reads loaded_at from the manifests as ISO-8601 text, which dbt cannot age (it wants a
    # timestamp): every source's freshness query must go through to_utc_timestamp. Rendered here as dbt
    # renders it for Redshift, `this.schema` being the Spectrum schema.
    manifest, *_ = redshift_compiled
    queries = sorted({s["loaded_at_query"] for s in manifest["sources"].values()})
    assert len(manifest["sources"]) == 6 and all(queries)
    inline = " union all ".join(f"({q.replace('{{ this.schema }}', 'spectrum').strip()})" for q in queries)
    result = dbt(
        "compile", *OFFLINE, "--inline", inline, schema="analytics_inline", target="prod", extra_env=REDSHIFT_ENV
    )
    rendered = " ".join(result.output.split())
    assert rendered.count("max(cast(replace(replace(loaded_at, 'T', ' '), 'Z', '') as timestamp))") == sum(
        q.count("to_utc_timestamp") for q in queries
    )
    assert "max(loaded_at)" not in rendered
