"""The clean run every reliability test compares against, and cheap copies of it.

`reference` runs the whole pipeline once on the standard data (harness.MONTHS x harness.ROWS) into
its own database and work dir and records the warehouse's fingerprint. Tests that need a warehouse
with a previous state get a clone of it (`CREATE DATABASE ... TEMPLATE` plus a copy of the work dir)
instead of a second run; tests that must reach the same result by another road (killed and rerun,
out of order, two runs at once) compare their fingerprint with the reference's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestration.local.run_pipeline import main as run_pipeline
from tests.reliability import harness

REFERENCE_DB = harness.name("reference")


@dataclass(frozen=True)
class Reference:
    work_dir: Path
    database: str
    state: dict
    manifests: dict

    def clone(self, name: str, tmp_path: Path) -> tuple[Path, str]:
        """A work dir and a database holding exactly the reference's state."""
        database = harness.clone_database(self.database, harness.name(name))
        work_dir = harness.copy_work_dir(self.work_dir, tmp_path / name)
        return work_dir, database


@pytest.fixture(scope="session", autouse=True)
def embedded_warehouse_only():
    """In-process runs use the user's PostgreSQL when PG* is set; this suite checks the embedded one.
    Databases are named per session (harness.name) and dropped at its end (TLC_KEEP_TEST_DBS=1 keeps
    them to look at); those of sessions that died are swept at the start."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("PG")}
    for key in saved:
        del os.environ[key]
    harness.drop_session_databases(stale_only=True)
    yield
    if os.environ.get("TLC_KEEP_TEST_DBS") != "1":
        harness.drop_session_databases()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> Reference:
    work_dir = tmp_path_factory.mktemp("reference")
    harness.fresh_database(REFERENCE_DB)
    code = run_pipeline(harness.pipeline_args(work_dir, REFERENCE_DB))
    assert code == 0, "the clean reference run failed"
    state = harness.warehouse_state(REFERENCE_DB)
    accepted = sum(m["rows_accepted"] for m in harness.manifests(work_dir).values())
    assert state["analytics.fact_trips"]["rows"] == accepted > 0
    assert state["raw.quarantined_trips"]["rows"] > 0, "the synthetic sample carries known bad rows"
    assert state["fact_trips duplicate trip_ids"] == 0
    return Reference(work_dir, REFERENCE_DB, state, harness.comparable_manifests(work_dir))
