"""Lake and quarantine partitions: written aside, then swapped in whole.

A partition (``<root>/<service>_trips/year=YYYY/month=MM/``) always holds exactly one source file's
rows. It is replaced in two steps so a crash never leaves half a month behind:

1. a `PartitionWriter` writes the rows (Parquet, with pyarrow) to a staging location no reader
   looks at, one file per `ROWS_PER_FILE` rows;
2. `publish` swaps it in.

Local filesystem: staging is a hidden sibling directory (``.month=MM.staging-<id>``); the swap
renames the old partition aside, renames the new one in, then deletes the old one. A crash before
the swap leaves the previous partition untouched; a crash between the two renames leaves it in
``.month=MM.old-<id>``, which `recover` puts back. A rerun always converges.

S3 (no rename): staging is ``<root>/_staging/<partition>/<id>/``; the swap copies the new objects
in (file names are unique per write), then deletes the previous objects, then the staging prefix.
A crash mid-swap can leave old and new objects side by side until the rerun (which the manifest's
missing/older sha256 triggers) replaces the partition again.
"""

from __future__ import annotations

import os
import posixpath
import queue
import threading
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion import storage
from ingestion.contract import STAGING_DIR

ROWS_PER_FILE = 1_000_000
_QUEUED = 2
# Decimals as INT64 (what Spark wrote, so every reader sees the same physical types). No dictionary for
# columns whose values are (nearly) all distinct: the writer would build one per page and drop it,
# ~20% of the write for trip_key, and 5-10% of the file's write CPU for the timestamps and source_row
# (the files also get 1-4% smaller). Snappy everywhere: what Spectrum documents; trip_key's hex
# barely compresses (91 of 102 MB a 3M-row month) but uncompressed it would cost Spectrum scans more.
_PARQUET_OPTIONS = {"compression": "snappy", "store_decimal_as_integer": True}
_NO_DICTIONARY = {"trip_key", "source_row", "reason", "raw_record"}


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if f.name not in _NO_DICTIONARY and not pa.types.is_timestamp(f.type)]


def _staging_path(root: str, partition: str) -> str:
    token = storage.unique_suffix()
    if storage.is_s3(root):
        return storage.join(root, STAGING_DIR, partition, token)
    parent, leaf = posixpath.split(partition)
    return storage.join(root, parent, f".{leaf}.staging-{token}")


def _is_data_file(path: str) -> bool:
    name = storage.file_name(path)
    return name.startswith("part-") and name.endswith(".parquet")


@dataclass
class PartitionWriter:
    """Rows of one partition written to a fresh staging location, waiting for `publish`/`discard`.

    Encoding and compressing Parquet happens on a thread of its own (pyarrow releases the GIL), so the
    next batch is read and checked while this one is written; at most `_QUEUED` batches wait.
    """

    root: str
    partition: str
    schema: pa.Schema
    staging: str = ""
    rows: int = 0
    _files: int = 0
    _in_file: int = 0
    _writer: pq.ParquetWriter | None = None
    _sink: pa.NativeFile | None = None
    _target: str = ""
    _token: str = field(default_factory=storage.unique_suffix)
    _queue: queue.Queue | None = None
    _thread: threading.Thread | None = None
    _failure: BaseException | None = None

    def __post_init__(self) -> None:
        recover(self.root, self.partition)
        self.staging = _staging_path(self.root, self.partition)
        if not storage.is_s3(self.root):
            os.makedirs(self.staging, exist_ok=True)

    def write(self, table: pa.Table) -> None:
        """Queue rows (already in `schema`) for the writing thread."""
        if self._thread is None:
            self._queue = queue.Queue(maxsize=_QUEUED)
            self._thread = threading.Thread(target=self._drain, name=f"write {self.partition}", daemon=True)
            self._thread.start()
        self._raise_failure()
        self._queue.put(table)

    def _drain(self) -> None:
        while (table := self._queue.get()) is not None:
            if self._failure is None:
                try:
                    self._write(table)
                except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                    self._failure = exc

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _join(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    @property
    def final(self) -> str:
        """Where the partition lives once published."""
        return storage.join(self.root, self.partition)

    def _write(self, table: pa.Table) -> None:
        """Append rows, starting a new file every ROWS_PER_FILE rows (on the writing thread)."""
        offset = 0
        while offset < table.num_rows:
            if self._writer is None:
                self._open()
            take = min(table.num_rows - offset, ROWS_PER_FILE - self._in_file)
            self._writer.write_table(table.slice(offset, take), row_group_size=ROWS_PER_FILE)
            self._in_file += take
            self.rows += take
            offset += take
            if self._in_file >= ROWS_PER_FILE:
                self._close_file()

    def _open(self) -> None:
        self._target = storage.join(self.staging, f"part-{self._files:05d}-{self._token}.parquet")
        self._sink = pa.BufferOutputStream() if storage.is_s3(self.root) else pa.OSFile(self._target, "wb")
        self._writer = pq.ParquetWriter(
            self._sink, self.schema, use_dictionary=_dictionary_columns(self.schema), **_PARQUET_OPTIONS
        )
        self._files += 1
        self._in_file = 0

    def _close_file(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        if isinstance(self._sink, pa.BufferOutputStream):
            storage.write_bytes(self._target, self._sink.getvalue().to_pybytes())
        else:
            self._sink.close()
        self._writer = self._sink = None

    def close(self) -> int:
        """Write what is queued, finish the last file; returns the rows written."""
        self._join()
        self._raise_failure()
        self._close_file()
        return self.rows

    def publish(self) -> None:
        """Swap the staged rows in as the partition, replacing whatever was there."""
        self.close()
        if storage.is_s3(self.root):
            _swap_s3(self.staging, self.final)
        else:
            _swap_local(self.staging, self.final)

    def discard(self) -> None:
        """Drop staged rows that will not be published (the previous partition stays)."""
        self._failure = self._failure or RuntimeError("discarded")  # the thread skips what is still queued
        self._join()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        storage.delete_tree(self.staging)


def count_rows(location: str) -> int:
    """Rows in the part files under a partition or staging location, from Parquet footers."""
    total = 0
    for path in storage.list_files(location):
        if _is_data_file(path):
            with storage.open_binary(path) as handle:
                total += pq.ParquetFile(handle).metadata.num_rows
    return total


def _swap_local(staging: str, final: str) -> None:
    parent, leaf = os.path.split(final)
    aside = os.path.join(parent, f".{leaf}.old-{storage.unique_suffix()}")
    if os.path.isdir(final):
        os.rename(final, aside)
    os.rename(staging, final)
    storage.delete_tree(aside)


def _swap_s3(staging: str, final: str) -> None:
    previous = storage.list_files(final)
    incoming = [path for path in storage.list_files(staging) if _is_data_file(path)]
    names = {storage.file_name(path) for path in incoming}
    for path in incoming:
        storage.copy_file(path, storage.join(final, storage.file_name(path)))
    for path in previous:
        if storage.file_name(path) not in names:
            storage.delete_file(path)
    storage.delete_tree(staging)


def recover(root: str, partition: str) -> None:
    """Tidy what a crashed run left: restore a partition renamed aside, drop stale staging.

    Local only (S3 staging prefixes are unique per run and removed by the next publish/discard;
    a lifecycle rule on ``_staging/`` can expire strays).
    """
    if storage.is_s3(root):
        return
    final = storage.join(root, partition)
    parent, leaf = os.path.split(final)
    if not os.path.isdir(parent):
        return
    leftovers = sorted(name for name in os.listdir(parent) if name.startswith(f".{leaf}."))
    for name in leftovers:
        path = os.path.join(parent, name)
        if ".old-" in name and not os.path.isdir(final):
            os.rename(path, final)
        else:
            storage.delete_tree(path)
