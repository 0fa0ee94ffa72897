"""One writer at a time on a local lake: an exclusive lock on ``run.lock`` beside the lake root.

Every local writer holds it (`job.execute`, `make run`, the Hive-lake migration, the relocation), so a
run's upkeep, which then deletes every file no snapshot names however young (a killed run's leftovers),
can never delete another writer's files before they are committed. The kernel releases the lock when
the process dies, so a killed run never leaves it behind. Re-entrant within a process: `make run`
holds it for the whole run and the job's `execute` inside it takes it again. An S3 lake has no such
lock (Glue runs are kept apart by the state machine's DynamoDB month locks; their upkeep waits
`lake_maintenance.ORPHAN_MIN_AGE` instead).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator

from ingestion import storage

LOCK_FILE = "run.lock"

_held: dict[str, int] = {}  # lock file -> depth, for this process
_guard = threading.Lock()


def lock_path(lake_root: str) -> str | None:
    """``<folder holding the lake root>/run.lock``, or None for an S3 lake."""
    if storage.is_s3(lake_root):
        return None
    return os.path.join(os.path.dirname(os.path.abspath(storage.local_path(lake_root))), LOCK_FILE)


def held(lake_root: str) -> bool:
    """Whether this process holds the lake."""
    path = lock_path(lake_root)
    return path is not None and _held.get(path, 0) > 0


@contextlib.contextmanager
def holding(lake_root: str, say: Callable[[str], None] | None = None) -> Iterator[bool]:
    """Hold a local lake for the block, waiting (and saying so) while another process holds it;
    yields whether a lock is held (False for an S3 lake)."""
    path = lock_path(lake_root)
    if path is None:
        yield False
        return
    with _guard:
        depth = _held.get(path, 0)
        if depth:
            _held[path] = depth + 1
    if depth:
        try:
            yield True
        finally:
            with _guard:
                _held[path] -= 1
        return
    import fcntl

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if say:
                say(f"another run is using the lake {lake_root}; waiting for it to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        with _guard:
            _held[path] = 1
        try:
            yield True
        finally:
            with _guard:
                del _held[path]
