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
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
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


class _CsvStream(io.RawIOBase):
    """A read()-able view of record batches rendered as CSV, so COPY streams a partition without
    holding it in memory."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self._chunks = (self._render(batch) for batch in batches)
        self._buffer = b""
        self._first = True

    def _render(self, batch: pa.RecordBatch) -> bytes:
        out = io.BytesIO()
        pacsv.write_csv(batch, out, pacsv.WriteOptions(include_header=False))
        return out.getvalue()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


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
    for batch in dataset.to_batches(batch_size=65_536):
        batch = _naive_timestamps(batch)
        n = batch.num_rows
        arrays = [
            batch.column(name) if name in present else pa.nulls(n) for name in columns if name not in ("year", "month")
        ]
        arrays += [pa.array([year] * n, pa.int32()), pa.array([month] * n, pa.int32())]
        yield pa.RecordBatch.from_arrays(arrays, names=columns)


def _copy(cur, table: sql.Composable, columns: list[str], batches: Iterator[pa.RecordBatch]) -> int:
    statement = sql.SQL("copy {} ({}) from stdin with (format csv)").format(
        table, sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    cur.copy_expert(statement.as_string(cur), _CsvStream(batches), size=1 << 20)
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

    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("create table if not exists {} partition of {} for values from (%s, %s) to (%s, %s)").format(
                child, sql.Identifier(RAW_SCHEMA, parent)
            ),
            (year, month, next_year, next_month),
        )
        cur.execute(sql.SQL("truncate {}").format(child))
        loaded = _copy(cur, child, trip_cols, _batches(lake_root / partition_path, trip_cols, year, month))
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
            _batches(quarantine_root / partition_path, quarantine_cols, year, month),
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
        # Fresh statistics so the planner sees the new month at once (dbt reads it next).
        cur.execute(sql.SQL("analyze {}").format(child))
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
