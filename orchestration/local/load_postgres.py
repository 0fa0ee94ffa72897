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

RAW_SCHEMA = "raw"
SERVICES = ("yellow", "green")

# Column order of the canonical trip schema (docs/data_contracts.md), with Postgres types.
TRIP_COLUMNS: list[tuple[str, str]] = [
    ("trip_key", "text"),
    ("service", "text"),
    ("vendor_id", "integer"),
    ("pickup_at", "timestamp"),
    ("dropoff_at", "timestamp"),
    ("passenger_count", "integer"),
    ("trip_distance", "double precision"),
    ("rate_code_id", "integer"),
    ("store_and_fwd_flag", "text"),
    ("pickup_location_id", "integer"),
    ("dropoff_location_id", "integer"),
    ("payment_type", "integer"),
    ("fare_amount", "numeric(12,2)"),
    ("extra", "numeric(12,2)"),
    ("mta_tax", "numeric(12,2)"),
    ("tip_amount", "numeric(12,2)"),
    ("tolls_amount", "numeric(12,2)"),
    ("improvement_surcharge", "numeric(12,2)"),
    ("total_amount", "numeric(12,2)"),
    ("congestion_surcharge", "numeric(12,2)"),
    ("airport_fee", "numeric(12,2)"),
    ("cbd_congestion_fee", "numeric(12,2)"),
    ("ehail_fee", "numeric(12,2)"),
    ("trip_type", "integer"),
    ("source_file", "text"),
    ("source_row", "bigint"),
]
QUARANTINE_EXTRA: list[tuple[str, str]] = [("reason_code", "text"), ("reason", "text"), ("raw_record", "text")]
PARTITION_COLUMNS: list[tuple[str, str]] = [("year", "integer"), ("month", "integer")]


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


def ensure_raw_schema(conn) -> None:
    """Create the raw layer if missing. Safe to run concurrently with readers; idempotent."""
    with conn.cursor() as cur:
        cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(RAW_SCHEMA)))
        for service in SERVICES:
            cur.execute(
                sql.SQL("create table if not exists {}.{} ({}) partition by range (year, month)").format(
                    sql.Identifier(RAW_SCHEMA),
                    sql.Identifier(f"{service}_trips"),
                    _columns_ddl(TRIP_COLUMNS + PARTITION_COLUMNS),
                )
            )
        cur.execute(
            sql.SQL("create table if not exists {}.quarantined_trips ({})").format(
                sql.Identifier(RAW_SCHEMA), _columns_ddl(TRIP_COLUMNS + QUARANTINE_EXTRA + PARTITION_COLUMNS)
            )
        )
        cur.execute(
            sql.SQL(
                "create index if not exists quarantined_trips_month on {}.quarantined_trips (service, year, month)"
            ).format(sql.Identifier(RAW_SCHEMA))
        )
        cur.execute(
            sql.SQL(
                """
                create table if not exists {}.partition_loads (
                    service text not null,
                    year integer not null,
                    month integer not null,
                    source_file text not null,
                    sha256 text not null,
                    lake_version text not null,
                    row_count bigint not null,
                    quarantined_count bigint not null,
                    loaded_at timestamptz not null,
                    primary key (service, year, month)
                )
                """
            ).format(sql.Identifier(RAW_SCHEMA))
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

# The Arrow type whose binary COPY encoding each PostgreSQL column type of the DDL above reads.
_ARROW_TYPES = {
    "text": pa.string(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "double precision": pa.float64(),
    "timestamp": pa.timestamp("us"),
    "numeric(12,2)": pa.decimal128(12, 2),
}


def _arrow_schema(columns: list[str]) -> pa.Schema:
    """The columns' Arrow schema, from their PostgreSQL types (TRIP_COLUMNS etc.)."""
    types = dict(TRIP_COLUMNS + QUARANTINE_EXTRA + PARTITION_COLUMNS)
    return pa.schema([(name, _ARROW_TYPES[types[name]]) for name in columns])


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
    files = sorted(str(p) for p in partition_dir.glob("*.parquet"))
    if not files:
        return
    dataset = pads.dataset(files, format="parquet")
    present = set(dataset.schema.names)
    for batch in dataset.to_batches(batch_size=32_768):
        batch = _naive_timestamps(batch)
        n = batch.num_rows
        arrays = [
            batch.column(name) if name in present else pa.nulls(n) for name in columns if name not in ("year", "month")
        ]
        arrays += [pa.array(np.full(n, year, np.int32)), pa.array(np.full(n, month, np.int32))]
        yield pa.RecordBatch.from_arrays(arrays, names=columns)


def _stream(columns: list[str], batches: Iterator[pa.RecordBatch]) -> _CopyStream:
    """The binary COPY stream of the batches; its thread starts encoding at once."""
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


def _recorded_version(conn, service: str, year: int, month: int) -> str | None:
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "select lake_version from {}.partition_loads where service = %s and year = %s and month = %s"
            ).format(sql.Identifier(RAW_SCHEMA)),
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

    parent = f"{service}_trips"
    child = sql.Identifier(RAW_SCHEMA, f"{parent}_{year:04d}_{month:02d}")
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    trip_cols = [c for c, _ in TRIP_COLUMNS + PARTITION_COLUMNS]
    quarantine_cols = [c for c, _ in TRIP_COLUMNS + QUARANTINE_EXTRA + PARTITION_COLUMNS]
    partition_path = Path(f"{parent}/year={year:04d}/month={month:02d}")

    # Both streams start encoding now: the quarantine's (one batch) is then ready when the trips' COPY
    # ends, instead of being read and encoded while the server waits. Each holds at most
    # _QUEUE_BATCHES encoded batches.
    trips = _stream(trip_cols, _batches(lake_root / partition_path, trip_cols, year, month))
    quarantine = _stream(quarantine_cols, _batches(quarantine_root / partition_path, quarantine_cols, year, month))
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
                    sql.Identifier(RAW_SCHEMA, "quarantined_trips")
                ),
                (service, year, month),
            )
            quarantined = _copy(
                cur,
                sql.Identifier(RAW_SCHEMA, "quarantined_trips"),
                quarantine_cols,
                quarantine,
            )
            if loaded != manifest["rows_accepted"] or quarantined != manifest["rows_quarantined"]:
                conn.rollback()
                raise RuntimeError(
                    f"{manifest['source_file']}: lake partition {partition_path} holds {loaded} accepted and "
                    f"{quarantined} quarantined rows but the manifest says {manifest['rows_accepted']} and "
                    f"{manifest['rows_quarantined']}; nothing was loaded. Re-run the ingestion for this file."
                )
            cur.execute(
                sql.SQL(
                    """
                    insert into {} (service, year, month, source_file, sha256, lake_version,
                                    row_count, quarantined_count, loaded_at)
                    values (%s, %s, %s, %s, %s, %s, %s, %s, clock_timestamp())
                    on conflict (service, year, month) do update set
                        source_file = excluded.source_file, sha256 = excluded.sha256,
                        lake_version = excluded.lake_version, row_count = excluded.row_count,
                        quarantined_count = excluded.quarantined_count, loaded_at = excluded.loaded_at
                    """
                ).format(sql.Identifier(RAW_SCHEMA, "partition_loads")),
                (service, year, month, manifest["source_file"], manifest["sha256"], version, loaded, quarantined),
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
    manifests = [json.loads(p.read_text()) for p in sorted((lake_root / "_manifests").glob("*.json"))]
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
