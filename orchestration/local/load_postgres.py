"""Load lake partitions into PostgreSQL: the local stand-in for registering them with Redshift Spectrum.

Each lake partition (one source file's accepted rows, see docs/data_contracts.md) becomes one child
table of `raw.<service>_trips`, partitioned by range (year, month). A reload truncates and refills
that child, and replaces the month's quarantine rows and its `raw.partition_loads` row, all in ONE
transaction: readers see the old month or the new one, never a mix, and a crash leaves the old one.

A partition is loaded when the manifest's `ingested_at` differs from the one recorded in
`raw.partition_loads`, so a rerun after a crash between ingest and load converges, and a rerun with
nothing new loads nothing.
"""

from __future__ import annotations

import io
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
from pgpq import ArrowToPostgresBinaryEncoder
from psycopg2 import sql

from ingestion.contract import (
    DATASETS,
    LOAD_LOG_COLUMNS,
    LOAD_LOG_TABLE,
    MANIFEST_DIR,
    PARTITION_COLUMNS,
    QUARANTINE_COLUMNS,
    QUARANTINE_TABLE,
    TYPES,
    dataset,
    logical_type,
    partition_path,
)

RAW_SCHEMA = "raw"
# The load log's Postgres spelling: loaded_at is when this loader swapped the month in (timestamptz), and
# lake_version (the manifest's ingested_at) is what it compares to decide whether a month changed.
_LOAD_LOG_POSTGRES_TYPES = {"loaded_at": "timestamptz"}
_LOAD_LOG_EXTRA = [("lake_version", "text")]


def _postgres(columns) -> list[tuple[str, str]]:
    return [(c.name, logical_type(c.type).postgres) for c in columns]


def trip_columns(service: str) -> list[tuple[str, str]]:
    """(name, Postgres type) of a dataset's raw table: its lake columns, then the partition columns."""
    return _postgres((*dataset(service).columns, *PARTITION_COLUMNS))


QUARANTINE_DDL_COLUMNS: list[tuple[str, str]] = _postgres((*QUARANTINE_COLUMNS, *PARTITION_COLUMNS))
LOAD_LOG_DDL_COLUMNS: list[tuple[str, str]] = [
    (c.name, _LOAD_LOG_POSTGRES_TYPES.get(c.name, logical_type(c.type).postgres)) for c in LOAD_LOG_COLUMNS
] + _LOAD_LOG_EXTRA


@dataclass(frozen=True)
class PartitionLoad:
    """What one partition load did: the figures the run summary and the tests reconcile."""

    service: str
    year: int
    month: int
    source_file: str
    rows_loaded: int
    rows_quarantined: int
    seconds: float
    skipped: bool


def _columns_ddl(columns: list[tuple[str, str]]) -> sql.Composable:
    return sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in columns)


def ensure_raw_schema(conn, schema_name: str = RAW_SCHEMA) -> None:
    """Create the raw layer if missing (every dataset's table, the quarantine, the load log), from the
    contract. Safe to run concurrently with readers; idempotent. (Another schema name: test fixtures.)"""
    schema = sql.Identifier(schema_name)
    with conn.cursor() as cur:
        cur.execute(sql.SQL("create schema if not exists {}").format(schema))
        for item in DATASETS:
            cur.execute(
                sql.SQL("create table if not exists {}.{} ({}) partition by range (year, month)").format(
                    schema, sql.Identifier(item.table), _columns_ddl(trip_columns(item.service))
                )
            )
        cur.execute(
            sql.SQL("create table if not exists {}.{} ({})").format(
                schema, sql.Identifier(QUARANTINE_TABLE), _columns_ddl(QUARANTINE_DDL_COLUMNS)
            )
        )
        cur.execute(
            sql.SQL("create index if not exists quarantined_trips_month on {}.{} (service, year, month)").format(
                schema, sql.Identifier(QUARANTINE_TABLE)
            )
        )
        cur.execute(
            sql.SQL("create table if not exists {}.{} ({}, primary key (service, year, month))").format(
                schema,
                sql.Identifier(LOAD_LOG_TABLE),
                sql.SQL(", ").join(
                    sql.SQL("{} {} not null").format(sql.Identifier(name), sql.SQL(kind))
                    for name, kind in LOAD_LOG_DDL_COLUMNS
                ),
            )
        )
    conn.commit()


# ---------- COPY in PostgreSQL's binary format
#
# Binary COPY is what the server ingests fastest (no text parsing of numbers and timestamps: on this
# project's data ~1.35x the rows/s of CSV). pgpq encodes Arrow batches to it; a thread encodes batch
# k+1 while the main thread streams batch k to the server, so the backend parses while the client
# encodes. BENCHMARKS.md ("Loader: hand-written vs libraries") has the measurements behind the choice.

_QUEUE_BATCHES = 3
_COPY_CHUNK = 8 << 20  # what psycopg2 asks read() for; _CopyStream returns a whole batch instead
ANALYZE_STATISTICS_TARGET = 10  # per loaded month; PostgreSQL's default is 100 (30,000 sampled rows)

# The Arrow type whose binary COPY encoding each PostgreSQL column type reads: the contract's pairs.
_ARROW_OF_POSTGRES = {t.postgres: t.arrow for t in TYPES.values()}


def _arrow_schema(columns: list[tuple[str, str]]) -> pa.Schema:
    """The columns' Arrow schema, from their PostgreSQL types."""
    return pa.schema([(name, _ARROW_OF_POSTGRES[kind]) for name, kind in columns])


class _CopyStream(io.RawIOBase):
    """A read()-able binary COPY stream of Arrow batches: a thread encodes batch k+1 (pgpq) while COPY
    sends batch k; at most `_QUEUE_BATCHES` encoded batches wait in memory, so a partition is never
    held whole."""

    def __init__(self, batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=_QUEUE_BATCHES)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._produce, args=(batches, schema), daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> None:
        try:
            encoder = ArrowToPostgresBinaryEncoder(schema)
            if not self._put(encoder.write_header()):
                return
            for batch in batches:
                # pgpq returns b"" until it holds 1 MiB of encoded rows, and an empty read() ends the COPY
                chunk = encoder.write_batch(batch.cast(schema)) if batch.num_rows else b""
                if chunk and not self._put(chunk):
                    return
            self._put(encoder.finish())  # the rows still buffered, then the trailer
            self._put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread, which raises it
            self._put(exc)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """The next encoded chunk, whole: psycopg2 sends whatever length read() returns, and slicing it
        into `size` pieces would only copy it again."""
        if self._done:
            return b""
        item = self._queue.get()
        if item is None or isinstance(item, BaseException):
            self._done = True
            if item is not None:
                raise item
            return b""
        return item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.1)
            except queue.Empty:
                pass
        super().close()


def _naive_timestamps(batch: pa.RecordBatch) -> pa.RecordBatch:
    # Spark writes timestamps as UTC instants; with its session time zone at UTC those instants ARE the
    # NYC wall-clock times TLC recorded, so dropping the zone gives Postgres `timestamp` the right value.
    arrays = []
    for field, column in zip(batch.schema, batch.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            column = column.cast(pa.timestamp("us", tz=field.type.tz)).cast(pa.timestamp("us"))
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _batches(partition_dir: Path, columns: list[str], year: int, month: int) -> Iterator[pa.RecordBatch]:
    """The partition's rows with exactly `columns` (the contract's, then year and month).

    A column the contract has and an older lake partition lacks reads as null (columns are only ever
    added); a column the contract lacks stops the load, here, before any COPY starts, instead of being
    dropped silently.
    """
    files = sorted(str(p) for p in partition_dir.glob("*.parquet"))
    if not files:
        return iter(())
    dataset = pads.dataset(files, format="parquet")
    present = set(dataset.schema.names)
    unknown = sorted(present - set(columns))
    if unknown:
        raise RuntimeError(
            f"{partition_dir}: lake columns {', '.join(unknown)} are not in the contract (ingestion/contract/);"
            " nothing was loaded"
        )
    return _aligned(dataset, present, columns, year, month)


def _aligned(dataset, present: set[str], columns: list[str], year: int, month: int) -> Iterator[pa.RecordBatch]:
    for batch in dataset.to_batches(batch_size=32_768):
        batch = _naive_timestamps(batch)
        n = batch.num_rows
        arrays = [
            batch.column(name) if name in present else pa.nulls(n) for name in columns if name not in ("year", "month")
        ]
        arrays += [pa.array(np.full(n, year, np.int32)), pa.array(np.full(n, month, np.int32))]
        yield pa.RecordBatch.from_arrays(arrays, names=columns)


def _stream(columns: list[tuple[str, str]], batches: Iterator[pa.RecordBatch]) -> _CopyStream:
    """The binary COPY stream of the batches ((name, Postgres type) per column); its thread starts
    encoding at once."""
    return _CopyStream(batches, _arrow_schema(columns))


def _copy(cur, table: sql.Composable, columns: list[str], stream: _CopyStream) -> int:
    """COPY the stream into `table` in the binary format; returns the row count.

    (COPY FREEZE into the freshly truncated month was measured and dropped: 10% slower to load, for
    0.1 s off the first scan and a 0.4 s vacuum saved later at 3M rows; BENCHMARKS.md.)
    """
    statement = sql.SQL("copy {} ({}) from stdin with (format binary)").format(
        table, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    cur.copy_expert(statement.as_string(cur), stream, size=_COPY_CHUNK)
    return cur.rowcount


def _record_load(cur, values: dict) -> None:
    """Upsert the month's load-log row (`loaded_at`: now, this transaction's clock)."""
    names = [name for name, _ in LOAD_LOG_DDL_COLUMNS if name != "loaded_at"]
    key = ("service", "year", "month")
    statement = sql.SQL(
        "insert into {table} ({columns}, loaded_at) values ({values}, clock_timestamp())"
        " on conflict ({key}) do update set {updates}, loaded_at = excluded.loaded_at"
    ).format(
        table=sql.Identifier(RAW_SCHEMA, LOAD_LOG_TABLE),
        columns=sql.SQL(", ").join(map(sql.Identifier, names)),
        values=sql.SQL(", ").join(sql.Placeholder(name) for name in names),
        key=sql.SQL(", ").join(map(sql.Identifier, key)),
        updates=sql.SQL(", ").join(
            sql.SQL("{0} = excluded.{0}").format(sql.Identifier(name)) for name in names if name not in key
        ),
    )
    cur.execute(statement, {name: values[name] for name in names})


def _recorded_version(conn, service: str, year: int, month: int) -> str | None:
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("select lake_version from {} where service = %s and year = %s and month = %s").format(
                sql.Identifier(RAW_SCHEMA, LOAD_LOG_TABLE)
            ),
            (service, year, month),
        )
        row = cur.fetchone()
    return row[0] if row else None


def load_partition(conn, manifest: dict, lake_root: Path, quarantine_root: Path) -> PartitionLoad:
    """Swap one month into the warehouse from its lake and quarantine partitions, atomically."""
    service, year, month = manifest["service"], int(manifest["year"]), int(manifest["month"])
    version = manifest["ingested_at"]
    started = time.perf_counter()
    if _recorded_version(conn, service, year, month) == version:
        return PartitionLoad(service, year, month, manifest["source_file"], 0, 0, 0.0, skipped=True)

    parent = dataset(service).table
    child = sql.Identifier(RAW_SCHEMA, f"{parent}_{year:04d}_{month:02d}")
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    trip_types = trip_columns(service)
    trip_cols = [c for c, _ in trip_types]
    quarantine_cols = [c for c, _ in QUARANTINE_DDL_COLUMNS]
    relative = Path(partition_path(service, year, month))

    # Both streams start encoding now: the quarantine's (one batch) is then ready when the trips' COPY
    # ends, instead of being read and encoded while the server waits. Each holds at most
    # _QUEUE_BATCHES encoded batches.
    trips = _stream(trip_types, _batches(lake_root / relative, trip_cols, year, month))
    quarantine = _stream(QUARANTINE_DDL_COLUMNS, _batches(quarantine_root / relative, quarantine_cols, year, month))
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("create table if not exists {} partition of {} for values from (%s, %s) to (%s, %s)").format(
                    child, sql.Identifier(RAW_SCHEMA, parent)
                ),
                (year, month, next_year, next_month),
            )
            cur.execute(sql.SQL("truncate {}").format(child))
            loaded = _copy(cur, child, trip_cols, trips)
            cur.execute(
                sql.SQL("delete from {} where service = %s and year = %s and month = %s").format(
                    sql.Identifier(RAW_SCHEMA, QUARANTINE_TABLE)
                ),
                (service, year, month),
            )
            quarantined = _copy(
                cur,
                sql.Identifier(RAW_SCHEMA, QUARANTINE_TABLE),
                quarantine_cols,
                quarantine,
            )
            if loaded != manifest["rows_accepted"] or quarantined != manifest["rows_quarantined"]:
                conn.rollback()
                raise RuntimeError(
                    f"{manifest['source_file']}: lake partition {relative} holds {loaded} accepted and "
                    f"{quarantined} quarantined rows but the manifest says {manifest['rows_accepted']} and "
                    f"{manifest['rows_quarantined']}; nothing was loaded. Re-run the ingestion for this file."
                )
            _record_load(
                cur,
                {
                    **{c.name: manifest[c.manifest_key] for c in LOAD_LOG_COLUMNS if c.name != "loaded_at"},
                    "row_count": loaded,
                    "quarantined_count": quarantined,
                    "lake_version": version,
                },
            )
            # Fresh statistics so the planner sees the new month at once (dbt reads it next). A small sample
            # suffices for raw months that are only ever scanned whole and hash-joined to small dimensions:
            # row counts and null fractions are exact either way (BENCHMARKS.md: 0.35 s -> 0.03 s at 500k rows).
            cur.execute(
                sql.SQL("set local default_statistics_target = {}").format(sql.Literal(ANALYZE_STATISTICS_TARGET))
            )
            cur.execute(sql.SQL("analyze {}").format(child))
    finally:
        trips.close()
        quarantine.close()
    conn.commit()
    return PartitionLoad(
        service, year, month, manifest["source_file"], loaded, quarantined, time.perf_counter() - started, False
    )


def read_manifests(lake_root: Path) -> list[dict]:
    """Every manifest in the lake, oldest partition first."""
    manifests = [json.loads(p.read_text()) for p in sorted((lake_root / MANIFEST_DIR).glob("*.json"))]
    return sorted(manifests, key=lambda m: (m["service"], m["year"], m["month"]))


def load_lake(
    conn,
    lake_root: Path,
    quarantine_root: Path,
    progress: Callable[[str], None] | None = None,
) -> list[PartitionLoad]:
    """Bring the warehouse's raw layer level with the lake: every partition whose version changed."""
    ensure_raw_schema(conn)
    results = []
    for manifest in read_manifests(lake_root):
        label = f"{manifest['service']} {manifest['year']:04d}-{manifest['month']:02d}"
        result = load_partition(conn, manifest, lake_root, quarantine_root)
        if progress:
            if result.skipped:
                progress(f"{label}: unchanged, not reloaded")
            else:
                progress(
                    f"{label}: {result.rows_loaded:,} rows + {result.rows_quarantined:,} quarantined "
                    f"in {result.seconds:.1f}s"
                )
        results.append(result)
    return results
