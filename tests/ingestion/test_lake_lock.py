"""One writer at a time on a local lake (ingestion/lake_lock.py): a run's upkeep deletes every file no
snapshot names at once, so no other writer may be mid-run. Each writer of a local lake holds it."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from ingestion import job, lake_commit, lake_lock

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "tests" / "fixtures" / "tlc_samples" / "green_tripdata_2017-01.csv"

HOLDER = """
import sys
from ingestion import lake_lock
with lake_lock.holding(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_second_process_waits_for_the_holder_and_a_process_may_hold_it_twice(tmp_path):
    lake_root = str(tmp_path / "lake")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, lake_root],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        said: list[str] = []
        acquired = threading.Event()

        def writer() -> None:
            with lake_lock.holding(lake_root, said.append):
                assert lake_lock.held(lake_root)
                with lake_lock.holding(lake_root):  # re-entrant: make run holds it around execute
                    acquired.set()

        thread = threading.Thread(target=writer)
        thread.start()
        assert not acquired.wait(1.0), "took the lake while another process held it"
        assert said == [f"another run is using the lake {lake_root}; waiting for it to finish"]
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert acquired.wait(30)
        thread.join()
        assert not lake_lock.held(lake_root)
    finally:
        holder.kill()
        holder.wait()
    assert lake_lock.lock_path(lake_root) == str(tmp_path / "run.lock")
    assert lake_lock.lock_path("s3://lake/") is None


def test_the_job_holds_a_local_lake_while_it_commits(tmp_path, monkeypatch):
    """`python -m ingestion.job` and every other caller of execute, not only `make run`: a concurrent run's
    upkeep can no longer delete this one's files between writing and committing them."""
    lake_root, quarantine_root = str(tmp_path / "lake"), str(tmp_path / "quarantine")
    seen: list[bool] = []
    commit = lake_commit.commit

    def recording_commit(roots, *args, **kwargs):
        seen.append(lake_lock.held(roots.lake_root))
        return commit(roots, *args, **kwargs)

    monkeypatch.setattr(lake_commit, "commit", recording_commit)
    plan = job.plan([str(SAMPLE)], lake_root, quarantine_root)
    [result] = job.execute(plan, in_process=True)
    assert result.status == "ingested"
    assert seen == [True]
    assert not lake_lock.held(lake_root)


def test_a_table_whose_field_ids_differ_from_the_contracts_order_is_written_again_with_its_own(tmp_path):
    """The tasks write with the layout a table created from the contract has (field IDs 1..n), while the
    catalog opens beside them. A table made elsewhere (here: a column dropped, so IDs start at 2) gets
    its files written again with its own IDs, and reads back equal to a lake made from the contract."""
    from pyiceberg.types import StringType

    from ingestion import lake_tables
    from ingestion.contract import iceberg_table

    def ingest(name: str, said: list[str]) -> dict:
        lake_root, quarantine_root = str(tmp_path / name / "lake"), str(tmp_path / name / "quarantine")
        [result] = job.execute(
            job.plan([str(SAMPLE)], lake_root, quarantine_root), progress=said.append, in_process=True
        )
        assert result.status == "ingested"
        roots = lake_tables.LakeRoots(lake_root, quarantine_root)
        table = lake_tables.open_catalog(roots).load_table((roots.namespace, "green_trips"))
        return table, table.scan().to_arrow().sort_by("trip_key")

    roots = lake_tables.LakeRoots(str(tmp_path / "elsewhere" / "lake"), str(tmp_path / "elsewhere" / "quarantine"))
    catalog = lake_tables.open_catalog(roots)
    catalog.create_namespace(roots.namespace)
    spec = iceberg_table("green_trips")
    schema = lake_tables.iceberg_schema(spec)
    made = catalog.create_table(
        (roots.namespace, spec.name),
        lake_tables.Schema(
            lake_tables.NestedField(1, "legacy", StringType(), required=False),
            *(f.model_copy(update={"field_id": f.field_id + 1}) for f in schema.fields),
        ),
        location=roots.location(spec),
        properties=lake_tables.TABLE_PROPERTIES,
    )
    with made.update_schema() as update:
        update.delete_column("legacy")
    with made.update_spec() as update:
        for column in spec.partitioned_by:
            update.add_identity(column)

    said: list[str] = []
    table, elsewhere = ingest("elsewhere", said)
    assert table.schema().find_field("trip_key").field_id != schema.find_field("trip_key").field_id
    assert said.count("the catalog's green_trips differ from the contract's layout: writing the files again") == 1
    _, contract = ingest("contract", [])
    assert elsewhere.select(contract.column_names).equals(contract)
