"""Data files of one month of a lake table, written by a Spark task before the driver commits them.

A `MonthWriter` streams a month's rows (Parquet, with pyarrow) into new files under the Iceberg
table's data folder, ``<table>/data/service=S/year=Y/month=M/<run token>-<n>.parquet``, with the
table's schema and field IDs (`ingestion.lake_tables.write_schema`). Nobody reads a data file until a
snapshot references it: the driver's commit (`ingestion.lake_commit`) adds the files and drops the
month's previous ones in one Iceberg transaction. A file whose commit never happens is unreferenced
and removed by the lake's maintenance; `discard` removes them at once when the task itself gives up.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion import storage

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


@dataclass(frozen=True)
class Target:
    """What a Spark task needs of a lake table to write its data files: where, and the schema with the
    table's field IDs (from the driver, which read both from the catalog)."""

    table: str
    location: str
    schema: pa.Schema

    def writer(self, service: str, year: int, month: int) -> MonthWriter:
        return MonthWriter(self.location, service, year, month, self.schema)


def month_folder(table_location: str, service: str, year: int, month: int) -> str:
    """``<table>/data/service=S/year=Y/month=M``: where the month's data files go (Iceberg's own
    layout for identity partitions; readers find files through the snapshot, never by this path)."""
    return storage.join(table_location, "data", f"service={service}", f"year={year}", f"month={month}")


@dataclass
class MonthWriter:
    """Rows of one month of one table, written to new data files, waiting for the driver's commit.

    Encoding and compressing Parquet happens on a thread of its own (pyarrow releases the GIL), so the
    next batch is read and checked while this one is written; at most `_QUEUED` batches wait.
    """

    table_location: str  # file:// or s3:// URI of the Iceberg table
    service: str
    year: int
    month: int
    schema: pa.Schema  # with the table's field IDs
    token: str = field(default_factory=storage.unique_suffix)
    rows: int = 0
    files: list[str] = field(default_factory=list)  # URIs, as the table's location spells them
    _in_file: int = 0
    _writer: pq.ParquetWriter | None = None
    _sink: object | None = None
    _queue: queue.Queue | None = None
    _thread: threading.Thread | None = None
    _failure: BaseException | None = None

    @property
    def folder(self) -> str:
        return month_folder(self.table_location, self.service, self.year, self.month)

    def write(self, table: pa.Table) -> None:
        """Queue rows (already in `schema`'s columns and types) for the writing thread."""
        if self._thread is None:
            self._queue = queue.Queue(maxsize=_QUEUED)
            self._thread = threading.Thread(target=self._drain, name=f"write {self.folder}", daemon=True)
            self._thread.start()
        self._raise_failure()
        self._queue.put(table)

    def _drain(self) -> None:
        while (table := self._queue.get()) is not None:
            if self._failure is None:
                try:
                    self._write(table)
                except OSError as exc:
                    self._failure = self._naming_the_file(exc)
                except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                    self._failure = exc

    def _naming_the_file(self, exc: OSError) -> OSError:
        """`exc` naming the file being written (Arrow's says "Error writing bytes to file" and the errno)."""
        if not exc.errno:
            return exc
        where = storage.local_path(self.files[-1]) if self.files else storage.local_path(self.folder)
        named = OSError(exc.errno, f"cannot write {where}: {os.strerror(exc.errno)}")
        named.__cause__ = exc
        return named

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _join(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

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
        target = storage.join(self.folder, f"{self.token}-{len(self.files):05d}.parquet")
        self._sink = storage.open_output_stream(storage.local_path(target))
        self.files.append(target)
        self._writer = pq.ParquetWriter(
            self._sink, self.schema, use_dictionary=_dictionary_columns(self.schema), **_PARQUET_OPTIONS
        )
        self._in_file = 0

    def _close_file(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._sink.close()
        self._writer = self._sink = None

    def close(self) -> list[str]:
        """Write what is queued, finish the last file; returns the files written."""
        self._join()
        self._raise_failure()
        try:
            self._close_file()
        except OSError as exc:
            raise self._naming_the_file(exc) from exc
        return list(self.files)

    def discard(self) -> None:
        """Delete what was written (nothing references it yet)."""
        self._failure = self._failure or RuntimeError("discarded")  # the thread skips what is still queued
        self._join()
        if self._writer is not None:
            try:
                self._writer.close()
                abort = getattr(self._sink, "abort", None)
                abort() if abort else self._sink.close()
            except Exception:  # noqa: BLE001 - the file is deleted below either way
                pass
            self._writer = self._sink = None
        delete_files(self.files)
        self.files = []


def delete_files(uris: list[str]) -> None:
    """Delete data files nobody references (a failed task's, a commit that did not happen)."""
    for uri in uris:
        storage.delete_file(storage.local_path(uri))


def count_rows(uris: list[str]) -> int:
    """Rows in data files, from their Parquet footers."""
    total = 0
    for uri in uris:
        with storage.open_binary(storage.local_path(uri)) as handle:
            total += pq.ParquetFile(handle).metadata.num_rows
    return total
