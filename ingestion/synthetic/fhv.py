"""For-hire vehicle (livery, black car, limousine bases) months in the Parquet layout TLC publishes today.

Seven columns: ``dispatching_base_num, pickup_datetime, dropOff_datetime, PUlocationID,
DOlocationID, SR_Flag, Affiliated_base_number``. From 2023-02 TLC writes the base numbers as
large_string, the zones and SR_Flag as int64; before, the zones are doubles and SR_Flag is a column of
Arrow type null (every value empty). Like TLC's files: a long tail of bases, pre-booked pickups on
round five minutes, zones often empty or 264 (unknown), the affiliated base usually the dispatching one.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ingestion.synthetic.common import ZONES, Chunk, month_start, pickup_seconds, seconds
from ingestion.synthetic.frame import Frame, Roles, plant

# Fixed, whatever the seed: a base number is a licence, not a random draw.
_LICENSES = np.sort(np.random.default_rng(2015).choice(np.arange(1, 3500), 160, replace=False))
BASES = tuple(f"B{number:05d}" for number in _LICENSES)
_POPULARITY = 1.0 / np.arange(1, len(BASES) + 1) ** 1.2
BASE_WEIGHTS = _POPULARITY[np.random.default_rng(2016).permutation(len(BASES))] / _POPULARITY.sum()
ROLES = Roles(
    pickup="pickup_datetime",
    dropoff="dropOff_datetime",
    zones=("PUlocationID", "DOlocationID"),
    unreadable_text="PUlocationID",
)
UNKNOWN_SR_FLAG = 2  # SR_Flag is 1 or empty; planted on clean trips (kept, counted as a warning)


def _current(year: int, month: int) -> bool:
    """TLC's 2023-02 rewrite: large_string text, int64 zones, an int64 SR_Flag."""
    return (year, month) >= (2023, 2)


def schema(service: str, year: int, month: int = 1) -> pa.Schema:
    """The Parquet schema of TLC's fhv file for the month."""
    current = _current(year, month)
    text = pa.large_string() if current else pa.string()
    zone = pa.int64() if current else pa.float64()
    return pa.schema(
        [
            ("dispatching_base_num", text),
            ("pickup_datetime", pa.timestamp("us")),
            ("dropOff_datetime", pa.timestamp("us")),
            ("PUlocationID", zone),
            ("DOlocationID", zone),
            ("SR_Flag", pa.int64() if current else pa.null()),
            ("Affiliated_base_number", text),
        ]
    )


def _warnings(year: int, month: int) -> dict[str, tuple[str, object]]:
    # Before 2023-02 SR_Flag cannot hold a value at all: nothing to plant.
    return {"sr_flag": ("SR_Flag", UNKNOWN_SR_FLAG)} if _current(year, month) else {}


def warning_codes(service: str, year: int, month: int) -> tuple[tuple[str, object], ...]:
    return tuple((name, value) for name, (_, value) in _warnings(year, month).items())


def _zones(rng: np.random.Generator, n: int, zones: np.ndarray, empty: float) -> tuple[np.ndarray, np.ndarray]:
    """(zone ids, null mask): the taxi zones' popularity, more 264 (unknown), often empty."""
    ids = rng.choice(ZONES, n, p=zones) + 1
    ids[rng.random(n) < 0.04] = 264
    return ids, rng.random(n) < empty


def _clean(rng: np.random.Generator, n: int, year: int, month: int, zones: np.ndarray) -> Frame:
    """`n` valid trips."""
    dispatching = rng.choice(len(BASES), n, p=BASE_WEIGHTS)
    affiliated = np.where(rng.random(n) < 0.6, dispatching, rng.choice(len(BASES), n, p=BASE_WEIGHTS))
    offset = pickup_seconds(rng, n, year, month)
    booked = rng.random(n) < 0.4  # pre-booked rides start on the booked five minutes
    offset = np.where(booked, offset - offset % 300, offset)
    pickup = month_start(year, month) + seconds(offset)
    duration = np.clip(rng.lognormal(np.log(1100), 0.65, n), 60, 4 * 3600)
    pu, pu_empty = _zones(rng, n, zones, 0.18)
    do, do_empty = _zones(rng, n, zones, 0.10)
    frame = Frame(
        {
            "dispatching_base_num": dispatching,
            "pickup_datetime": pickup,
            "dropOff_datetime": pickup + seconds(duration),
            "PUlocationID": pu,
            "DOlocationID": do,
            "SR_Flag": np.ones(n, dtype="int64"),
            "Affiliated_base_number": affiliated,
        },
        categories={"dispatching_base_num": BASES, "Affiliated_base_number": BASES},
    )
    frame.nulls.update(
        {
            "dropOff_datetime": rng.random(n) < 0.005,
            "PUlocationID": pu_empty,
            "DOlocationID": do_empty,
            "SR_Flag": rng.random(n) >= 0.003,
            "Affiliated_base_number": rng.random(n) < 0.04,
        }
    )
    return frame


def chunk(rng: np.random.Generator, spec: Chunk) -> pa.Table:
    """`spec.n` rows in TLC's layout, with the spec's planted anomalies and unknown codes."""
    frame = _clean(rng, spec.n, spec.year, spec.month, spec.zones)
    plant(rng, frame, ROLES, spec, _warnings(spec.year, spec.month))
    return frame.to_table(schema(spec.service, spec.year, spec.month), spec.text)
