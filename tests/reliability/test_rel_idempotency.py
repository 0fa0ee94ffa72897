"""Idempotent reruns: the same input any number of times, an old month replayed, months out of order, all
end in the warehouse a single clean run gives (row counts and checksums of fact_trips, the raw layer and
the quarantine). Runs in this process (the runner's `main()`), on clones of the reference warehouse.
"""

from __future__ import annotations

import json
import shutil

import pytest

from ingestion import synthetic
from orchestration.local.run_pipeline import main as run_pipeline
from tests.reliability import harness

pytestmark = pytest.mark.integration

JANUARY = "yellow_tripdata_2024-01.parquet"
FEBRUARY = "yellow_tripdata_2024-02.parquet"


def _summary(work_dir) -> dict:
    return json.loads((work_dir / "runs" / "latest.json").read_text())


def _source(tmp_path, name: str, *files) -> list[str]:
    folder = tmp_path / name
    folder.mkdir()
    for path in files:
        shutil.copy2(path, folder / path.name)
    return ["--source", str(folder)]


def test_the_same_input_three_times_gives_identical_checksums(reference, tmp_path):
    """Run 1 is the reference; runs 2 (the sample again) and 3 (the same files delivered again from a
    folder) find every file's sha256 in its manifest and every partition's version loaded: nothing is
    re-ingested or reloaded, and the warehouse is bit-for-bit what run 1 left."""
    work_dir, database = reference.clone("three_times", tmp_path)
    versions = harness.loaded_versions(database)
    sample = work_dir / "sample"
    delivered_again = _source(tmp_path, "again", sample / JANUARY, sample / FEBRUARY)
    for extra in ([], delivered_again):
        assert run_pipeline(harness.pipeline_args(work_dir, database, *extra)) == 0
        summary = _summary(work_dir)
        assert [f["status"] for f in summary["files"]] == ["skipped", "skipped"]
        assert harness.warehouse_state(database) == reference.state
        assert harness.loaded_versions(database) == versions
        assert harness.comparable_manifests(work_dir) == reference.manifests


def test_replaying_an_old_month_gives_no_duplicates(reference, tmp_path):
    """January goes through every stage again (its manifest removed, as after a lake rebuild or a rule
    fix): it is re-ingested, its partition swapped in again and its fact month rebuilt, and the warehouse
    holds each trip once, exactly as before."""
    work_dir, database = reference.clone("replay", tmp_path)
    versions = harness.loaded_versions(database)
    (work_dir / "lake" / "_manifests" / f"{JANUARY}.json").unlink()

    assert (
        run_pipeline(
            harness.pipeline_args(work_dir, database, *_source(tmp_path, "jan", work_dir / "sample" / JANUARY))
        )
        == 0
    )

    assert [f["status"] for f in _summary(work_dir)["files"]] == ["ingested"]
    now = harness.loaded_versions(database)
    assert now["yellow 2024-01"] != versions["yellow 2024-01"], "January was reloaded"
    assert now["yellow 2024-02"] == versions["yellow 2024-02"]
    assert harness.warehouse_state(database) == reference.state  # counts, checksums, 0 duplicate trip ids


def test_a_corrected_month_replaces_the_old_one_without_leftovers(reference, tmp_path):
    """TLC republishes January with different content: the month is replaced whole in the lake, the raw
    layer and fact_trips; no trip of the old version remains, February is untouched."""
    work_dir, database = reference.clone("corrected", tmp_path)
    folder = tmp_path / "corrected"
    expected = synthetic.generate_month(folder, "yellow", 2024, 1, rows=5_000, seed=harness.SEED + 1)
    (folder / f"{JANUARY}.expected.json").unlink()

    assert run_pipeline(harness.pipeline_args(work_dir, database, "--source", str(folder))) == 0

    february = [(2024, 2)]
    assert harness.warehouse_state(database, february) == harness.warehouse_state(reference.database, february)
    january = harness.warehouse_state(database, [(2024, 1)])
    assert january["analytics.fact_trips"]["rows"] == expected["rows_accepted"]
    assert january["raw.yellow_trips"]["rows"] == expected["rows_accepted"]
    assert january["raw.quarantined_trips"]["rows"] == expected["rows_quarantined"]
    assert harness.warehouse_state(database)["fact_trips duplicate trip_ids"] == 0


def test_months_arriving_out_of_order_give_the_in_order_result(reference, tmp_path):
    """February first, then January (each its own run, on a new warehouse) ends where the reference
    run, which got both in order, ended."""
    database = harness.fresh_database(harness.name("out_of_order"))
    work_dir = tmp_path / "work"
    sample = reference.work_dir / "sample"
    for name in (FEBRUARY, JANUARY):
        args = ["--work-dir", str(work_dir), "--database", database, *_source(tmp_path, name, sample / name)]
        assert run_pipeline(args) == 0
    assert harness.warehouse_state(database) == reference.state
    assert harness.comparable_manifests(work_dir) == reference.manifests
