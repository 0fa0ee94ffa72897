"""Load the lake's months into PostgreSQL: the local stand-in for Redshift Spectrum reading the
Iceberg tables.

Each month of a trip table (one source file's accepted rows, see docs/iceberg_lake.md) becomes one
child table of `raw.<service>_trips`, partitioned by range (year, month). A reload fills a new table,
swaps it in for the old child, and replaces the month's quarantine rows and its `raw.partition_loads`
row, all in ONE transaction: readers see the old month or the new one, never a mix, and a crash leaves
the old one.

A month's table stores only the columns that vary by row. Its per-month constants (MONTH_CONSTANTS:
the service, the file, the partition year and month) are added after the COPY as columns with a
default, which PostgreSQL keeps once in the catalog and reads for every row already there (ALTER TABLE
ADD COLUMN, "fast default"): 58 of 222 bytes a row. Its columns are laid out widest-aligned first, so
no row pays padding.

The lake is read at pinned snapshots (`ingestion.lake_tables.PinnedLake`). A month is loaded when the
snapshots that last wrote its trips and its quarantine differ from those recorded in
`raw.partition_loads` (`lake_version`); a month the lake no longer holds is emptied. So a rerun after a
crash between ingest and load converges, and a rerun with nothing new loads nothing. Never by diffing
snapshot lineage: snapshot expiry removes it.
"""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg2
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from pgpq import ArrowToPostgresBinaryEncoder
from psycopg2 import sql

from ingestion.contract import (
    DATASETS,
    LOAD_LOG_COLUMNS,
    LOAD_LOG_TABLE,
    PARTITION_COLUMNS,
    QUARANTINE_COLUMNS,
    QUARANTINE_TABLE,
    TYPES,
    dataset,
    logical_type,
)
from ingestion.text import shown

RAW_SCHEMA = "raw"
# The load log's Postgres spelling: loaded_at is when this loader swapped the month in (timestamptz), and
# lake_version (the month's two last-updated snapshot ids, MonthState.version) is what it compares to
# decide whether a month changed.
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


# One value per month: a lake partition is one source file of one service (docs/iceberg_lake.md). The
# loader checks every row holds it, and stores it once per month table, not per row.
MONTH_CONSTANTS = ("service", "source_file", "year", "month")
# PostgreSQL aligns a fixed-width value to its width: 8-byte columns first, then 4-byte, then the rest
# (uuid has no alignment; short varlena values are unaligned), so a row carries no padding.
_ALIGNED_FIRST = {"timestamp": 0, "double precision": 0, "bigint": 0, "integer": 1}


def month_row_columns(service: str) -> list[tuple[str, str]]:
    """(name, Postgres type) of what a month table of a dataset stores per row, in physical order: the
    raw table's columns but the month's constants, widest alignment first."""
    columns = [column for column in trip_columns(service) if column[0] not in MONTH_CONSTANTS]
    return sorted(columns, key=lambda column: _ALIGNED_FIRST.get(column[1], 2))


def _month_table(service: str, year: int, month: int) -> str:
    """The name of a dataset's month table (a child of `raw.<service>_trips`)."""
    return f"{dataset(service).table}_{year:04d}_{month:02d}"


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
_ARROW_OF_POSTGRES = {t.postgres: t.copy_arrow for t in TYPES.values()}
_KEY_BYTES = 16
_HEX_DIGITS = 2 * _KEY_BYTES
_NIBBLE = np.full(256, 255, np.uint8)  # the value of each hex digit's byte; 255: not a hex digit
_NIBBLE[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
_NIBBLE[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16)
_NIBBLE[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)


def _arrow_schema(columns: list[tuple[str, str]]) -> pa.Schema:
    """The columns' Arrow schema, from their PostgreSQL types."""
    return pa.schema([(name, _ARROW_OF_POSTGRES[kind]) for name, kind in columns])


class NotAKey(ValueError):
    """A lake key column holds a value that is not 32 hex digits (the job never writes one)."""


def _key_bytes(column: pa.Array, name: str) -> pa.Array:
    """A key column's 32 hex digits per row as its 16 bytes (what a uuid column reads in binary COPY);
    nulls stay null. A value that is not 32 hex digits stops the load naming the column."""
    text = column if pa.types.is_string(column.type) else column.cast(pa.large_string())
    width = np.int32 if pa.types.is_string(text.type) else np.int64
    valid = text.is_valid().to_numpy(zero_copy_only=False)
    every_valid = bool(valid.all())
    offsets = np.frombuffer(text.buffers()[1], width)[text.offset : text.offset + len(text) + 1]
    lengths = np.diff(offsets)
    if not np.all(lengths[valid] == _HEX_DIGITS):
        raise NotAKey(f"{name} value that is not {_HEX_DIGITS} hex digits")
    data = np.frombuffer(text.buffers()[2], np.uint8) if text.buffers()[2] is not None else np.zeros(0, np.uint8)
    if every_valid:  # every value 32 digits: the digits are one contiguous run
        digits = _NIBBLE[data[offsets[0] : offsets[-1]].reshape(len(text), _HEX_DIGITS)]
    else:
        digits = np.zeros((len(text), _HEX_DIGITS), np.uint8)
        starts = offsets[:-1][valid]
        digits[valid] = _NIBBLE[data[starts[:, None] + np.arange(_HEX_DIGITS)]]
    if np.any(digits[valid] == 255):
        raise NotAKey(f"{name} value that is not {_HEX_DIGITS} hex digits")
    packed = (digits[:, 0::2] << 4) | digits[:, 1::2]
    validity = None if every_valid else pa.array(valid, pa.bool_()).buffers()[1]
    return pa.Array.from_buffers(
        pa.binary(_KEY_BYTES), len(text), [validity, pa.py_buffer(packed.tobytes())], null_count=int((~valid).sum())
    )


def _copy_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The batch in the COPY schema's types: keys from hex text to bytes, the rest by Arrow's cast."""
    arrays = []
    for field, column in zip(schema, batch.columns, strict=True):
        if pa.types.is_fixed_size_binary(field.type) and not pa.types.is_fixed_size_binary(column.type):
            column = _key_bytes(column, field.name)
        arrays.append(column.cast(field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class _CopyStream(io.RawIOBase):
    """A read()-able binary COPY stream of Arrow batches: a thread encodes batch k+1 (pgpq) while COPY
    sends batch k; at most `_QUEUE_BATCHES` encoded batches wait in memory, so a partition is never
    held whole."""

    def __init__(self, batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=_QUEUE_BATCHES)
        self._stop = threading.Event()
        self._done = False
        self.error: BaseException | None = None  # what the encoding thread raised, as it raised it
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
                chunk = encoder.write_batch(_copy_batch(batch, schema)) if batch.num_rows else b""
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
                self.error = item
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


def _batches(
    files: list[str], columns: list[str], year: int, month: int, constants: dict | None = None
) -> Iterator[pa.RecordBatch]:
    """The month's rows (its data files at the pinned snapshot) with exactly `columns` (the contract's;
    year and month, when listed, are the partition's).

    A column the contract has and an older data file lacks reads as null (columns are only ever
    added); a column the contract lacks stops the load, here, before any COPY starts, instead of being
    dropped silently. `constants` (name -> the month's value): columns left out of the rows, each row
    checked to hold the value (NotTheMonths otherwise).
    """
    if not files:
        return iter(())
    constants = constants or {}
    dataset = pads.dataset(sorted(files), format="parquet")
    present = set(dataset.schema.names)
    unknown = sorted(present - set(columns) - set(constants))
    if unknown:
        raise RuntimeError(
            f"{files[0]}: lake columns {', '.join(unknown)} are not in the contract (ingestion/contract/);"
            " nothing was loaded"
        )
    checked = {name: value for name, value in constants.items() if name in present}
    return _aligned(dataset, present, columns, year, month, checked)


class NotTheMonths(ValueError):
    """A lake row of a month holds another month's constant (service, file, year or month)."""


def _aligned(
    dataset, present: set[str], columns: list[str], year: int, month: int, checked: dict
) -> Iterator[pa.RecordBatch]:
    reading = sorted((present & set(columns)) | set(checked))
    partition = {"year": year, "month": month}
    for batch in dataset.to_batches(batch_size=32_768, columns=reading):
        batch = _naive_timestamps(batch)
        n = batch.num_rows
        for name, value in checked.items():
            column = batch.column(name)
            if column.null_count or not pc.all(pc.equal(column, value)).as_py():
                raise NotTheMonths(f"row whose {name} is not {value!r}")
        arrays = [
            pa.array(np.full(n, partition[name], np.int32))
            if name in partition
            else batch.column(name)
            if name in present
            else pa.nulls(n)
            for name in columns
        ]
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
    try:
        cur.copy_expert(statement.as_string(cur), stream, size=_COPY_CHUNK)
    except psycopg2.Error:
        if stream.error is not None:  # psycopg2 reports it as "error in .read() call": raise it as it was
            raise stream.error from None
        raise
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


@dataclass(frozen=True)
class MonthToLoad:
    """One month of the lake as the pinned snapshots hold it: its data files, its version and what the
    load log says it holds (the counts the load must find)."""

    service: str
    year: int
    month: int
    version: str
    source_file: str
    sha256: str
    rows_accepted: int
    rows_quarantined: int
    lake_files: list[str]
    quarantine_files: list[str]
    # what the lake's data files hold (their manifest entries' record counts), beside the log's counts
    rows_in_lake: int = 0
    quarantined_in_lake: int = 0

    @property
    def label(self) -> str:
        return f"{self.service} {self.year:04d}-{self.month:02d}"


def _refused(month_: MonthToLoad, problem: str, cause: str) -> str:
    """One line for a month the lake cannot give the warehouse: the file, the month's problem, and how
    to re-ingest the file."""
    return shown(
        f"{month_.source_file}: {problem}; nothing of this month was loaded. {cause}: delete the file's"
        " receipt (<lake>/_manifests/<file>.json) and run again to re-ingest it",
        1000,
    )


def _refused_value(month_: MonthToLoad, exc: psycopg2.DataError) -> str:
    """A value PostgreSQL refused: PostgreSQL's words and where."""
    where = " ".join((exc.diag.context or "").split())
    return _refused(
        month_,
        f"PostgreSQL refused a value of the lake's {month_.label}"
        f" ({' '.join(str(exc.diag.message_primary or exc).split())}{'; ' + where if where else ''})",
        "The lake holds text no warehouse stores (ingested before ingestion/RULES.md quarantined it)",
    )


def load_partition(conn, month_: MonthToLoad) -> PartitionLoad:
    """Swap one month into the warehouse from its data files, atomically."""
    service, year, month = month_.service, month_.year, month_.month
    version = month_.version
    started = time.perf_counter()
    if _recorded_version(conn, service, year, month) == version:
        return PartitionLoad(service, year, month, month_.source_file, 0, 0, 0.0, skipped=True)

    parent = sql.Identifier(RAW_SCHEMA, dataset(service).table)
    child_name = _month_table(service, year, month)
    child = sql.Identifier(RAW_SCHEMA, child_name)
    staged = sql.Identifier(RAW_SCHEMA, f"{child_name}__loading")
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    row_types = month_row_columns(service)
    row_cols = [c for c, _ in row_types]
    constant_types = [(name, kind) for name, kind in trip_columns(service) if name in MONTH_CONSTANTS]
    constants = {"service": service, "source_file": month_.source_file, "year": year, "month": month}
    quarantine_cols = [c for c, _ in QUARANTINE_DDL_COLUMNS]

    # Both streams start encoding now: the quarantine's (one batch) is then ready when the trips' COPY
    # ends, instead of being read and encoded while the server waits. Each holds at most
    # _QUEUE_BATCHES encoded batches.
    trips = _stream(row_types, _batches(month_.lake_files, row_cols, year, month, constants))
    quarantine = _stream(QUARANTINE_DDL_COLUMNS, _batches(month_.quarantine_files, quarantine_cols, year, month))
    try:
        with conn.cursor() as cur:
            # The new month fills a table of its own while readers still see the old one.
            cur.execute(sql.SQL("drop table if exists {}").format(staged))
            cur.execute(sql.SQL("create table {} ({})").format(staged, _columns_ddl(row_types)))
            loaded = _copy(cur, staged, row_cols, trips)
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
            if loaded != month_.rows_accepted or quarantined != month_.rows_quarantined:
                conn.rollback()
                raise RuntimeError(
                    f"{month_.source_file}: the lake's {month_.label} holds {loaded} accepted and "
                    f"{quarantined} quarantined rows but the load log says {month_.rows_accepted} and "
                    f"{month_.rows_quarantined}; nothing was loaded. Re-run the ingestion for this file."
                )
            # The month's constants: added with a default to the filled table, so stored once, not per row
            # (the default is then dropped: it is the rows' value, not one for rows inserted later).
            cur.execute(
                sql.SQL("alter table {} {}").format(
                    staged,
                    sql.SQL(", ").join(
                        sql.SQL("add column {} {} default {}").format(
                            sql.Identifier(name), sql.SQL(kind), sql.Literal(constants[name])
                        )
                        for name, kind in constant_types
                    ),
                )
            )
            cur.execute(
                sql.SQL("alter table {} {}").format(
                    staged,
                    sql.SQL(", ").join(
                        sql.SQL("alter column {} drop default").format(sql.Identifier(name))
                        for name, _ in constant_types
                    ),
                )
            )
            # The swap: an exclusive lock on the parent from here to the commit, which follows at once.
            cur.execute(sql.SQL("drop table if exists {}").format(child))
            cur.execute(sql.SQL("alter table {} rename to {}").format(staged, sql.Identifier(child_name)))
            cur.execute(
                sql.SQL("alter table {} attach partition {} for values from (%s, %s) to (%s, %s)").format(
                    parent, child
                ),
                (year, month, next_year, next_month),
            )
            _record_load(
                cur,
                {
                    "service": service,
                    "year": year,
                    "month": month,
                    "source_file": month_.source_file,
                    "sha256": month_.sha256,
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
    except psycopg2.DataError as exc:
        conn.rollback()
        raise RuntimeError(_refused_value(month_, exc)) from exc
    except (NotAKey, NotTheMonths) as exc:
        conn.rollback()
        raise RuntimeError(
            _refused(month_, f"the lake's {month_.label} has a {exc}", "The lake's data file is damaged")
        ) from exc
    finally:
        trips.close()
        quarantine.close()
    conn.commit()
    return PartitionLoad(
        service, year, month, month_.source_file, loaded, quarantined, time.perf_counter() - started, False
    )


def lake_months(lake_root: Path, quarantine_root: Path, catalog: str | None = None) -> list[MonthToLoad]:
    """Every month the lake holds, at the snapshots current now, with the load-log row describing it.

    A month whose snapshots no load-log row names (an ingest stopped between its data commit and its
    load-log commit) stops the load, naming the month: rerunning the ingestion converges.
    """
    from ingestion import lake_tables

    roots = lake_tables.LakeRoots(str(lake_root), str(quarantine_root), catalog)
    pinned = lake_tables.PinnedLake.pin(lake_tables.open_catalog(roots), roots)
    months = []
    for key, (state, entry) in pinned.described_months().items():
        label = f"{state.service} {state.year:04d}-{state.month:02d}"
        if entry is None:
            raise RuntimeError(
                f"{label}: the lake's snapshot of this month has no load-log row (an ingest stopped between"
                " its commits, or two ingests of it ran at once); run the ingestion again for this month's"
                f" file (should it be skipped as unchanged, delete its receipt {lake_root}/_manifests/<file>.json"
                " first). Nothing was loaded."
            )
        months.append(
            MonthToLoad(
                *key,
                version=state.version,
                source_file=entry["source_file"],
                sha256=entry["sha256"],
                rows_accepted=int(entry["row_count"]),
                rows_quarantined=int(entry["quarantined_count"]),
                lake_files=pinned.data_files(dataset(state.service).table, key),
                quarantine_files=pinned.data_files(QUARANTINE_TABLE, key),
                rows_in_lake=state.lake_rows,
                quarantined_in_lake=state.quarantine_rows,
            )
        )
    return months


def _empty_month(conn, service: str, year: int, month: int) -> None:
    """A month the lake no longer holds: its rows, its quarantine and its load-log row go, at once."""
    child = sql.Identifier(RAW_SCHEMA, _month_table(service, year, month))
    with conn.cursor() as cur:
        cur.execute("select to_regclass(%s) is not null", (f"{RAW_SCHEMA}.{child.strings[-1]}",))
        if cur.fetchone()[0]:
            cur.execute(sql.SQL("truncate {}").format(child))
        for table in (QUARANTINE_TABLE, LOAD_LOG_TABLE):
            cur.execute(
                sql.SQL("delete from {} where service = %s and year = %s and month = %s").format(
                    sql.Identifier(RAW_SCHEMA, table)
                ),
                (service, year, month),
            )
    conn.commit()


def _raw_tables() -> list[tuple[str, list[tuple[str, str]]]]:
    """Every table of the raw layer with its (name, PostgreSQL type) columns, from the contract."""
    return [(item.table, trip_columns(item.service)) for item in DATASETS] + [
        (QUARANTINE_TABLE, QUARANTINE_DDL_COLUMNS),
        (LOAD_LOG_TABLE, LOAD_LOG_DDL_COLUMNS),
    ]


def outdated_raw_columns(conn, schema_name: str = RAW_SCHEMA) -> str | None:
    """How an existing raw table's columns differ from the contract's, or None when none does (or none
    exists yet): a raw layer an earlier release created, e.g. with trip_key as text."""
    with conn.cursor() as cur:
        for table, columns in _raw_tables():
            cur.execute(
                "select a.attname, format_type(a.atttypid, null), a.atttypid = to_regtype(c.kind)"
                " from pg_attribute a left join unnest(%s::text[], %s::text[]) as c (name, kind) on c.name = a.attname"
                " where a.attrelid = to_regclass(%s) and a.attnum > 0 and not a.attisdropped order by a.attnum",
                (*map(list, zip(*columns, strict=True)), f"{schema_name}.{table}"),
            )
            have = cur.fetchall()
            want = dict(columns)
            differs = [f"{name} is {shown_type}, now {want[name]}" for name, shown_type, same in have if same is False]
            differs += [f"{name} is gone" for name, _, same in have if same is None]
            differs += [f"{name} is new" for name in want if have and name not in {n for n, _, _ in have}]
            if differs:
                conn.rollback()
                return f"{schema_name}.{table}: {'; '.join(differs)}"
    conn.rollback()
    return None


def drop_raw_layer(conn, schema_name: str = RAW_SCHEMA) -> None:
    """Drop the raw layer's tables (the trip tables with their months, the quarantine, the load log), in
    one transaction; the schema and its default privileges stay. Views on them (dbt's staging) go too:
    dbt creates them again."""
    tables = [table for table, _ in _raw_tables()]
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("drop table if exists {} cascade").format(
                sql.SQL(", ").join(sql.Identifier(schema_name, table) for table in tables)
            )
        )
    conn.commit()


def load_lake(
    conn,
    lake_root: Path,
    quarantine_root: Path,
    progress: Callable[[str], None] | None = None,
    catalog: str | None = None,
) -> list[PartitionLoad]:
    """Bring the warehouse's raw layer level with the lake: every month whose snapshots changed, and
    every month the lake no longer holds emptied."""
    outdated = outdated_raw_columns(conn)
    if outdated:
        drop_raw_layer(conn)
        if progress:
            progress(
                f"the raw layer predates this release's columns ({outdated}): dropped; every month is"
                " reloaded from the lake"
            )
    ensure_raw_schema(conn)
    months = lake_months(lake_root, quarantine_root, catalog)
    results = []
    for month in months:
        result = load_partition(conn, month)
        if progress:
            if result.skipped:
                progress(f"{month.label}: unchanged, not reloaded")
            else:
                progress(
                    f"{month.label}: {result.rows_loaded:,} rows + {result.rows_quarantined:,} quarantined "
                    f"in {result.seconds:.1f}s"
                )
        results.append(result)
    held = {(m.service, m.year, m.month) for m in months}
    with conn.cursor() as cur:
        cur.execute(sql.SQL("select service, year, month from {}").format(sql.Identifier(RAW_SCHEMA, LOAD_LOG_TABLE)))
        gone = sorted(set(cur.fetchall()) - held)
    conn.commit()
    for service, year, month in gone:
        _empty_month(conn, service, year, month)
        if progress:
            progress(f"{service} {year:04d}-{month:02d}: no longer in the lake, emptied")
    return results
