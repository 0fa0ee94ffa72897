"""Row rules with stable reason codes, and the data-quality warnings that never drop a trip.

Every row gets a reason code (or none: accepted). Rules are checked in `RULES` order; the first
failing rule wins, so a row has exactly one reason and the counts per reason add up to the
quarantine. Each dataset applies the rules that mean something for it (`rules_for`). Quarantine is
for what cannot be read or cannot be physically true; a code the reference tables lack (VendorID 4,
an unknown payment type...) keeps its trip and is counted as a warning (`warnings`) instead.
ingestion/RULES.md documents each rule against the TLC data dictionaries; a test keeps that table and
`RULE_CODES` identical.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.canonical import Canonical, failure_labels
from ingestion.contract import Dataset
from ingestion.errors import BadFileError
from ingestion.mapping import ColumnMapping

REVERSAL_PAYMENT_TYPES = (3, 4, 6)  # no charge, dispute, voided: TLC records reversals as negative amounts
MIN_LOCATION_ID, MAX_LOCATION_ID = 1, 265
MAX_DURATION_HOURS = 24
MAX_DISTANCE_MILES = 500.0
MAX_TRIP_TIME_GAP_SECONDS = 3600
MISLABELED_SHARE = 0.5  # more than this share of pickups outside the file's month: the file is refused
HVFHV_AMOUNTS = ("base_passenger_fare", "tolls", "bcf", "sales_tax", "congestion_surcharge", "airport_fee", "tips")


@dataclass(frozen=True)
class Rule:
    """A reason code and what it means (the long form lives in RULES.md)."""

    code: str
    summary: str


RULES: tuple[Rule, ...] = (
    Rule("unparseable", "a value failed to cast, a required time is missing, or the line has the wrong field count"),
    Rule("pickup_outside_file_month", "pickup is not in the month the file name promises"),
    Rule("dropoff_before_pickup", "dropoff time is earlier than pickup time"),
    Rule("implausible_duration", f"trip lasts more than {MAX_DURATION_HOURS} hours"),
    Rule("implausible_distance", f"distance negative or over {MAX_DISTANCE_MILES:g} miles"),
    Rule("trip_time_mismatch", "HVFHV trip_time negative or more than an hour off the timestamps"),
    Rule("negative_amount", "a negative amount that is not a reversal"),
    Rule("unknown_location", "a pickup/dropoff zone id that is not a TLC zone 1..265"),
    Rule("duplicate_row", "same trip (every canonical value) as an earlier row of the file"),
)
RULE_CODES: tuple[str, ...] = tuple(rule.code for rule in RULES)
ACCEPTED = -1


def month_bounds(year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    """[first instant of the month, first instant of the next month)."""
    start = dt.datetime(year, month, 1)
    return start, start + dt.timedelta(days=calendar.monthrange(year, month)[1])


@dataclass
class Context:
    """What the checks of one file need besides its rows."""

    dataset: Dataset
    mapping: ColumnMapping
    year: int
    month: int


def _flags(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Boolean Arrow values as numpy, null as False."""
    return np.asarray(pc.fill_null(array, False), dtype=bool)


def _micros(array: pa.Array) -> np.ndarray:
    return array.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)


def _has(rows: Canonical, name: str) -> bool:
    return name in rows.columns


def _unparseable(rows: Canonical, ctx: Context) -> np.ndarray:
    bad = (rows.failed != 0) | ~_flags(pc.is_valid(rows.columns["pickup_at"]))
    if "dropoff_at" in _required_fields(ctx.dataset):
        bad |= ~_flags(pc.is_valid(rows.columns["dropoff_at"]))
    return bad


def _required_fields(item: Dataset) -> set[str]:
    return {name for requirement in item.requirements if len(requirement) == 1 for name in requirement[0]}


def _outside_month(rows: Canonical, ctx: Context) -> np.ndarray:
    start, end = month_bounds(ctx.year, ctx.month)
    pickup = rows.columns["pickup_at"]
    low = pa.scalar(start, pa.timestamp("us"))
    high = pa.scalar(end, pa.timestamp("us"))
    return _flags(pc.or_(pc.less(pickup, low), pc.greater_equal(pickup, high)))


def _seconds(rows: Canonical) -> np.ndarray:
    """Whole seconds from pickup to dropoff (0 where either is missing); computed once per batch."""
    if "seconds" not in rows.derived:
        pickup, dropoff = rows.columns["pickup_at"], rows.columns["dropoff_at"]
        both = _flags(pc.and_(pc.is_valid(pickup), pc.is_valid(dropoff)))
        rows.derived["seconds"] = np.where(both, (_micros(dropoff) - _micros(pickup)) // 1_000_000, 0)
    return rows.derived["seconds"]


def _dropoff_before_pickup(rows: Canonical, ctx: Context) -> np.ndarray:
    return _seconds(rows) < 0


def _too_long(rows: Canonical, ctx: Context) -> np.ndarray:
    return _seconds(rows) > MAX_DURATION_HOURS * 3600


def _distance_column(ctx: Context) -> str:
    return "trip_miles" if ctx.dataset.service == "fhvhv" else "trip_distance"


def _implausible_distance(rows: Canonical, ctx: Context) -> np.ndarray:
    distance = rows.columns[_distance_column(ctx)]
    return _flags(pc.or_(pc.less(distance, 0.0), pc.greater(distance, MAX_DISTANCE_MILES)))


def _trip_time_mismatch(rows: Canonical, ctx: Context) -> np.ndarray:
    reported = rows.columns["trip_time"]
    present = _flags(pc.is_valid(reported))
    seconds = reported.fill_null(0).to_numpy(zero_copy_only=False)
    gap = np.abs(seconds - _seconds(rows))
    return present & ((seconds < 0) | (gap > MAX_TRIP_TIME_GAP_SECONDS))


def _negative_amounts(rows: Canonical, ctx: Context) -> np.ndarray:
    if ctx.dataset.service == "fhvhv":
        negative = np.zeros(rows.num_rows, dtype=bool)
        for name in HVFHV_AMOUNTS:
            negative |= _flags(pc.less(rows.columns[name], pa.scalar(0, rows.columns[name].type)))
        return negative
    fare, total = rows.columns["fare_amount"], rows.columns["total_amount"]
    zero = pa.scalar(0, fare.type)
    negative = _flags(pc.or_(pc.less(fare, zero), pc.less(total, zero)))
    reversal = _flags(pc.is_in(rows.columns["payment_type"], value_set=pa.array(REVERSAL_PAYMENT_TYPES, pa.int32())))
    return negative & ~reversal


def _unknown_location(rows: Canonical, ctx: Context) -> np.ndarray:
    bad = np.zeros(rows.num_rows, dtype=bool)
    for name in ("pickup_location_id", "dropoff_location_id"):
        zone = rows.columns[name]
        bad |= _flags(pc.or_(pc.less(zone, MIN_LOCATION_ID), pc.greater(zone, MAX_LOCATION_ID)))
    return bad


_TAXI_AND_HV = frozenset({"yellow", "green", "fhvhv"})
# Each rule's check and the datasets it applies to (None: every dataset). duplicate_row has none here:
# it is found while the file streams (duplicates.SeenKeys), for datasets whose trip_key does not hash
# the row's position.
_CHECKS: dict[str, tuple[Callable[[Canonical, Context], np.ndarray], frozenset | None]] = {
    "unparseable": (_unparseable, None),
    "pickup_outside_file_month": (_outside_month, None),
    "dropoff_before_pickup": (_dropoff_before_pickup, None),
    "implausible_duration": (_too_long, None),
    "implausible_distance": (_implausible_distance, _TAXI_AND_HV),
    "trip_time_mismatch": (_trip_time_mismatch, frozenset({"fhvhv"})),
    "negative_amount": (_negative_amounts, _TAXI_AND_HV),
    "unknown_location": (_unknown_location, None),
}
assert {*_CHECKS, "duplicate_row"} == set(RULE_CODES)


def _applies(code: str, item: Dataset) -> bool:
    if code == "duplicate_row":
        return not item.key_includes_position
    datasets = _CHECKS[code][1]
    return datasets is None or item.service in datasets


def rules_for(item: Dataset) -> tuple[str, ...]:
    """The reason codes a dataset's rows are checked for, in RULES order."""
    return tuple(code for code in RULE_CODES if _applies(code, item))


def classify(rows: Canonical, ctx: Context, earlier_row: np.ndarray) -> np.ndarray:
    """Index into RULE_CODES of each row's reason (ACCEPTED: none). `earlier_row` is each row's
    earlier duplicate (0: none), from `duplicates.SeenKeys`."""
    reason = np.full(rows.num_rows, ACCEPTED, dtype=np.int8)
    for code in rules_for(ctx.dataset):
        failing = earlier_row > 0 if code == "duplicate_row" else _CHECKS[code][0](rows, ctx)
        reason[(reason == ACCEPTED) & failing] = RULE_CODES.index(code)
    return reason


# ---------- reason texts (for the quarantined rows only), built column-wise


def _shown(array: pa.Array) -> pa.Array:
    """Values as text for a reason (timestamps to the second), null shown as 'null'."""
    if pa.types.is_timestamp(array.type):
        text = array.cast(pa.timestamp("s"), safe=False).cast(pa.string())
    else:
        text = array.cast(pa.string())
    return pc.fill_null(text, "null")


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _texts(rows: Canonical, ctx: Context, code: str, index: pa.Array, earlier: np.ndarray) -> pa.Array:
    """The reason texts of `code` for the rows at `index`, with the offending values."""
    value = lambda name: _shown(rows.columns[name].take(index))  # noqa: E731
    if code == "unparseable":
        picked = np.asarray(index)
        unstorable = rows.unstorable[picked] if rows.unstorable is not None else np.zeros(len(picked), np.uint64)
        masks = list(zip(rows.failed[picked].tolist(), unstorable.tolist(), strict=True))
        labels = {m: f"could not parse: {failure_labels(ctx.mapping, *m)}" for m in set(masks) if m[0]}
        labels[(0, 0)] = "pickup or dropoff time missing"
        return pa.array([labels[m] for m in masks], pa.string())
    if code == "pickup_outside_file_month":
        return _join("pickup ", value("pickup_at"), f" is outside {ctx.year:04d}-{ctx.month:02d}")
    if code == "dropoff_before_pickup":
        return _join("dropoff ", value("dropoff_at"), " is before pickup ", value("pickup_at"))
    seconds = pa.array(_seconds(rows)[np.asarray(index)], pa.float64())
    if code == "implausible_duration":  # hours with one decimal: 24.0
        tenths = pc.round(pc.divide(seconds, 360.0)).cast(pa.int64())
        hours = _join(
            _shown(pc.divide(tenths, 10)),
            ".",
            _shown(pc.abs(pc.subtract(tenths, pc.multiply(pc.divide(tenths, 10), 10)))),
        )
        return _join("trip lasts ", hours, f" h (> {MAX_DURATION_HOURS} h)")
    if code == "implausible_distance":
        name = _distance_column(ctx)
        return _join(f"{name} ", value(name), " miles")
    if code == "trip_time_mismatch":
        span = _shown(seconds.cast(pa.int64()))
        return _join("trip_time ", value("trip_time"), " s against ", span, " s between pickup and dropoff")
    if code == "negative_amount" and ctx.dataset.service == "fhvhv":
        pieces = []
        for name in HVFHV_AMOUNTS:
            amounts = rows.columns[name].take(index)
            negative = pc.fill_null(pc.less(amounts, pa.scalar(0, amounts.type)), False)
            pieces.append(pc.if_else(negative, _join(f"{name} ", _shown(amounts)), pa.scalar(None, pa.string())))
        return _join("negative ", pc.binary_join_element_wise(*pieces, ", ", null_handling="skip"))
    if code == "negative_amount":
        return _join(
            "fare_amount ",
            value("fare_amount"),
            ", total_amount ",
            value("total_amount"),
            " with payment_type ",
            value("payment_type"),
        )
    if code == "unknown_location":
        return _join(
            "PULocationID ",
            value("pickup_location_id"),
            ", DOLocationID ",
            value("dropoff_location_id"),
            f" (zones are {MIN_LOCATION_ID}..{MAX_LOCATION_ID})",
        )
    if code == "duplicate_row":
        return _join("duplicate of source_row ", _shown(pa.array(earlier[np.asarray(index)])))
    raise ValueError(code)


def reason_texts(
    rows: Canonical, ctx: Context, picked: np.ndarray, reason: np.ndarray, earlier: np.ndarray
) -> pa.Array:
    """The reason text of each picked (quarantined) row, in `picked` order."""
    codes = reason[picked]
    parts, positions = [], []
    for code_index in np.unique(codes):
        where = np.flatnonzero(codes == code_index)
        parts.append(_texts(rows, ctx, RULE_CODES[int(code_index)], pa.array(picked[where], pa.int64()), earlier))
        positions.append(where)
    texts = pa.concat_arrays(parts)
    return texts.take(pa.array(np.argsort(np.concatenate(positions)), pa.int64()))


# ---------- warnings: codes the reference tables lack, on accepted rows


def warnings(rows: Canonical, ctx: Context, accepted: np.ndarray) -> Counter:
    """`column=value` -> accepted rows carrying that code, for every code no table lists."""
    counts: Counter = Counter()
    mask = pa.array(accepted)
    for field in ctx.dataset.fields:
        if field.codes is None or ctx.mapping.source_for(field.name) is None:
            continue
        known = set(field.codes.values)
        for item in pc.value_counts(rows.columns[field.name].filter(mask)).to_pylist():
            if item["values"] is not None and item["values"] not in known:
                counts[f"{field.name}={item['values']}"] += item["counts"]
        if field.name in rows.unmapped:
            texts = rows.unmapped[field.name].filter(mask)
            for item in pc.value_counts(texts.drop_null()).to_pylist():
                counts[f"{field.name}={item['values']}"] += item["counts"]
    return counts


def check_file_month(file_name: str, year: int, month: int, rows: int, outside: int) -> None:
    """Refuse a mislabeled file: more than MISLABELED_SHARE of its pickups outside its month.

    A few stray pickups are normal in TLC files and are quarantined row by row instead.
    """
    if rows and outside / rows > MISLABELED_SHARE:
        raise BadFileError(
            file_name,
            f"{outside} of {rows} pickups fall outside {year:04d}-{month:02d}:"
            " the file name's month looks wrong; rename the file to the month of its trips",
        )
