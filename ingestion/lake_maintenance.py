"""The lake's upkeep after each commit: snapshots replaced longer ago than the time-travel window
expired, and files no remaining snapshot references deleted.

pyiceberg's expiry only drops snapshots from the metadata; their files stay on disk (on S3) for ever.
So after expiring, every file under each table's location that no snapshot, manifest or metadata-log
entry still names is deleted: the data files of months replaced more than `RETENTION` ago, and what a
killed run wrote but never committed. A file younger than `orphan_min_age` is kept even when
unreferenced: it may belong to a run that has not committed yet. On AWS that age is
`ORPHAN_MIN_AGE` (longer than a job can run); a local run holds the lake's lock and passes 0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from pyiceberg.table import Table

from ingestion import storage
from ingestion.lake_tables import local_path, retry_on_conflict

# How far back a reader can travel (`FOR VERSION AS OF`, `scan(snapshot_id=...)`): the README states it.
RETENTION = dt.timedelta(days=7)
# Unreferenced files younger than this are left alone on AWS: a running job's, not committed yet. Glue
# caps a job's timeout at 48 hours (infra's timeout_minutes is far below), so three days is past any run.
ORPHAN_MIN_AGE = dt.timedelta(days=3)
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


def _replaced_before(table: Table, before: dt.datetime) -> list[int]:
    """Snapshots that stopped being current before `before` (the snapshot log says when each became
    current; the next one's time is when it stopped): a reader that started on one within the window
    keeps its files, however old the snapshot itself is. The current snapshot is never among them."""
    limit = before.timestamp() * 1000
    log = table.metadata.snapshot_log
    ended = {entry.snapshot_id: after.timestamp_ms for entry, after in zip(log, log[1:], strict=False)}
    current = table.current_snapshot()
    return [
        s.snapshot_id
        for s in table.metadata.snapshots
        if (current is None or s.snapshot_id != current.snapshot_id)
        and ended.get(s.snapshot_id, s.timestamp_ms) < limit
    ]


def _expire(table: Table, before: dt.datetime) -> int:
    def attempt() -> int:
        old = _replaced_before(table.refresh(), before)
        if old:
            table.maintenance.expire_snapshots().by_ids(old).commit()
            table.refresh()
        return len(old)

    return retry_on_conflict(attempt, ATTEMPTS)


def upkeep(
    table: Table,
    now: dt.datetime | None = None,
    retention: dt.timedelta = RETENTION,
    orphan_min_age: dt.timedelta = ORPHAN_MIN_AGE,
) -> Upkeep:
    """Expire the table's snapshots replaced more than `retention` ago (never the current one), then
    delete the unreferenced files under its location older than `orphan_min_age`."""
    now = now or dt.datetime.now(dt.UTC)
    expired = _expire(table, now - retention)
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
        try:
            result = upkeep(table, orphan_min_age=orphan_min_age)
        except Exception as exc:  # noqa: BLE001 - the run's commits stand; the next run's upkeep retries
            if progress:
                progress(f"upkeep {table.name()[-1]} failed, left for the next run: {exc}")
            continue
        if progress and (result.snapshots_expired or result.files_deleted):
            progress(
                f"upkeep {result.table}: {result.snapshots_expired} snapshot(s) expired,"
                f" {result.files_deleted} unreferenced file(s) deleted"
            )
        done.append(result)
    return done
