"""`dbt source freshness` judges each dataset on its own loads (issue #13, item 8).

A dataset never loaded (green in the default `make run` sample) has nothing to be late with: it is as
fresh as the load log and passes while the pipeline runs. A dataset whose newest load is older than
TLC's monthly cadence allows warns (45 days) or fails (75 days), however fresh the others are. The
fixture goes into its own schema (`raw_freshness`), its load log re-dated relative to now.
"""

from __future__ import annotations

import json

import pytest

RAW = "raw_freshness"
SOURCES = ("yellow_trips", "green_trips", "fhv_trips", "fhvhv_trips", "quarantined_trips", "partition_loads")


@pytest.fixture(scope="module")
def raw_without_green(load_raw_fixture, sql):
    """The fixture with no green partition at all, as after `make run` on the default sample."""
    load_raw_fixture(RAW)
    sql(f"delete from {RAW}.partition_loads where service = 'green'")
    sql(f"delete from {RAW}.green_trips")
    sql(f"delete from {RAW}.quarantined_trips where service = 'green'")


def _loaded_days_ago(sql, days: dict[str, int]) -> None:
    """Every partition of each dataset loaded that many days ago (its newest load)."""
    for service, ago in days.items():
        sql(
            f"update {RAW}.partition_loads set loaded_at = now() - make_interval(days => %s) where service = %s",
            (ago, service),
        )


def _freshness(dbt) -> tuple[int, dict[str, str]]:
    result = dbt("source", "freshness", "--vars", json.dumps({"raw_schema": RAW}), schema="freshness", check=False)
    sources = dbt.target_path("freshness") / "sources.json"
    assert sources.exists(), result.output[-3000:]
    statuses = {r["unique_id"].rsplit(".", 1)[1]: r["status"] for r in json.loads(sources.read_text())["results"]}
    assert set(statuses) == set(SOURCES), result.output[-3000:]
    return result.returncode, statuses


def test_a_dataset_never_loaded_is_not_stale(raw_without_green, dbt, sql):
    _loaded_days_ago(sql, {"yellow": 1, "fhv": 2, "fhvhv": 3})
    code, statuses = _freshness(dbt)
    assert statuses == {source: "pass" for source in SOURCES}
    assert code == 0


def test_a_dataset_behind_the_others_is_stale(raw_without_green, dbt, sql):
    _loaded_days_ago(sql, {"yellow": 1, "fhv": 60, "fhvhv": 100})
    code, statuses = _freshness(dbt)
    assert statuses == {
        "yellow_trips": "pass",
        "green_trips": "pass",
        "fhv_trips": "warn",
        "fhvhv_trips": "error",
        "quarantined_trips": "pass",
        "partition_loads": "pass",
    }
    assert code == 1


def test_when_the_pipeline_stops_every_dataset_is_stale(raw_without_green, dbt, sql):
    _loaded_days_ago(sql, {"yellow": 80, "fhv": 80, "fhvhv": 80})
    code, statuses = _freshness(dbt)
    assert statuses == {source: "error" for source in SOURCES}
    assert code == 1
