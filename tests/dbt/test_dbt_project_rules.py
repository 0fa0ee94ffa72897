"""dbt-project-evaluator's rules (and the project's STYLE.md), checked over the manifest of a real build.

Layers: staging -> intermediate -> marts. Marts never read sources, staging never reads staging;
names carry their layer's prefix; every model is described, has a primary-key test (unique + not_null
on one column, or unique_combination_of_columns + not_null on each; views over the lake excepted, see
LAKE_VIEW_EXEMPTION), and its own YAML file; every source has freshness; every mart column and every
macro is documented; dialect switches go through adapter.dispatch, never `target.type` in a model.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

PREFIXES = {"staging": ("stg_",), "intermediate": ("int_",), "marts": ("fact_", "dim_", "rpt_")}
# MetricFlow looks for this name; it is the only model exempt from the mart prefixes.
NAMING_EXCEPTIONS = {"metricflow_time_spine"}
# Why a view over the lake (a view reading a source, directly or through other views) may go without
# a primary-key test: on Redshift it is a Spectrum query over every lake partition, so each test on it
# scans the whole lake on every build, undoing fact_trips' month pruning. Its rows are tested where they
# are materialised instead: the exemption holds only for a view feeding a table with a primary-key
# test of its own, and the view must not test that table's key again.
LAKE_VIEW_EXEMPTION = "tested where materialised: a test on a view over the lake scans every partition"


@pytest.fixture(scope="module")
def manifest(built_warehouse, dbt) -> dict:
    return json.loads((dbt.target_path() / "manifest.json").read_text())


@pytest.fixture(scope="module")
def models(manifest) -> dict[str, dict]:
    return {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["package_name"] == "tlc_warehouse"
    }


def _layer(node: dict) -> str:
    return Path(node["original_file_path"]).parts[1]


def _parents(node: dict) -> list[str]:
    return node["depends_on"]["nodes"]


def test_models_are_named_for_their_layer(models):
    wrong = [
        f"{n['original_file_path']}: expected prefix {PREFIXES[_layer(n)]}"
        for n in models.values()
        if n["name"] not in NAMING_EXCEPTIONS and not n["name"].startswith(PREFIXES[_layer(n)])
    ]
    assert not wrong, wrong
    staging = [n["name"] for n in models.values() if _layer(n) == "staging"]
    assert all(re.fullmatch(r"stg_[a-z0-9]+__[a-z0-9_]+", name) for name in staging), staging


def test_marts_never_read_sources(models):
    wrong = [
        n["name"]
        for n in models.values()
        if _layer(n) in ("marts", "intermediate") and any(p.startswith("source.") for p in _parents(n))
    ]
    assert not wrong, f"marts/intermediate models reading sources directly: {wrong}"


def test_staging_reads_only_sources_and_seeds(models):
    wrong = [
        f"{n['name']} <- {p}"
        for n in models.values()
        if _layer(n) == "staging"
        for p in _parents(n)
        if not p.startswith(("source.", "seed."))
    ]
    assert not wrong, wrong


def test_every_source_table_feeds_exactly_one_staging_model(manifest, models):
    readers: dict[str, list[str]] = {uid: [] for uid in manifest["sources"]}
    for node in models.values():
        for parent in _parents(node):
            if parent.startswith("source."):
                readers[parent].append(node["name"])
    assert all(len(r) == 1 for r in readers.values()), readers


def test_every_model_is_described_in_its_own_yaml(models):
    undocumented = [n["name"] for n in models.values() if not n["description"].strip()]
    assert not undocumented, undocumented
    misplaced = [n["name"] for n in models.values() if not (n.get("patch_path") or "").endswith(f"/{n['name']}.yml")]
    assert not misplaced, f"models without their own <model>.yml beside them: {misplaced}"


def test_every_mart_column_is_described(models, manifest):
    wrong = []
    for node in models.values():
        if _layer(node) != "marts":
            continue
        # compare against the columns the table really has, not only the YAML ones
        documented = {c: v["description"].strip() for c, v in node["columns"].items()}
        missing = [c for c, d in documented.items() if not d]
        if not documented or missing:
            wrong.append(f"{node['name']}: {missing or 'no columns documented'}")
    assert not wrong, wrong


def test_mart_yaml_lists_every_column_of_the_table(models, sql, built_warehouse):
    wrong = []
    for node in models.values():
        if _layer(node) != "marts":
            continue
        actual = {
            r[0]
            for r in sql(
                "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
                (node["schema"], node["alias"]),
            )
        }
        if actual != set(node["columns"]):
            wrong.append(
                f"{node['name']}: table-only {actual - set(node['columns'])}, yaml-only {set(node['columns']) - actual}"
            )
    assert not wrong, wrong


def _tests_by_model(manifest, models) -> dict[str, list[tuple[str, str | None, dict]]]:
    """unique_id -> (test name, column, kwargs) of every generic test attached to the model."""
    tests: dict[str, list[tuple[str, str | None, dict]]] = {uid: [] for uid in models}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or not node.get("test_metadata"):
            continue
        attached = node.get("attached_node")
        if attached in tests:
            meta = node["test_metadata"]
            tests[attached].append((meta["name"], node.get("column_name"), meta.get("kwargs", {})))
    return tests


def _unique_keys(tests) -> set[frozenset[str]]:
    """The column sets a model tests for uniqueness (unique, unique_combination_of_columns)."""
    keys = {frozenset([col]) for name, col, _ in tests if name == "unique" and col}
    keys |= {
        frozenset(kw["combination_of_columns"])
        for name, _, kw in tests
        if name == "unique_combination_of_columns" and kw.get("combination_of_columns")
    }
    return keys


def _primary_keys(tests) -> set[frozenset[str]]:
    """The unique keys whose every column is also tested not_null."""
    not_null = {col for name, col, _ in tests if name == "not_null" and col}
    return {key for key in _unique_keys(tests) if key <= not_null}


def _lake_views(models) -> set[str]:
    """Views that read a source, directly or through other views: on Redshift, queries over Spectrum."""
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for uid, node in models.items():
            if uid in found or node["config"]["materialized"] != "view":
                continue
            if any(p.startswith("source.") or p in found for p in _parents(node)):
                found.add(uid)
                changed = True
    return found


def _materialised_readers(manifest, models, uid: str) -> set[str]:
    """The non-view models that read `uid`, directly or through views."""
    found, stack, seen = set(), [uid], {uid}
    while stack:
        for child in manifest["child_map"].get(stack.pop(), []):
            if child not in models or child in seen:
                continue
            seen.add(child)
            if models[child]["config"]["materialized"] == "view":
                stack.append(child)
            else:
                found.add(child)
    return found


def test_every_model_has_a_primary_key_test(manifest, models):
    tests = _tests_by_model(manifest, models)
    lake_views = _lake_views(models)
    missing = []
    for uid in models:
        if _primary_keys(tests[uid]):
            continue
        readers = _materialised_readers(manifest, models, uid)
        if uid in lake_views and any(_primary_keys(tests[r]) for r in readers):
            continue  # LAKE_VIEW_EXEMPTION
        missing.append(models[uid]["name"])
    assert not missing, f"models without unique + not_null on a primary key: {missing}"


def test_lake_views_leave_the_key_to_the_table_that_materialises_it(manifest, models):
    """Uniqueness tested once (issue #11): trip_id was tested unique on both staging views,
    int_trips_unioned and fact_trips, three Spectrum scans of the whole lake per build."""
    tests = _tests_by_model(manifest, models)
    lake_views = _lake_views(models)
    assert {models[uid]["name"] for uid in lake_views} >= {
        "stg_tlc__yellow_trips",
        "stg_tlc__green_trips",
        "int_trips_unioned",
        "stg_tlc__fhv_trips",
        "stg_tlc__fhvhv_trips",
        "int_fhv_trips_unioned",
    }
    retested = [
        f"{models[uid]['name']}: {sorted(key)} is tested on {models[reader]['name']} ({LAKE_VIEW_EXEMPTION})"
        for uid in lake_views
        for reader in _materialised_readers(manifest, models, uid)
        for key in _unique_keys(tests[uid]) & _unique_keys(tests[reader])
    ]
    assert not retested, retested


def test_every_source_has_freshness(manifest):
    stale = [
        s["name"]
        for s in manifest["sources"].values()
        if not (s.get("freshness") or {}).get("error_after", {}).get("count")
    ]
    assert not stale, stale


def test_marts_have_enforced_contracts(models):
    wrong = [n["name"] for n in models.values() if _layer(n) == "marts" and not n["contract"]["enforced"]]
    assert not wrong, wrong


def test_models_never_switch_on_target_type(models):
    wrong = [n["name"] for n in models.values() if "target.type" in n["raw_code"]]
    assert not wrong, "use adapter.dispatch macros instead: " + ", ".join(wrong)


def test_every_project_macro_is_documented(manifest):
    undocumented = [
        m["name"]
        for m in manifest["macros"].values()
        if m["package_name"] == "tlc_warehouse" and not m["description"].strip()
    ]
    assert not undocumented, undocumented


def test_fact_relationships_cover_every_dimension(manifest, models):
    """Every dimension is some fact's foreign key, and each fact's keys are tested (fact_trips: the taxi
    codes; fact_fhv_trips: company and bases; both: dim_date and dim_location)."""
    dims = {n["name"] for n in models.values() if n["name"].startswith("dim_")}
    facts = {uid: n["name"] for uid, n in models.items() if n["name"].startswith("fact_")}
    related: dict[str, set[str]] = {name: set() for name in facts.values()}
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        if meta.get("name") == "relationships" and node.get("attached_node") in facts:
            dim = re.search(r"ref\('(\w+)'\)", meta["kwargs"]["to"]).group(1)
            related[facts[node["attached_node"]]].add(dim)
    assert set().union(*related.values()) == dims
    conformed = {"dim_date", "dim_location"}
    assert all(conformed <= keys for keys in related.values()), related


def test_semantic_layer_defines_the_core_metrics(dbt, built_warehouse):
    semantic = json.loads((dbt.target_path() / "semantic_manifest.json").read_text())
    metrics = {m["name"] for m in semantic["metrics"]}
    assert {"trips", "revenue", "average_fare", "tip_rate"} <= metrics
    assert {"service_trips", "service_revenue", "service_revenue_per_trip"} <= metrics
    entities = {e["name"] for sm in semantic["semantic_models"] for e in sm["entities"]}
    assert {"pickup_location", "vendor", "payment_type", "zone_month_service"} <= entities
