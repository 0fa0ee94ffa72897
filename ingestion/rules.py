"""Row validation rules with stable reason codes, applied as one Spark expression.

Every row gets ``reason_code`` (null = accepted) and ``reason`` (human text). Rules are checked in
the order of `RULES`; the first failing rule wins, so a row has exactly one reason and counts per
reason add up to the quarantine. ingestion/RULES.md documents each rule against the TLC data
dictionary; a test keeps that table and `RULE_CODES` identical.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ingestion.errors import BadFileError
from ingestion.schema import FAILED_MASK, KEY_HASHES

VALID_VENDORS = (1, 2, 6, 7)
VALID_PAYMENT_TYPES = (0, 1, 2, 3, 4, 5, 6)
VALID_RATE_CODES = (1, 2, 3, 4, 5, 6, 99)
VALID_TRIP_TYPES = (1, 2)
VALID_FLAGS = ("Y", "N")
# payment_type 3 no charge, 4 dispute, 6 voided: TLC records reversals there as negative amounts.
REVERSAL_PAYMENT_TYPES = (3, 4, 6)
MIN_LOCATION_ID, MAX_LOCATION_ID = 1, 265
MAX_DURATION_HOURS = 24
MAX_DISTANCE_MILES = 500.0
# More than this share of pickups outside the file's month: the file is mislabeled, refuse it.
MISLABELED_SHARE = 0.5


@dataclass(frozen=True)
class Rule:
    """A reason code and what it means (the long form lives in RULES.md)."""

    code: str
    summary: str


RULES: tuple[Rule, ...] = (
    Rule("unparseable", "a value failed to cast, pickup/dropoff missing, or wrong field count"),
    Rule("pickup_outside_file_month", "pickup is not in the month the file name promises"),
    Rule("dropoff_before_pickup", "dropoff time is earlier than pickup time"),
    Rule("implausible_duration", f"trip lasts more than {MAX_DURATION_HOURS} hours"),
    Rule("implausible_distance", f"trip_distance negative or over {MAX_DISTANCE_MILES:g} miles"),
    Rule("negative_amount", "negative fare/total on a payment type that is not a reversal"),
    Rule("unknown_location", "pickup/dropoff location id missing or not a TLC zone 1..265"),
    Rule("unknown_vendor", "VendorID missing or not 1, 2, 6, 7"),
    Rule("unknown_code", "payment_type, RatecodeID, store_and_fwd_flag or trip_type off-list"),
    Rule("duplicate_row", "same trip (every canonical value) as an earlier row of the file"),
)
RULE_CODES: tuple[str, ...] = tuple(rule.code for rule in RULES)


def month_bounds(year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    """[first instant of the month, first instant of the next month)."""
    start = dt.datetime(year, month, 1)
    days = calendar.monthrange(year, month)[1]
    return start, start + dt.timedelta(days=days)


def _ts(value: dt.datetime) -> Column:
    return F.lit(value.strftime("%Y-%m-%d %H:%M:%S")).cast("timestamp")


def _off_list(column: str, allowed: tuple) -> Column:
    return F.col(column).isNotNull() & ~F.col(column).isin(*allowed)


def _text(*parts: Column | str) -> Column:
    """Concatenate literals and column values (null shown as 'null') into reason text."""
    return F.concat(*(F.lit(p) if isinstance(p, str) else F.coalesce(p.cast("string"), F.lit("null")) for p in parts))


def rule_checks(year: int, month: int) -> list[tuple[str, Column, Column]]:
    """(reason_code, failing condition, reason text) per rule, in RULES order.

    Expects the reader's canonical columns plus ``_failed`` (`FAILED_MASK`) and ``_first_row`` (the
    smallest source_row with the same trip_key; see `classify`); the texts also use
    ``_unparseable``. Conditions are null-safe (never null).
    """
    start, end = month_bounds(year, month)
    pickup, dropoff = F.col("pickup_at"), F.col("dropoff_at")
    seconds = dropoff.cast("long") - pickup.cast("long")
    loc_bad = [
        F.col(c).isNull() | ~F.col(c).between(MIN_LOCATION_ID, MAX_LOCATION_ID)
        for c in ("pickup_location_id", "dropoff_location_id")
    ]
    code_checks = [
        ("payment_type", VALID_PAYMENT_TYPES),
        ("rate_code_id", VALID_RATE_CODES),
        ("store_and_fwd_flag", VALID_FLAGS),
        ("trip_type", VALID_TRIP_TYPES),
    ]
    bad_codes = [
        F.when(
            _off_list(column, allowed),
            F.concat(F.lit(f"{column}="), F.col(column).cast("string")),
        )
        for column, allowed in code_checks
    ]
    negative = (F.col("fare_amount") < 0) | (F.col("total_amount") < 0)
    not_reversal = F.col("payment_type").isNull() | ~F.col("payment_type").isin(*REVERSAL_PAYMENT_TYPES)
    checks: list[tuple[str, Column, Column]] = [
        (
            "unparseable",
            (F.col(FAILED_MASK) != 0) | pickup.isNull() | dropoff.isNull(),
            F.when(
                F.col("_unparseable").isNotNull(),
                F.concat(F.lit("could not parse: "), F.col("_unparseable")),
            ).otherwise(F.lit("pickup or dropoff time missing")),
        ),
        (
            "pickup_outside_file_month",
            (pickup < _ts(start)) | (pickup >= _ts(end)),
            _text("pickup ", pickup, f" is outside {year:04d}-{month:02d}"),
        ),
        (
            "dropoff_before_pickup",
            dropoff < pickup,
            _text("dropoff ", dropoff, " is before pickup ", pickup),
        ),
        (
            "implausible_duration",
            seconds > MAX_DURATION_HOURS * 3600,
            _text("trip lasts ", F.round(seconds / 3600, 1), f" h (> {MAX_DURATION_HOURS} h)"),
        ),
        (
            "implausible_distance",
            (F.col("trip_distance") < 0) | (F.col("trip_distance") > MAX_DISTANCE_MILES),
            _text("trip_distance ", F.col("trip_distance"), " miles"),
        ),
        (
            "negative_amount",
            negative & not_reversal,
            _text(
                "fare_amount ",
                F.col("fare_amount"),
                ", total_amount ",
                F.col("total_amount"),
                " with payment_type ",
                F.col("payment_type"),
            ),
        ),
        (
            "unknown_location",
            loc_bad[0] | loc_bad[1],
            _text(
                "PULocationID ",
                F.col("pickup_location_id"),
                ", DOLocationID ",
                F.col("dropoff_location_id"),
                " (zones are 1..265)",
            ),
        ),
        (
            "unknown_vendor",
            F.col("vendor_id").isNull() | ~F.col("vendor_id").isin(*VALID_VENDORS),
            _text("VendorID ", F.col("vendor_id"), " (known: 1, 2, 6, 7)"),
        ),
        (
            "unknown_code",
            functools.reduce(lambda a, b: a | b, (_off_list(column, ok) for column, ok in code_checks)),
            F.concat(F.lit("off-list code: "), F.concat_ws(", ", *bad_codes)),
        ),
        (
            "duplicate_row",
            F.col("_first_row").isNotNull() & (F.col("source_row") > F.col("_first_row")),
            _text("duplicate of source_row ", F.col("_first_row")),
        ),
    ]
    assert tuple(code for code, _, _ in checks) == RULE_CODES
    return [(code, F.coalesce(cond, F.lit(False)), text) for code, cond, text in checks]


def repeated_keys(frame: DataFrame) -> DataFrame:
    """The trip_key halves (`reader.KEY_HASHES`, two longs) and ``_first_row`` (the key's smallest
    source_row) for every key seen more than once: one aggregation of three longs per row; the
    result is broadcast back, so the trip rows themselves are never shuffled."""
    return (
        frame.groupBy(*KEY_HASHES)
        .agg(F.min("source_row").alias("_first_row"), F.count(F.lit(1)).alias("_n"))
        .where(F.col("_n") > 1)
        .drop("_n")
    )


def classify_codes(frame: DataFrame, repeated: DataFrame, year: int, month: int) -> DataFrame:
    """Add ``_first_row`` and ``reason_code`` (null when the row is accepted); `repeated` is
    `repeated_keys(frame)`. ``reason`` is left to `reason_column`, for the quarantined rows only."""
    joined = frame.join(F.broadcast(repeated), on=list(KEY_HASHES), how="left")
    code: Column = F.lit(None).cast("string")
    for rule_code, failing, _ in reversed(rule_checks(year, month)):
        code = F.when(failing, F.lit(rule_code)).otherwise(code)
    return joined.withColumn("reason_code", code)


def reason_column(year: int, month: int) -> Column:
    """``reason``: the human text for the row's ``reason_code`` (null when accepted).

    Built from the code, so each condition is evaluated once per row; string-heavy, so the job
    computes it for quarantined rows only. Needs the columns `classify_codes` leaves.
    """
    text: Column = F.lit(None).cast("string")
    for rule_code, _, reason in rule_checks(year, month):
        text = F.when(F.col("reason_code") == rule_code, reason).otherwise(text)
    return text.alias("reason")


def classify(frame: DataFrame, year: int, month: int) -> DataFrame:
    """Add reason_code / reason (null when the row is accepted) to the reader's DataFrame."""
    codes = classify_codes(frame, repeated_keys(frame), year, month)
    return codes.withColumn("reason", reason_column(year, month)).drop("_first_row")


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
