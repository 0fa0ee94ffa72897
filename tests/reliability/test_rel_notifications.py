"""Failure notifications of the local runner: a failed stage stops the run, exits 1 with one line naming
the stage and the problem, and leaves a run report saying which stage failed and why; the warehouse
keeps its previous state. (On AWS the state machine publishes to the SNS failure topic:
tests/orchestration/test_state_machine_execution.py, see RELIABILITY.md.)
"""

from __future__ import annotations

import json

import pytest

from orchestration.local.run_pipeline import main as run_pipeline
from tests.reliability import harness

pytestmark = pytest.mark.integration


def test_a_failed_stage_exits_1_names_the_stage_and_leaves_a_report(reference, tmp_path, capsys):
    work_dir, database = reference.clone("failure", tmp_path)
    # The lake now disagrees with January's manifest (as after someone edited a partition by hand), and
    # the manifest carries a new version, so RegisterPartitions reloads January and must refuse it.
    path = work_dir / "lake" / "_manifests" / "yellow_tripdata_2024-01.parquet.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "rows_accepted": manifest["rows_accepted"] + 1, "ingested_at": "v2"}))
    capsys.readouterr()

    code = run_pipeline(harness.pipeline_args(work_dir, database))

    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines() == [err.splitlines()[0]], "one line"
    assert err.startswith(
        "error: pipeline failed in stage RegisterPartitions (exit status 1): yellow_tripdata_2024-01.parquet:"
        " lake partition yellow_trips/year=2024/month=01 holds"
    )
    report = json.loads((work_dir / "runs" / "latest.json").read_text())
    assert report["failed_stage"] == "RegisterPartitions"
    assert report["exit_status"] == 1
    assert "manifest says" in report["error"]
    assert [(s["name"], s["detail"]) for s in report["stages"]][-1] == ("RegisterPartitions", "FAILED")
    assert "Transform" not in [s["name"] for s in report["stages"]], "nothing ran after the failed stage"
    assert (work_dir / "runs" / f"{report['run_id']}.json").exists()
    assert harness.warehouse_state(database) == reference.state, "January kept its previous load"
