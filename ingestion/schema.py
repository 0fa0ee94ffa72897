"""The canonical trip schema and, in this one place, how every TLC column-name variant maps to it.

TLC has published its trip files with many layouts since 2009. This module knows them all:

* yellow ``tpep_*`` and green ``lpep_*`` timestamps (and ``Lpep_dropoff_datetime`` in old green);
* ``VendorID`` / ``vendor_id``, ``RatecodeID`` / ``RateCodeID`` / ``rate_code``, ``PULocationID``,
  ``DOLocationID``; header case never matters (names are compared lower-cased and trimmed);
* ``airport_fee`` (2022+) and ``Airport_fee`` (2023+), ``cbd_congestion_fee`` (2025+),
  ``congestion_surcharge`` (2019+), green-only ``ehail_fee`` and ``trip_type``;
* the 2009-2010 yellow layout (``vendor_name``, ``Trip_Pickup_DateTime``, ``Start_Lon``, ...)
  and the 2010 - 2016-06 layouts with longitude/latitude instead of zone ids. Those are
  *recognised* but refused: a point cannot be mapped to a TLC zone without a spatial join this
  stage does not do.

A column missing from a layout becomes null. A file with an unknown column, an ambiguous pair of
columns, or without the required ones is refused with a ``BadFileError`` naming them: a new TLC
column needs one line in ``ALIASES`` rather than being dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql.types import (
    DataType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from ingestion.errors import BadFileError

SERVICES = ("yellow", "green")

AMOUNT = DecimalType(12, 2)

# Kinds decide how a raw value is cast (see reader.canonical_column).
TIMESTAMP_KIND = "timestamp"
INT_KIND = "int"
DOUBLE_KIND = "double"
AMOUNT_KIND = "amount"
FLAG_KIND = "flag"

AMOUNT_COLUMNS: tuple[str, ...] = (
    "fare_amount",
    "extra",
    "mta_tax",
    "tip_amount",
    "tolls_amount",
    "improvement_surcharge",
    "total_amount",
    "congestion_surcharge",
    "airport_fee",
    "cbd_congestion_fee",
    "ehail_fee",
)

# Canonical value columns in contract order, with the kind used to cast them from the raw file.
VALUE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("vendor_id", INT_KIND),
    ("pickup_at", TIMESTAMP_KIND),
    ("dropoff_at", TIMESTAMP_KIND),
    ("passenger_count", INT_KIND),
    ("trip_distance", DOUBLE_KIND),
    ("rate_code_id", INT_KIND),
    ("store_and_fwd_flag", FLAG_KIND),
    ("pickup_location_id", INT_KIND),
    ("dropoff_location_id", INT_KIND),
    ("payment_type", INT_KIND),
    *((name, AMOUNT_KIND) for name in AMOUNT_COLUMNS),
    ("trip_type", INT_KIND),
)

_SPARK_TYPE_OF_KIND: dict[str, DataType] = {
    TIMESTAMP_KIND: TimestampType(),
    INT_KIND: IntegerType(),
    DOUBLE_KIND: DoubleType(),
    AMOUNT_KIND: AMOUNT,
    FLAG_KIND: StringType(),
}

TRIP_SCHEMA = StructType(
    [
        StructField("trip_key", StringType()),
        StructField("service", StringType()),
        *(StructField(name, _SPARK_TYPE_OF_KIND[kind]) for name, kind in VALUE_COLUMNS),
        StructField("source_file", StringType()),
        StructField("source_row", LongType()),
    ]
)
TRIP_COLUMNS: tuple[str, ...] = tuple(TRIP_SCHEMA.fieldNames())

QUARANTINE_SCHEMA = StructType(
    [
        *TRIP_SCHEMA.fields,
        StructField("reason_code", StringType()),
        StructField("reason", StringType()),
        StructField("raw_record", StringType()),
    ]
)
QUARANTINE_COLUMNS: tuple[str, ...] = tuple(QUARANTINE_SCHEMA.fieldNames())

# Columns hashed into trip_key: every canonical value, so two rows share a key only when they are
# the same trip in every field (that is what `duplicate_row` quarantines).
TRIP_KEY_COLUMNS: tuple[str, ...] = ("service", *(name for name, _ in VALUE_COLUMNS))
# trip_key's two 64-bit halves, kept as long columns beside it while a file is classified:
# duplicates are found by grouping these (never written to the lake).
KEY_HASHES: tuple[str, str] = ("_key_hi", "_key_lo")
# Which raw values failed to cast, one bit per value column (0: none; see reader.failure_labels).
FAILED_MASK = "_failed"

# Every known raw column name (lower-cased) -> canonical column.
ALIASES: dict[str, str] = {
    "vendorid": "vendor_id",
    "vendor_id": "vendor_id",
    "tpep_pickup_datetime": "pickup_at",
    "lpep_pickup_datetime": "pickup_at",
    "pickup_datetime": "pickup_at",
    "trip_pickup_datetime": "pickup_at",
    "tpep_dropoff_datetime": "dropoff_at",
    "lpep_dropoff_datetime": "dropoff_at",
    "dropoff_datetime": "dropoff_at",
    "trip_dropoff_datetime": "dropoff_at",
    "passenger_count": "passenger_count",
    "trip_distance": "trip_distance",
    "ratecodeid": "rate_code_id",
    "rate_code": "rate_code_id",
    "rate_code_id": "rate_code_id",
    "store_and_fwd_flag": "store_and_fwd_flag",
    "store_and_forward": "store_and_fwd_flag",
    "pulocationid": "pickup_location_id",
    "dolocationid": "dropoff_location_id",
    "payment_type": "payment_type",
    "fare_amount": "fare_amount",
    "fare_amt": "fare_amount",
    "extra": "extra",
    "surcharge": "extra",
    "mta_tax": "mta_tax",
    "tip_amount": "tip_amount",
    "tip_amt": "tip_amount",
    "tolls_amount": "tolls_amount",
    "tolls_amt": "tolls_amount",
    "improvement_surcharge": "improvement_surcharge",
    "total_amount": "total_amount",
    "total_amt": "total_amount",
    "congestion_surcharge": "congestion_surcharge",
    "airport_fee": "airport_fee",
    "cbd_congestion_fee": "cbd_congestion_fee",
    "ehail_fee": "ehail_fee",
    "trip_type": "trip_type",
}

# Recognised columns of the pre-2016-07 layouts that have no place in the canonical schema.
POINT_COLUMNS: frozenset[str] = frozenset(
    {
        "pickup_longitude",
        "pickup_latitude",
        "dropoff_longitude",
        "dropoff_latitude",
        "start_lon",
        "start_lat",
        "end_lon",
        "end_lat",
        "vendor_name",
    }
)

# Without these a row means nothing; everything else may be absent (-> null).
REQUIRED: tuple[str, ...] = (
    "vendor_id",
    "pickup_at",
    "dropoff_at",
    "pickup_location_id",
    "dropoff_location_id",
)

# Raw columns whose name tells the service: a yellow file must not carry lpep_* timestamps.
_SERVICE_MARKERS = {"tpep_": "yellow", "lpep_": "green"}


def normalise(name: str) -> str:
    """Compare raw column names case- and whitespace-insensitively (BOM included)."""
    return name.replace("\ufeff", "").strip().lower()


@dataclass(frozen=True)
class ColumnMapping:
    """Which raw column (exact spelling in the file) feeds each canonical column, if any."""

    file_name: str
    raw_columns: tuple[str, ...]
    source_of: dict[str, str]

    def source_for(self, canonical: str) -> str | None:
        """The raw column for `canonical`, or None when this layout lacks it (value -> null)."""
        return self.source_of.get(canonical)


def map_columns(file_name: str, service: str, raw_columns: Sequence[str]) -> ColumnMapping:
    """Map a file's raw column names to the canonical schema.

    Raises BadFileError naming the file and the unknown / ambiguous / missing columns when the
    layout cannot be mapped (including the lon/lat layouts, which have no zone ids).
    """
    source_of: dict[str, str] = {}
    unknown: list[str] = []
    ambiguous: list[str] = []
    points: list[str] = []
    wrong_service: list[str] = []
    for raw in raw_columns:
        key = normalise(raw)
        for prefix, marker_service in _SERVICE_MARKERS.items():
            if key.startswith(prefix) and marker_service != service:
                wrong_service.append(raw)
        if key in POINT_COLUMNS:
            points.append(raw)
            continue
        canonical = ALIASES.get(key)
        if canonical is None:
            unknown.append(raw)
        elif canonical in source_of:
            ambiguous.append(f"{source_of[canonical]}/{raw}")
        else:
            source_of[canonical] = raw
    missing = [c for c in REQUIRED if c not in source_of]

    problems: list[str] = []
    if points and {"pickup_location_id", "dropoff_location_id"} & set(missing):
        problems.append(
            "pre-2016-07 layout with longitude/latitude ("
            + ", ".join(points)
            + ") and no PULocationID/DOLocationID: points cannot be mapped to TLC zone ids"
        )
    elif points:
        unknown.extend(points)
    if wrong_service:
        problems.append(f"{', '.join(wrong_service)} belong to the other service than {service}")
    if unknown:
        problems.append(f"unknown columns {', '.join(unknown)} (add them to ingestion/schema.py ALIASES)")
    if ambiguous:
        problems.append(f"ambiguous columns {', '.join(ambiguous)}")
    if missing:
        problems.append(f"missing required columns {', '.join(missing)}")
    if problems:
        raise BadFileError(file_name, "cannot map columns: " + "; ".join(problems))
    return ColumnMapping(file_name=file_name, raw_columns=tuple(raw_columns), source_of=source_of)
