"""Tiny hand-made TLC files for the ingestion tests: one clean row builder, writers per layout."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.synthetic import tlc_schema

BASE_PICKUP = dt.datetime(2024, 1, 10, 8, 0, 0)


def yellow_row(i: int = 0, **overrides) -> dict:
    """A valid 2024 yellow trip; `i` shifts the pickup by i minutes so rows never collide."""
    pickup = BASE_PICKUP + dt.timedelta(minutes=i)
    row = {
        "VendorID": 2,
        "tpep_pickup_datetime": pickup,
        "tpep_dropoff_datetime": pickup + dt.timedelta(minutes=12),
        "passenger_count": 1,
        "trip_distance": 2.5,
        "RatecodeID": 1,
        "store_and_fwd_flag": "N",
        "PULocationID": 161,
        "DOLocationID": 236,
        "payment_type": 1,
        "fare_amount": 14.2,
        "extra": 0.0,
        "mta_tax": 0.5,
        "tip_amount": 3.0,
        "tolls_amount": 0.0,
        "improvement_surcharge": 1.0,
        "total_amount": 21.2,
        "congestion_surcharge": 2.5,
        "Airport_fee": 0.0,
    }
    row.update(overrides)
    return row


def green_row(i: int = 0, **overrides) -> dict:
    """A valid 2024 green trip (lpep_* names, counts and codes as doubles like TLC's files)."""
    pickup = BASE_PICKUP + dt.timedelta(minutes=i)
    row = {
        "VendorID": 2,
        "lpep_pickup_datetime": pickup,
        "lpep_dropoff_datetime": pickup + dt.timedelta(minutes=9),
        "store_and_fwd_flag": "N",
        "RatecodeID": 1.0,
        "PULocationID": 74,
        "DOLocationID": 75,
        "passenger_count": 1.0,
        "trip_distance": 1.1,
        "fare_amount": 8.6,
        "extra": 0.0,
        "mta_tax": 0.5,
        "tip_amount": 2.0,
        "tolls_amount": 0.0,
        "ehail_fee": None,
        "improvement_surcharge": 1.0,
        "total_amount": 12.1,
        "payment_type": 1.0,
        "trip_type": 1.0,
        "congestion_surcharge": 0.0,
    }
    row.update(overrides)
    return row


def write_parquet(path: Path, rows: Sequence[dict], schema: pa.Schema | None = None, **kwargs) -> Path:
    """Rows -> Parquet with TLC's 2024 yellow dtypes unless another schema is given."""
    schema = schema or tlc_schema("yellow", 2024)
    columns = {field.name: [row.get(field.name) for row in rows] for field in schema}
    table = pa.Table.from_pydict(columns, schema=schema)
    pq.write_table(table, path, **kwargs)
    return path


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence], newline: str = "\r\n") -> Path:
    """A CSV as TLC exported them (no quoting needed for these values)."""
    lines = [",".join(header)] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))
    return path
