"""Failure notifications of the local runner: a failed stage stops the run, exits 1 with one line naming
the stage and the problem, and leaves a run report saying which stage failed and why; the warehouse
keeps its previous state. (On AWS the state machine publishes to the SNS failure topic:
tests/orchestration/test_state_machine_execution.py, see RELIABILITY.md.)
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from orchestration.local import load_postgres
from orchestration.local.run_pipeline import main as run_pipeline
from tests.reliability import harness

pytestmark = pytest.mark.integration


def test_a_failed_stage_exits_1_names_the_stage_and_leaves_a_report(reference, tmp_path, capsys):
    work_dir, database = reference.clone("failure", tmp_path)
    # January's data file now holds one row fewer than the load log says (as after someone edited the
    # lake's files by hand), and the warehouse's record of January is stale, so LoadWarehouse reloads
    # January and must refuse it.
    [january] = [m for m in load_postgres.lake_months(work_dir / "lake", work_dir / "quarantine") if m.month == 1]
    [data_file] = january.lake_files
    rows = pq.read_table(data_file)
    pq.write_table(rows.slice(1), data_file)  # the same schema and field IDs, one row short
    with harness.connect(database) as conn, conn.cursor() as cur:
        cur.execute("update raw.partition_loads set lake_version = 'stale' where month = 1")
    capsys.readouterr()

    code = run_pipeline(harness.pipeline_args(work_dir, database))

    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines() == [err.splitlines()[0]], "one line"
    assert err.startswith(
        "error: pipeline failed in stage LoadWarehouse (exit status 1): yellow_tripdata_2024-01.parquet:"
        f" the lake's yellow 2024-01 holds {january.rows_accepted - 1} accepted"
    )
    report = json.loads((work_dir / "runs" / "latest.json").read_text())
    assert report["failed_stage"] == "LoadWarehouse"
    assert report["exit_status"] == 1
    assert f"the load log says {january.rows_accepted}" in report["error"]
    assert [(s["name"], s["detail"]) for s in report["stages"]][-1] == ("LoadWarehouse", "FAILED")
    assert "Transform" not in [s["name"] for s in report["stages"]], "nothing ran after the failed stage"
    assert (work_dir / "runs" / f"{report['run_id']}.json").exists()
    assert harness.warehouse_state(database) == reference.state, "January kept its previous load"
