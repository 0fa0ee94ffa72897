"""Other ways to do the loader's COPY, measured beside it by the benchmark's load section (issue 11:
libraries over hand-written I/O).

Every variant does the whole of `load_postgres.load_partition`'s work in ONE transaction (child
partition, truncate, COPY of the month's trips, delete + COPY of its quarantine rows, counts checked
against the manifest, load log upsert, ANALYZE): only the way Arrow batches become binary COPY differs.

- `loader`: `orchestration/local/load_postgres.py` as shipped (pgpq encodes each batch in a thread while
  psycopg2's `copy_expert` sends the previous one).
- `adbc`: adbc-driver-postgresql; the same statements on an ADBC connection, and `adbc_ingest` (mode
  append, the driver encodes and COPYs the Arrow stream itself) into the month's child table.

The hand-written numpy encoder the loader used before pgpq was a third variant until the comparison in
BENCHMARKS.md ("Loader: hand-written vs libraries") retired it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa

from ingestion.contract import partition_path
from orchestration.local import load_postgres as lp

VARIANTS = {
    "loader": "loader as shipped (`load_postgres.py`: pgpq encoder + psycopg2 `copy_expert`)",
    "adbc": "ADBC `adbc_ingest` (adbc-driver-postgresql)",
}


def month_from_floor(manifest: dict, lake_root: Path, quarantine_root: Path, version: str) -> lp.MonthToLoad:
    """The load of a month the DuckDB floor wrote (tests/bench/floor_ingest.py: one Parquet file per
    partition folder, no Iceberg table), as the pinned lake would hand it to the loader."""
    service, year, month = manifest["service"], int(manifest["year"]), int(manifest["month"])
    relative = Path(partition_path(service, year, month))
    files = [sorted(str(p) for p in (root / relative).glob("*.parquet")) for root in (lake_root, quarantine_root)]
    return lp.MonthToLoad(
        service,
        year,
        month,
        version,
        manifest["source_file"],
        manifest["sha256"],
        manifest["rows_accepted"],
        manifest["rows_quarantined"],
        *files,
    )


def _loader(dsn: str, month_: lp.MonthToLoad) -> lp.PartitionLoad:
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        return lp.load_partition(conn, month_)
    finally:
        conn.close()


def _adbc(dsn: str, month_: lp.MonthToLoad) -> lp.PartitionLoad:
    """`load_partition`'s transaction on an ADBC connection (autocommit off: one transaction, as the
    DB-API says). PostgreSQL takes no bind parameters in DDL: the partition bounds are integers,
    written as literals."""
    import adbc_driver_postgresql.dbapi as adbc

    service, year, month = month_.service, month_.year, month_.month
    version = month_.version
    started = time.perf_counter()
    parent = f"{service}_trips"
    child = f"{parent}_{year:04d}_{month:02d}"
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    trip_cols = lp.trip_columns(service)
    quarantine_cols = lp.QUARANTINE_DDL_COLUMNS

    def reader(files: list[str], columns: list[tuple[str, str]]) -> pa.RecordBatchReader:
        schema = lp._arrow_schema(columns)
        batches = lp._batches(files, [name for name, _ in columns], year, month)
        return pa.RecordBatchReader.from_batches(schema, (lp._copy_batch(b, schema) for b in batches))

    conn = adbc.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                f'create table if not exists raw."{child}" partition of raw."{parent}"'
                f" for values from ({year}, {month}) to ({next_year}, {next_month})"
            )
            cur.execute(f'truncate raw."{child}"')
            loaded = cur.adbc_ingest(child, reader(month_.lake_files, trip_cols), mode="append", db_schema_name="raw")
            cur.execute(
                "delete from raw.quarantined_trips where service = $1 and year = $2 and month = $3",
                (service, year, month),
            )
            quarantined = cur.adbc_ingest(
                "quarantined_trips",
                reader(month_.quarantine_files, quarantine_cols),
                mode="append",
                db_schema_name="raw",
            )
            if loaded != month_.rows_accepted or quarantined != month_.rows_quarantined:
                conn.rollback()
                raise RuntimeError(
                    f"{month_.source_file}: {loaded} accepted and {quarantined} quarantined rows loaded but the"
                    f" load log says {month_.rows_accepted} and {month_.rows_quarantined}; rolled back"
                )
            cur.execute(
                """
                insert into raw.partition_loads (service, year, month, source_file, sha256, lake_version,
                                                 row_count, quarantined_count, loaded_at)
                values ($1, $2, $3, $4, $5, $6, $7, $8, clock_timestamp())
                on conflict (service, year, month) do update set
                    source_file = excluded.source_file, sha256 = excluded.sha256,
                    lake_version = excluded.lake_version, row_count = excluded.row_count,
                    quarantined_count = excluded.quarantined_count, loaded_at = excluded.loaded_at
                """,
                (service, year, month, month_.source_file, month_.sha256, version, loaded, quarantined),
            )
            cur.execute(f"set local default_statistics_target = {int(lp.ANALYZE_STATISTICS_TARGET)}")
            cur.execute(f'analyze raw."{child}"')
        conn.commit()
    finally:
        conn.close()
    return lp.PartitionLoad(
        service, year, month, month_.source_file, loaded, quarantined, time.perf_counter() - started, False
    )


LOADERS = {"loader": _loader, "adbc": _adbc}


def load(variant: str, dsn: str, month_: lp.MonthToLoad) -> lp.PartitionLoad:
    """One reload of the month by `variant` (a key of VARIANTS), on a connection of its own."""
    return LOADERS[variant](dsn, month_)
