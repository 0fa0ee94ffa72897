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
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from psycopg2 import sql

from ingestion.contract import (
    DATASETS,
    LOAD_LOG_COLUMNS,
    LOAD_LOG_TABLE,
    PARTITION_COLUMNS,
    QUARANTINE_COLUMNS,
    QUARANTINE_TABLE,
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
# project's data ~1.35x the rows/s of CSV). Rows are encoded from Arrow with numpy, batch by batch, in
# a thread, while the main thread streams the previous batch to the server: the backend parses while
# the client encodes. See BENCHMARKS.md for the measurements behind each choice.

_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no header extension
_BINARY_TRAILER = b"\xff\xff"
_PG_EPOCH_MICROS = 946_684_800_000_000  # 2000-01-01, PostgreSQL's timestamp origin
_NULL_LENGTH = struct.pack(">i", -1)
_FIXED_FORMATS = {"integer": ">i4", "bigint": ">i8", "double precision": ">f8", "timestamp": ">i8"}
_QUEUE_BATCHES = 3
_COPY_CHUNK = 8 << 20  # what psycopg2 asks read() for; _CopyStream returns a whole batch instead
ANALYZE_STATISTICS_TARGET = 10  # per loaded month; PostgreSQL's default is 100 (30,000 sampled rows)


def _to_numpy(array: pa.Array) -> np.ndarray:
    return array.to_numpy(zero_copy_only=False)


@dataclass
class _Field:
    """One column of a batch, ready to pack: a value of fixed width per row (after the int32 length)."""

    values: np.ndarray | None  # one element per row, already in wire format; None when the width is 0
    wire: np.dtype | None  # the dtype of the value on the wire (big-endian numbers, or raw bytes `V<width>`)
    width: int  # bytes after the length
    valid: np.ndarray | None  # None: no NULL in this batch

    def take(self, rows: np.ndarray | None) -> np.ndarray | None:
        return self.values if rows is None or self.values is None else self.values[rows]


def _blob(matrix: np.ndarray, valid: np.ndarray | None) -> _Field:
    """Rows of raw bytes (an (n, width) uint8 matrix) as one `V<width>` value per row."""
    width = matrix.shape[1]
    if not width:
        return _Field(None, None, 0, valid)
    values = np.ascontiguousarray(matrix).view(f"V{width}").reshape(len(matrix))
    return _Field(values, values.dtype, width, valid)


def _field(array: pa.Array, kind: str) -> _Field | None:
    """The column as a `_Field`; None when it has values of several byte lengths (text only)."""
    n = len(array)
    valid = _to_numpy(array.is_valid()) if array.null_count else None
    if kind == "text":
        if not pa.types.is_string(array.type):
            array = array.cast(pa.string())
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + n + 1]
        lengths = np.diff(offsets) if valid is None else np.diff(offsets)[valid]
        width = int(lengths.max(initial=0))
        if int(lengths.min(initial=width)) != width:
            return None
        data = np.frombuffer(array.buffers()[2], dtype=np.uint8) if width else np.zeros(0, np.uint8)
        if valid is None:
            chars = data[offsets[0] : offsets[-1]].reshape(n, width)
        else:
            chars = np.zeros((n, width), dtype=np.uint8)
            chars[valid] = data[offsets[:-1][valid][:, None] + np.arange(width)]
        return _blob(chars, valid)
    if kind.startswith("numeric"):
        # Scale-2 decimals as binary numerics of fixed width: ndigits, weight, sign, dscale, then
        # base-10000 digits (leading/trailing zero digits are allowed; the server normalises them).
        if not (pa.types.is_decimal128(array.type) and array.type.scale == 2 and array.type.precision <= 18):
            array = array.cast(pa.decimal128(18, 2))
        unscaled = np.frombuffer(array.buffers()[1], dtype="<i8")[array.offset * 2 : (array.offset + n) * 2 : 2]
        whole, cents = np.divmod(np.abs(unscaled), 100)
        # base-10000 digits before the point: as many as this batch's largest value needs (fares under
        # $10,000 need one), so the server parses no more than it has to
        largest = int(whole.max(initial=0))
        groups = 1
        while largest >= 10_000**groups:
            groups += 1
        words = np.empty((n, 4 + groups + 1), dtype=">i2")  # ndigits, weight, sign, dscale, digits
        words[:, 0] = groups + 1
        words[:, 1] = groups - 1
        words[:, 2] = np.where(unscaled < 0, 0x4000, 0)
        words[:, 3] = 2
        words[:, 4 + groups] = cents * 100
        for position in range(groups - 1, -1, -1):
            whole, words[:, 4 + position] = np.divmod(whole, 10_000)
        return _blob(words.view(np.uint8), valid)
    if kind == "timestamp":
        if array.type.unit != "us":
            array = array.cast(pa.timestamp("us", tz=array.type.tz))
        values = _to_numpy(array.cast(pa.int64()).fill_null(0)) - _PG_EPOCH_MICROS
    else:
        target = {"integer": pa.int32(), "bigint": pa.int64(), "double precision": pa.float64()}[kind]
        values = _to_numpy(array.cast(target).fill_null(0))
    wire = np.dtype(_FIXED_FORMATS[kind])
    return _Field(values, wire, wire.itemsize, valid)


def _pack(fields: list[_Field | None], present: list[bool], rows: np.ndarray | None, n: int, out: np.ndarray) -> int:
    """Write `n` tuples (the `rows` of the batch, or all of it) at the start of `out`; returns the bytes
    written.

    Every tuple has the same layout: the field count, then per column its int32 length and value, or
    length -1 for a NULL. The constant part (count and lengths) is one template row copied to every
    row; then each column is one strided numpy copy into its place in all rows, converting to the wire
    dtype on the way (plain strided views: a structured dtype was measured 2.5x slower).
    """
    template, columns = [struct.pack(">h", len(fields))], []
    at = 2
    for field, keep in zip(fields, present, strict=True):
        if field is None or not keep:
            template.append(_NULL_LENGTH)
            at += 4
            continue
        template.append(struct.pack(">i", field.width))
        at += 4
        if field.width:
            template.append(bytes(field.width))
            columns.append((at, field.wire, field.take(rows)))
            at += field.width
    width = at
    out[: n * width].reshape(n, width)[...] = np.frombuffer(b"".join(template), np.uint8)
    for offset, wire, values in columns:
        np.ndarray((n,), dtype=wire, buffer=out, offset=offset, strides=(width,))[...] = values
    return n * width


class _Scratch:
    """One output buffer reused batch after batch: a fresh 10+ MB array per batch costs page faults
    (kernel time) on every write, which was measured as a large part of the encoding's CPU."""

    def __init__(self) -> None:
        self._buffer = np.empty(0, dtype=np.uint8)

    def get(self, nbytes: int) -> np.ndarray:
        if len(self._buffer) < nbytes:
            self._buffer = np.empty(nbytes, dtype=np.uint8)
        return self._buffer


def _encode_batch(batch: pa.RecordBatch, kinds: list[str], scratch: _Scratch | None = None) -> np.ndarray:
    """One record batch as binary COPY tuples (a uint8 array; a view of `scratch` when given, valid
    until its next use).

    Every value has a fixed width except NULLs (no value, length -1) and text, which is fixed too in
    this project's trip rows (32-digit hex keys, constant service/file names, one-letter flags). Rows
    are grouped by which of their columns are NULL, and each group is packed by `_pack`; a table has
    no row order, so rows may move. Batches with text of varying length (the quarantine's reasons and
    JSON) take `_encode_general`.
    """
    n = batch.num_rows
    fields: list[_Field | None] = []
    for array, kind in zip(batch.columns, kinds, strict=True):
        if array.null_count == n:
            fields.append(None)
            continue
        field = _field(array, kind)
        if field is None:
            return _encode_general(batch, kinds)
        fields.append(field)
    partial = [i for i, f in enumerate(fields) if f is not None and f.valid is not None]
    width = 2 + sum(4 + (f.width if f is not None else 0) for f in fields)
    out = scratch.get(n * width) if scratch is not None else np.empty(n * width, dtype=np.uint8)
    if not partial:
        return out[: _pack(fields, [f is not None for f in fields], None, n, out)]
    pattern = np.zeros(n, dtype=np.int64)
    for bit, index in enumerate(partial):
        pattern |= fields[index].valid.astype(np.int64) << bit
    codes, inverse, counts = np.unique(pattern, return_inverse=True, return_counts=True)
    main = int(np.argmax(counts))

    def present(code: int) -> list[bool]:
        nulls = {index for bit, index in enumerate(partial) if not (code >> bit) & 1}
        return [f is not None and i not in nulls for i, f in enumerate(fields)]

    # The most common layout for every row, in place (no gathers). Then the first `kept` rows are
    # made all of that layout by moving its rows from the tail into the holes left by rows of other
    # layouts (only as many rows as there are such holes), and the other layouts are packed after
    # them, each from its own few rows.
    main_width = _pack(fields, present(int(codes[main])), None, n, out) // n
    if len(codes) == 1:
        return out[: n * main_width]
    keep = inverse == main
    kept = int(counts[main])
    others = np.flatnonzero(~keep)
    holes = others[others < kept]
    if len(holes):
        table = out[: n * main_width].reshape(n, main_width)
        table[holes] = table[kept + np.flatnonzero(keep[kept:])]
    end = kept * main_width
    for i, code in enumerate(codes):
        if i != main:
            rows = np.flatnonzero(inverse == i)
            end += _pack(fields, present(int(code)), rows, len(rows), out[end:])
    return out[:end]


def _encode_general(batch: pa.RecordBatch, kinds: list[str]) -> np.ndarray:
    """Any batch, row by row through Arrow kernels: slower, used for text of varying length."""
    n = batch.num_rows
    null = pa.scalar(b"\xff\xff\xff\xff", pa.binary())

    def as_binary(matrix: np.ndarray) -> pa.Array:
        matrix = np.ascontiguousarray(matrix)
        fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(matrix.shape[1]), n, [None, pa.py_buffer(matrix)])
        return fixed.cast(pa.binary())

    count = np.frombuffer(np.full(n, len(kinds), dtype=">i2").tobytes(), np.uint8).reshape(n, 2)
    parts = [as_binary(count)]
    for array, kind in zip(batch.columns, kinds, strict=True):
        if array.null_count == n:
            parts.append(null)
            continue
        if kind == "text":
            text = array if pa.types.is_string(array.type) else array.cast(pa.string())
            lengths = _to_numpy(pc.binary_length(text).fill_null(0)).astype(">i4")
            prefix = as_binary(np.frombuffer(lengths.tobytes(), np.uint8).reshape(n, 4))
            part = pc.binary_join_element_wise(prefix, text.cast(pa.binary()), b"")
        else:
            field = _field(array, kind)
            out = np.empty(n * (6 + field.width), dtype=np.uint8)
            _pack([field], [True], None, n, out)
            part = as_binary(out.reshape(n, 6 + field.width)[:, 2:])
        if array.null_count:
            part = pc.if_else(array.is_valid(), part, null)
        parts.append(part)
    rows = pc.binary_join_element_wise(*parts, b"")
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32)[rows.offset : rows.offset + n + 1]
    return np.frombuffer(rows.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]


class _CopyStream(io.RawIOBase):
    """A read()-able binary COPY stream: a thread encodes batch k+1 while COPY sends batch k; at most
    `_QUEUE_BATCHES` encoded batches wait in memory, so a partition is never held whole."""

    def __init__(self, batches: Iterator[pa.RecordBatch], kinds: list[str]) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=_QUEUE_BATCHES)
        self._stop = threading.Event()
        self._chunk = _BINARY_HEADER
        self._at = 0
        self._done = False
        self._thread = threading.Thread(target=self._produce, args=(batches, kinds), daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, batches: Iterator[pa.RecordBatch], kinds: list[str]) -> None:
        try:
            scratch = _Scratch()
            for batch in batches:
                if not batch.num_rows:
                    continue
                encoded = _encode_batch(batch, kinds, scratch)
                # bytes here, in this thread: read() then hands each batch to libpq without a copy
                if not self._put(encoded.tobytes()):
                    return
            self._put(_BINARY_TRAILER)
            self._put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread, which raises it
            self._put(exc)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """The next encoded batch, whole: psycopg2 sends whatever length read() returns, and slicing a
        batch into `size` pieces would only copy it again."""
        while self._at >= len(self._chunk):
            if self._done:
                return b""
            item = self._queue.get()
            if item is None:
                self._done = True
                return b""
            if isinstance(item, BaseException):
                self._done = True
                raise item
            self._chunk, self._at = item, 0
        data = self._chunk if self._at == 0 else self._chunk[self._at :]
        self._at = len(self._chunk)
        return data

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
    return _CopyStream(batches, [kind for _, kind in columns])


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
