"""Fault injection: SIGKILL the pipeline in each stage that writes, rerun, and end where a clean run ends.

One warehouse, four runs of `python -m orchestration.local.run_pipeline` as child processes, each in
its own process group (a SIGKILL to the group takes the Spark JVM with it):

1. killed while the ingestion job's tasks write a month's data files, before any commit (a file under
   a table's `data/` folder, no receipt yet);
2. rerun, killed while the loader COPYs a month into PostgreSQL (`copy ... from stdin` active in
   pg_stat_activity);
3. rerun, killed while dbt fills `analytics.fact_trips` (its INSERT active in pg_stat_activity);
4. rerun to the end: row counts and checksums of fact_trips, the raw tables and the quarantine equal
   the reference run's, the lake's manifests too, and no file the tables do not reference is left.

Each kill is asserted to have happened mid-stage, never assumed: the run's exit is -9, its output
stops in that stage, and the state it left shows the interruption (data files no snapshot references
and no receipt; fewer months loaded than ingested, each month all-or-nothing; no fact_trips at all).
No test hook in the pipeline: the stages are recognised from outside, as an operator would.
"""

from __future__ import annotations

import re
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.reliability import harness

pytestmark = pytest.mark.integration

DATABASE = harness.name("faults")


@dataclass
class Scene:
    work_dir: Path
    logs: Path
    database: str
    watch: harness.ActivityWatch
    kills: dict[str, float] = field(default_factory=dict)  # stage -> seconds into the run
    broken: bool = False

    def args(self) -> list[str]:
        return harness.pipeline_args(self.work_dir, self.database)

    def step(self, name: str) -> harness.Child:
        if self.broken:
            pytest.skip("an earlier step of this scenario failed")
        self.broken = True  # cleared by the step once its assertions pass
        return harness.start(self.args(), self.logs / f"{name}.log")


@pytest.fixture(scope="module")
def scene(reference, tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    work_dir = root / "work"
    shutil.copytree(reference.work_dir / "sample", work_dir / "sample")  # the same input bytes
    harness.fresh_database(DATABASE)
    watch = harness.ActivityWatch(DATABASE)
    yield Scene(work_dir=work_dir, logs=root, database=DATABASE, watch=watch)
    watch.close()


def _killed_in(child: harness.Child, stage: str) -> None:
    """The run died of the SIGKILL, in `stage`: its last stage header is that stage's."""
    assert child.process.returncode == -signal.SIGKILL, child.tail()
    headers = re.findall(r"^\[\d+/\d+\] (\w+)$", child.output(), re.MULTILINE)
    assert headers and headers[-1] == stage, f"killed in {headers[-1:]}, not {stage}:\n{child.tail()}"
    assert "holds the lock" not in child.output(), "a killed run's advisory lock outlived it"


def _month_rows(database: str, year: int, month: int) -> tuple[int, int]:
    with harness.connect(database) as conn, conn.cursor() as cur:
        cur.execute(
            "select (select count(*) from raw.yellow_trips where year = %s and month = %s),"
            " (select count(*) from raw.quarantined_trips where year = %s and month = %s)",
            (year, month, year, month),
        )
        return cur.fetchone()


def test_1_sigkill_during_the_lake_write(scene):
    child = scene.step("1-lake-write")
    scene.kills["Ingest"] = harness.kill_when(
        child, harness.lake_write_in_progress(scene.work_dir), "data files being written before the commit"
    )
    harness.wait_until_idle(scene.database)
    _killed_in(child, "Ingest")

    leftovers = harness.unreferenced_files(scene.work_dir)
    assert [p for p in leftovers if "/data/" in p], "no uncommitted data file left: the kill missed the write"
    assert harness.manifests(scene.work_dir) == {}, "a month was committed and recorded"
    assert harness.lake_months(scene.work_dir) == {}, "a reader of the lake sees rows of the killed run"
    assert harness.loaded_versions(scene.database) == {}, "nothing reached the warehouse"
    scene.broken = False


def test_2_rerun_sigkill_during_the_postgres_load(scene):
    child = scene.step("2-load")
    scene.kills["LoadWarehouse"] = harness.kill_when(
        child, scene.watch.active(harness.COPY_STATEMENT), "a COPY into the raw layer"
    )
    harness.wait_until_idle(scene.database)  # the killed client's backend rolls back
    _killed_in(child, "LoadWarehouse")

    # the rerun recovered from the killed lake write: every month ingested, the killed run's files deleted
    manifests = harness.manifests(scene.work_dir)
    assert sorted(manifests) == [f"yellow_tripdata_{m}.parquet.json" for m in harness.MONTHS]
    assert harness.unreferenced_files(scene.work_dir) == []
    # the load was interrupted, and every month is all or nothing
    loaded = harness.loaded_versions(scene.database)
    assert len(loaded) < len(manifests), f"every month was loaded: the kill came too late ({loaded})"
    for manifest in manifests.values():
        rows = _month_rows(scene.database, manifest["year"], manifest["month"])
        key = f"yellow {manifest['year']:04d}-{manifest['month']:02d}"
        if key in loaded:
            assert rows == (manifest["rows_accepted"], manifest["rows_quarantined"]), key
        else:
            assert rows == (0, 0), f"{key}: partial rows of an interrupted load"
    scene.broken = False


def test_3_rerun_sigkill_during_dbt_build(scene):
    child = scene.step("3-dbt")
    scene.kills["Transform"] = harness.kill_when(
        child, scene.watch.active(*harness.FACT_WRITE), "dbt writing analytics.fact_trips"
    )
    harness.wait_until_idle(scene.database)
    _killed_in(child, "Transform")

    assert len(harness.loaded_versions(scene.database)) == len(harness.MONTHS), "the rerun finished the load"
    state = harness.warehouse_state(scene.database)
    assert state["analytics.fact_trips"] is None, "fact_trips was committed: the kill came after the build"
    scene.broken = False


def test_4_rerun_converges_to_the_clean_run(scene, reference):
    child = scene.step("4-final")
    assert harness.finish(child) == 0, child.tail()
    assert "holds the lock" not in child.output(), "a killed run's advisory lock outlived it"

    assert harness.warehouse_state(scene.database) == reference.state
    assert harness.comparable_manifests(scene.work_dir) == reference.manifests
    assert harness.unreferenced_files(scene.work_dir) == []
    assert set(scene.kills) == {"Ingest", "LoadWarehouse", "Transform"}
    scene.broken = False
