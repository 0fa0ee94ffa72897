"""Serialized runs: two `make run` at the same moment on the same data (same work dir, same database,
which does not even exist yet) both succeed, one after the other, and the result equals a single run.

The runner takes a PostgreSQL session advisory lock for the whole run (run_pipeline.run_lock); the
second run says so and waits. The lock dies with its session, so a killed run never leaves it behind
(test_rel_fault_injection reruns straight after each SIGKILL without waiting).
"""

from __future__ import annotations

import json
import re
import shutil
import threading

import pytest

from orchestration.local import embedded_postgres
from tests.reliability import harness

pytestmark = pytest.mark.integration

WAITING = "another pipeline run holds the lock on database {}; waiting for it to finish"


def test_two_runs_at_once_are_serialized_and_equal_a_single_run(reference, tmp_path):
    database = harness.name("concurrent")
    harness.drop_database(database)  # both runs start on a warehouse that does not exist yet
    work_dir = tmp_path / "work"
    shutil.copytree(reference.work_dir / "sample", work_dir / "sample")
    args = harness.pipeline_args(work_dir, database)

    runs = [harness.start(args, tmp_path / f"run-{n}.log") for n in (1, 2)]
    codes = [harness.finish(run) for run in runs]

    assert codes == [0, 0], "\n\n".join(run.tail() for run in runs)
    waiting = [run for run in runs if WAITING.format(database) in run.output()]
    assert len(waiting) == 1, "exactly one run waited for the other"
    [second] = waiting
    [first] = [run for run in runs if run is not second]
    # the first did the work; the second started its stages only once the first had finished
    first_report, second_report = (_report(run, work_dir) for run in (first, second))
    assert [f["status"] for f in first_report["files"]] == ["ingested", "ingested"]
    assert [f["status"] for f in second_report["files"]] == ["skipped", "skipped"]
    assert _stage(first_report, "LoadWarehouse")["rows_out"] == reference.state["raw.yellow_trips"]["rows"]
    assert _stage(second_report, "LoadWarehouse")["rows_out"] == 0, "nothing left to load"
    assert second.output().index(WAITING.format(database)) < second.output().index("] ValidateInput")
    assert harness.warehouse_state(database) == reference.state
    assert harness.comparable_manifests(work_dir) == reference.manifests
    assert harness.unreferenced_files(work_dir) == []


def _report(run: harness.Child, work_dir) -> dict:
    [run_id] = re.findall(r"^Run (\S+) summary$", run.output(), re.MULTILINE)
    return json.loads((work_dir / "runs" / f"{run_id}.json").read_text())


def _stage(report: dict, name: str) -> dict:
    [stage] = [s for s in report["stages"] if s["name"] == name]
    return stage


def test_concurrent_starts_create_the_database_once():
    """Several processes starting at once on a fresh warehouse: one creates the database, the others
    find it (before cc0a766 all but one failed with UniqueViolation before reaching the lock)."""
    database = harness.name("race")
    harness.drop_database(database)
    base = harness.server()
    target = embedded_postgres.Connection(base.host, base.port, base.user, base.password, database)
    barrier, failures = threading.Barrier(4), []

    def start() -> None:
        barrier.wait()
        try:
            embedded_postgres.ensure_database(target)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            failures.append(repr(exc))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    with harness.connect(database) as conn, conn.cursor() as cur:
        cur.execute("select current_database()")
        assert cur.fetchone()[0] == database
    harness.drop_database(database)
