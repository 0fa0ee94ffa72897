"""A chunk of for-hire rows being built, and the anomalies planted in it (fhv and fhvhv share both).

Columns are keyed by TLC's raw column names. Text columns are kept as indices into a small tuple of
values (a base number, a license, a flag), so a 20-million-row month never builds Python strings
row by row; nulls are a mask per column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ingestion.synthetic.common import Chunk, csv_text, month_start, seconds


@dataclass
class Frame:
    """Column values (numpy), null masks, text values per index, CSV-only text overrides."""

    values: dict[str, np.ndarray]
    nulls: dict[str, np.ndarray] = field(default_factory=dict)
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    texts: dict[str, dict[int, str]] = field(default_factory=dict)

    @property
    def num_rows(self) -> int:
        return len(next(iter(self.values.values())))

    def null(self, name: str) -> np.ndarray:
        """The null mask of `name` (created all-false on first use)."""
        if name not in self.nulls:
            self.nulls[name] = np.zeros(self.num_rows, dtype=bool)
        return self.nulls[name]

    def set(self, name: str, rows: np.ndarray, value) -> None:
        """Rows get `value` (a text column: the value's index, added to its categories if new)."""
        if name in self.categories:
            known = self.categories[name]
            if value not in known:
                self.categories[name] = known = (*known, value)
            value = known.index(value)
        self.values[name][rows] = value
        self.null(name)[rows] = False

    def to_table(self, schema: pa.Schema, text: bool) -> pa.Table:
        """The chunk in `schema` (TLC's Parquet types), or as CSV text when `text`."""
        arrays = []
        for item in schema:
            mask = self.nulls.get(item.name)
            mask = mask if mask is not None and mask.any() else None
            values = self.values.get(item.name)
            if pa.types.is_null(item.type) or values is None:
                arrays.append(pa.nulls(self.num_rows, item.type))
            elif item.name in self.categories:
                dictionary = pa.array(self.categories[item.name], item.type)
                arrays.append(dictionary.take(pa.array(values, pa.int32(), mask=mask)))
            else:
                arrays.append(pa.array(values, item.type, mask=mask))
        table = pa.Table.from_arrays(arrays, schema=schema)
        return csv_text(table, self.texts) if text else table


@dataclass(frozen=True)
class Roles:
    """Which raw columns of a dataset the rules look at."""

    pickup: str
    dropoff: str
    zones: tuple[str, str]
    unreadable_text: str  # CSV: a numeric column that gets text no cast can read
    linked_times: tuple[str, ...] = ()  # times that move with the pickup (request, on scene)
    distance: str | None = None
    trip_time: str | None = None
    negative_amounts: tuple[str, ...] = ()  # the amounts a reversal-like error makes negative


def plant(
    rng: np.random.Generator, frame: Frame, roles: Roles, spec: Chunk, warnings: dict[str, tuple[str, object]]
) -> None:
    """Make exactly spec.plan[code] rows trip `code` and no earlier rule of spec.codes (the dataset's
    rules in order), and spec.warned[field] other rows carry the unknown code `warnings[field]` =
    (column, value)."""
    plan, warned, codes = spec.plan, spec.warned, spec.codes
    year, month, text = spec.year, spec.month, spec.text
    n = frame.num_rows
    wanted = sum(plan.values())
    positions = np.sort(rng.choice(np.arange(1, n), wanted, replace=False))  # row 0 stays clean
    is_clean = np.ones(n, dtype=bool)
    is_clean[positions] = False
    clean = np.flatnonzero(is_clean)
    flagged = rng.choice(clean[1:], sum(warned.values()), replace=False)
    start = 0
    for name, (column, value) in warnings.items():
        rows = flagged[start : start + warned.get(name, 0)]
        start += len(rows)
        frame.set(column, rows, value)
    rng.shuffle(positions)
    cursor = 0
    for code in codes:
        rows = positions[cursor : cursor + plan.get(code, 0)]
        cursor += len(rows)
        if len(rows):
            _PLANTERS[code](rng, frame, roles, rows, text=text, year=year, month=month, clean=clean)


def _unparseable(rng, frame: Frame, roles: Roles, rows, *, text: bool, **_) -> None:
    if text:
        frame.texts.setdefault(roles.unreadable_text, {}).update({int(row): "n/a" for row in rows})
    else:  # a Parquet timestamp cannot hold garbage: the pickup is missing instead
        frame.null(roles.pickup)[rows] = True


def _outside_month(rng, frame: Frame, roles: Roles, rows, *, year: int, month: int, **_) -> None:
    values = frame.values
    moved = month_start(year, month) - seconds(rng.integers(3600, 5 * 86400, len(rows)))
    delta = moved - values[roles.pickup][rows]
    for name in (roles.pickup, roles.dropoff, *roles.linked_times):
        values[name][rows] += delta


def _dropoff_before_pickup(rng, frame: Frame, roles: Roles, rows, **_) -> None:
    frame.values[roles.dropoff][rows] = frame.values[roles.pickup][rows] - seconds(rng.integers(60, 3600, len(rows)))
    frame.null(roles.dropoff)[rows] = False


def _too_long(rng, frame: Frame, roles: Roles, rows, **_) -> None:
    hours = seconds(rng.integers(25 * 3600, 72 * 3600, len(rows)))
    frame.values[roles.dropoff][rows] = frame.values[roles.pickup][rows] + hours
    frame.null(roles.dropoff)[rows] = False


def _implausible_distance(rng, frame: Frame, roles: Roles, rows, **_) -> None:
    distance = frame.values[roles.distance]
    far = np.round(500 + rng.uniform(1, 5000, len(rows)), 2)
    distance[rows] = np.where(rng.random(len(rows)) < 0.5, -distance[rows] - 0.5, far)


def _trip_time_mismatch(rng, frame: Frame, roles: Roles, rows, **_) -> None:
    values = frame.values
    span = (values[roles.dropoff][rows] - values[roles.pickup][rows]).astype("timedelta64[s]").astype("int64")
    off = span + rng.integers(3601, 6 * 3600, len(rows))
    values[roles.trip_time][rows] = np.where(rng.random(len(rows)) < 0.5, -rng.integers(1, 600, len(rows)), off)


def _negative_amount(rng, frame: Frame, roles: Roles, rows, **_) -> None:
    for name in roles.negative_amounts:
        frame.values[name][rows] = -np.abs(frame.values[name][rows])
    lead = frame.values[roles.negative_amounts[0]]
    lead[rows] = np.minimum(lead[rows], -0.01)  # a zero fare has no sign


def _unknown_location(rng, frame: Frame, roles: Roles, rows, **_) -> None:
    bad = rng.choice([0, 266, 300], len(rows))
    pickup_side = rng.random(len(rows)) < 0.5
    for name, side in zip(roles.zones, (pickup_side, ~pickup_side), strict=True):
        frame.values[name][rows[side]] = bad[side]
        frame.null(name)[rows[side]] = False


def _duplicate_row(rng, frame: Frame, roles: Roles, rows, *, clean: np.ndarray, **_) -> None:
    earlier = np.searchsorted(clean, rows)  # clean rows before each duplicate (row 0 is always one)
    sources = clean[rng.integers(0, earlier)]
    for name, values in frame.values.items():
        values[rows] = values[sources]
        frame.null(name)[rows] = frame.null(name)[sources]


_PLANTERS = {
    "unparseable": _unparseable,
    "pickup_outside_file_month": _outside_month,
    "dropoff_before_pickup": _dropoff_before_pickup,
    "implausible_duration": _too_long,
    "implausible_distance": _implausible_distance,
    "trip_time_mismatch": _trip_time_mismatch,
    "negative_amount": _negative_amount,
    "unknown_location": _unknown_location,
    "duplicate_row": _duplicate_row,
}
