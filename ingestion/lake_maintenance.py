"""The lake's upkeep after each commit: snapshots older than the time-travel window expired, and files
no remaining snapshot references deleted.

pyiceberg's expiry only drops snapshots from the metadata; their files stay on disk (on S3) for ever.
So after expiring, every file under each table's location that no snapshot, manifest or metadata-log
entry still names is deleted: the data files of months replaced more than `RETENTION` ago, and what a
killed run wrote but never committed. A file younger than `orphan_min_age` is kept even when
unreferenced: it may belong to a run that has not committed yet. On AWS that age is
`ORPHAN_MIN_AGE` (longer than a job can run); a local run holds the lake's lock and passes 0.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table import Table

from ingestion import storage
from ingestion.lake_tables import local_path

# How far back a reader can travel (`FOR VERSION AS OF`, `scan(snapshot_id=...)`): the README states it.
RETENTION = dt.timedelta(days=7)
# Unreferenced files younger than this are left alone on AWS: the Glue job's timeout is far below it.
ORPHAN_MIN_AGE = dt.timedelta(days=1)
ATTEMPTS = 5


@dataclass
class Upkeep:
    """What one table's upkeep did."""

    table: str
    snapshots_expired: int = 0
    files_deleted: int = 0


def referenced_files(table: Table) -> set[str]:
    """Every file the table's metadata still names: metadata files, manifest lists, manifests and the
    data files of every remaining snapshot (as local paths or URIs)."""
    metadata = table.metadata
    found = {table.metadata_location, *(entry.metadata_file for entry in metadata.metadata_log)}
    seen_manifests: set[str] = set()
    for snapshot in metadata.snapshots:
        found.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            if manifest.manifest_path in seen_manifests:
                continue
            seen_manifests.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                found.add(entry.data_file.file_path)
    found |= seen_manifests
    found |= {stats.statistics_path for stats in metadata.statistics}
    found |= {stats.statistics_path for stats in metadata.partition_statistics}
    return {local_path(path) for path in found}


def _expire(table: Table, before: dt.datetime) -> tuple[Table, int]:
    for attempt in range(ATTEMPTS):
        table = table.refresh()
        current = table.current_snapshot()
        old = [s for s in table.metadata.snapshots if s.timestamp_ms < before.timestamp() * 1000]
        old = [s.snapshot_id for s in old if current is None or s.snapshot_id != current.snapshot_id]
        if not old:
            return table, 0
        try:
            table.maintenance.expire_snapshots().by_ids(old).commit()
            return table.refresh(), len(old)
        except CommitFailedException:
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0.05, 0.2) * 2**attempt)
    raise AssertionError("unreachable")


def upkeep(
    table: Table,
    now: dt.datetime | None = None,
    retention: dt.timedelta = RETENTION,
    orphan_min_age: dt.timedelta = ORPHAN_MIN_AGE,
) -> Upkeep:
    """Expire the table's snapshots older than `retention` (never the current one), then delete the
    unreferenced files under its location older than `orphan_min_age`."""
    now = now or dt.datetime.now(dt.UTC)
    table, expired = _expire(table, now - retention)
    referenced = referenced_files(table)
    deleted = 0
    for path, modified in storage.list_files_with_times(local_path(table.location())):
        if path not in referenced and now - modified >= orphan_min_age:
            storage.delete_file(path)
            deleted += 1
    return Upkeep(table.name()[-1], expired, deleted)


def upkeep_all(
    tables: dict[str, Table],
    orphan_min_age: dt.timedelta = ORPHAN_MIN_AGE,
    progress: Callable[[str], None] | None = None,
) -> list[Upkeep]:
    """`upkeep` of every table, one line of progress for those where something went."""
    done = []
    for table in tables.values():
        result = upkeep(table, orphan_min_age=orphan_min_age)
        if progress and (result.snapshots_expired or result.files_deleted):
            progress(
                f"upkeep {result.table}: {result.snapshots_expired} snapshot(s) expired,"
                f" {result.files_deleted} unreferenced file(s) deleted"
            )
        done.append(result)
    return done
