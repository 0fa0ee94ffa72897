"""What every synthetic dataset shares: file names, zone popularity, pickup times, chunk plans, CSV text."""

from __future__ import annotations

import calendar
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ingestion.contract import raw_file_name

# Relative pickup volume per hour of day: quiet nights, morning and evening rush peaks.
HOUR_WEIGHTS = np.array([3, 2, 1.5, 1, 1, 1.5, 3, 5, 6.5, 6, 5.5, 5.5, 6, 6, 6.5, 7, 7, 7.5, 8, 7.5, 6.5, 6, 5.5, 4.5])
AIRPORT_ZONES = (1, 132, 138)  # Newark, JFK, LaGuardia
ZONES = 265


@dataclass(frozen=True)
class Chunk:
    """What one chunk of a synthetic month is: its size, month, zones, planted anomalies and codes."""

    n: int
    service: str
    year: int
    month: int
    zones: np.ndarray
    plan: dict[str, int]  # reason code -> rows planted to trip it
    warned: dict[str, int]  # field -> clean rows carrying an unknown code
    codes: tuple[str, ...]  # the dataset's rules, in order
    fmt: str

    @property
    def text(self) -> bool:
        return self.fmt != "parquet"


def file_name(service: str, year: int, month: int, fmt: str = "parquet") -> str:
    """TLC's name for a month's file (the contract's)."""
    return raw_file_name(service, year, month, fmt)


def zone_weights(rng: np.random.Generator) -> np.ndarray:
    """Pickup/drop-off probability of zones 1..265: a few very busy zones, a long tail."""
    popularity = 1.0 / np.arange(1, ZONES + 1) ** 1.1
    weights = popularity[rng.permutation(ZONES)]
    weights[[263, 264]] = weights.min()  # 264/265: unknown / outside NYC, rare
    return weights / weights.sum()


def month_start(year: int, month: int) -> np.datetime64:
    return np.datetime64(f"{year:04d}-{month:02d}-01T00:00:00", "us")


def pickup_seconds(rng: np.random.Generator, n: int, year: int, month: int) -> np.ndarray:
    """Seconds after the month's first instant, with the day's rush-hour profile."""
    days = calendar.monthrange(year, month)[1]
    hour_p = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()
    return rng.integers(0, days, n) * 86400 + rng.choice(24, n, p=hour_p) * 3600 + rng.integers(0, 3600, n)


def seconds(values: np.ndarray) -> np.ndarray:
    """Whole seconds as a timedelta64 array."""
    return np.asarray(values).astype("int64").astype("timedelta64[s]")


def chunk_plans(plan: dict[str, int], rows: int, chunk_rows: int) -> list[tuple[int, dict]]:
    """Split a file's counts over its chunks, proportionally (every chunk gets its share, exactly)."""
    chunks = []
    for start in range(0, rows, chunk_rows):
        n = min(chunk_rows, rows - start)
        chunk = {code: total * (start + n) // rows - total * start // rows for code, total in plan.items()}
        chunks.append((n, chunk))
    return chunks


def csv_text(table: pa.Table, overrides: dict[str, dict[int, str]] | None = None) -> pa.Table:
    """Every column as text, as TLC's CSVs have it (timestamps 'YYYY-MM-DD HH:MM:SS'); `overrides`
    replaces single values (column -> row -> text), e.g. a planted unreadable value."""
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            column = column.cast(pa.timestamp("s"))
        text = column.cast(pa.string())
        replace = (overrides or {}).get(field.name)
        if replace:
            values = text.to_pylist()
            for row, value in replace.items():
                values[row] = value
            text = pa.array(values, pa.string())
        columns.append(text)
    return pa.Table.from_arrays(columns, names=table.schema.names)
