"""The four TLC trip datasets: canonical lake columns, the raw names TLC gave them, what a file needs.

Each dataset is one lake table (`<service>_trips`), partitioned by the source file's year and month.
A field lists every raw column name TLC used for it since 2009 (compared case- and
whitespace-insensitively); a file whose columns do not map is refused, naming them. Adding a
column, a layout or a dataset is an edit here; `python -m ingestion.contract` regenerates the
Terraform, dbt, seed and documentation copies, and tests/contract fails on any copy that drifts.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingestion.contract.codes import (
    HVFHS_COMPANIES,
    PAYMENT_TYPES,
    RATE_CODES,
    SHARED_RIDE,
    STORE_AND_FORWARD,
    TRIP_TYPES,
    VENDORS,
    YES_NO,
    CodeTable,
)
from ingestion.contract.types import logical_type


@dataclass(frozen=True)
class Field:
    """A canonical column: name, logical type, meaning, and the raw names that feed it."""

    name: str
    type: str
    description: str
    aliases: tuple[str, ...] = ()
    codes: CodeTable | None = None  # known codes; others are data-quality warnings, never a dropped trip
    # A file may carry several of the aliases at once: the first (in alias order) non-empty one wins.
    coalesce: bool = False

    def __post_init__(self) -> None:
        logical_type(self.type)
        if any(alias != alias.strip().lower() for alias in self.aliases):
            raise ValueError(f"{self.name}: aliases are written lower-case and trimmed")


@dataclass(frozen=True)
class Dataset:
    """One TLC trip dataset and its lake table."""

    service: str
    title: str
    description: str
    first_month: str
    fields: tuple[Field, ...]
    # Each entry: alternatives, one of which must be fully present in a file (else it is refused).
    requirements: tuple[tuple[tuple[str, ...], ...], ...]
    # Zone columns that older layouts give as a point: zone column -> (longitude, latitude) fields.
    zones_from_points: tuple[tuple[str, tuple[str, str]], ...] = ()
    # Raw column prefixes only this dataset uses: another dataset's file carrying one is refused.
    markers: tuple[str, ...] = ()
    # Rows too sparse to tell two trips apart (FHV: base, pickup minute, zone): identical rows are
    # separate trips, so trip_key also hashes the row's position and no row is a duplicate.
    key_includes_position: bool = False

    @property
    def table(self) -> str:
        return f"{self.service}_trips"

    def field(self, name: str) -> Field:
        for item in self.fields:
            if item.name == name:
                return item
        raise KeyError(f"{self.service}: no field {name!r}")

    @property
    def columns(self) -> tuple[Column, ...]:
        """Every column of the lake table's Parquet files, in order (partition columns excluded)."""
        return (
            *LEADING_COLUMNS,
            *(Column(f.name, f.type, f.description) for f in self.fields),
            *TRAILING_COLUMNS,
        )


@dataclass(frozen=True)
class Column:
    """A column of a lake table as stored (name, logical type, description)."""

    name: str
    type: str
    description: str


LEADING_COLUMNS = (
    Column(
        "trip_key",
        "key",
        "32 hex digits: a 128-bit hash of service, every canonical value and which of them are null"
        " (fhv: also the row's position in its file); unique per trip (ingestion/RULES.md).",
    ),
    Column("service", "string", "TLC dataset: `yellow`, `green`, `fhv` or `fhvhv`."),
)
TRAILING_COLUMNS = (
    Column("source_file", "string", "Name of the TLC file the row came from."),
    Column("source_row", "bigint", "1-based position of the data row in source_file."),
)
PARTITION_COLUMNS = (
    Column("year", "int", "Partition year (the source file's year)."),
    Column("month", "int", "Partition month 1..12 (the source file's month)."),
)


def _amount(name: str, description: str, *aliases: str) -> Field:
    return Field(name, "amount", description + ", USD.", (name, *aliases))


_TAXI_FIELDS = (
    Field(
        "vendor_id", "int", "TLC VendorID: the technology provider.", ("vendorid", "vendor_id", "vendor_name"), VENDORS
    ),
    Field(
        "pickup_at",
        "timestamp",
        "Pickup (meter engaged), NYC local wall-clock time.",
        ("tpep_pickup_datetime", "lpep_pickup_datetime", "pickup_datetime", "trip_pickup_datetime"),
    ),
    Field(
        "dropoff_at",
        "timestamp",
        "Drop-off (meter disengaged), NYC local wall-clock time.",
        ("tpep_dropoff_datetime", "lpep_dropoff_datetime", "dropoff_datetime", "trip_dropoff_datetime"),
    ),
    Field("passenger_count", "int", "Passengers as entered by the driver; null when left empty.", ("passenger_count",)),
    Field("trip_distance", "double", "Trip distance in miles reported by the taximeter.", ("trip_distance",)),
    Field(
        "rate_code_id",
        "int",
        "TLC RatecodeID: 1 standard, 2 JFK, 3 Newark, 4 Nassau or Westchester, 5 negotiated, 6 group ride, 99 unknown.",
        ("ratecodeid", "rate_code", "rate_code_id"),
        RATE_CODES,
    ),
    Field(
        "store_and_fwd_flag",
        "string",
        "`Y` when the record was held in vehicle memory before sending, `N` otherwise (2009-2014: 1/0).",
        ("store_and_fwd_flag", "store_and_forward"),
        STORE_AND_FORWARD,
    ),
    Field(
        "pickup_location_id",
        "int",
        "TLC taxi zone of the pickup (PULocationID); before 2016-07 assigned from the pickup point.",
        ("pulocationid",),
    ),
    Field(
        "dropoff_location_id",
        "int",
        "TLC taxi zone of the drop-off (DOLocationID); before 2016-07 assigned from the drop-off point.",
        ("dolocationid",),
    ),
    Field(
        "payment_type",
        "int",
        "TLC payment type: 0 flex fare, 1 credit card, 2 cash, 3 no charge, 4 dispute, 5 unknown, 6 voided.",
        ("payment_type",),
        PAYMENT_TYPES,
    ),
    _amount("fare_amount", "Time-and-distance fare", "fare_amt"),
    _amount("extra", "Miscellaneous extras and surcharges (2009-2014: `surcharge`)", "surcharge"),
    _amount("mta_tax", "MTA tax"),
    _amount("tip_amount", "Tip (credit-card tips only; cash tips are not recorded)", "tip_amt"),
    _amount("tolls_amount", "Tolls", "tolls_amt"),
    _amount("improvement_surcharge", "Improvement surcharge (from 2015)"),
    _amount("total_amount", "Total charged to passengers (cash tips excluded)", "total_amt"),
    _amount("congestion_surcharge", "NYS congestion surcharge (from 2019)"),
    _amount("airport_fee", "Airport fee for LaGuardia/JFK pickups (from 2022)"),
    _amount("cbd_congestion_fee", "MTA Congestion Relief Zone fee (from 2025-01-05)"),
    _amount("ehail_fee", "E-hail fee (green only)"),
    Field("trip_type", "int", "Green only: 1 street-hail, 2 dispatch; null for yellow.", ("trip_type",), TRIP_TYPES),
    Field(
        "pickup_longitude",
        "double",
        "Pickup longitude (WGS84) as TLC published it until 2016-06; null from 2016-07 (zones only).",
        ("pickup_longitude", "start_lon"),
    ),
    Field("pickup_latitude", "double", "Pickup latitude (WGS84), until 2016-06.", ("pickup_latitude", "start_lat")),
    Field(
        "dropoff_longitude", "double", "Drop-off longitude (WGS84), until 2016-06.", ("dropoff_longitude", "end_lon")
    ),
    Field("dropoff_latitude", "double", "Drop-off latitude (WGS84), until 2016-06.", ("dropoff_latitude", "end_lat")),
)

_TAXI_REQUIREMENTS = (
    (("vendor_id",),),
    (("pickup_at",),),
    (("dropoff_at",),),
    (("pickup_location_id",), ("pickup_longitude", "pickup_latitude")),
    (("dropoff_location_id",), ("dropoff_longitude", "dropoff_latitude")),
)
_TAXI_POINTS = (
    ("pickup_location_id", ("pickup_longitude", "pickup_latitude")),
    ("dropoff_location_id", ("dropoff_longitude", "dropoff_latitude")),
)


def _taxi(service: str, title: str, description: str, first_month: str, marker: str) -> Dataset:
    """Yellow and green share their fields, requirements and point-era zones; a column prefix of theirs
    (`tpep_`, `lpep_`) tells their files apart."""
    return Dataset(
        service=service,
        title=title,
        description=description,
        first_month=first_month,
        fields=_TAXI_FIELDS,
        requirements=_TAXI_REQUIREMENTS,
        zones_from_points=_TAXI_POINTS,
        markers=(marker,),
    )


YELLOW = _taxi(
    "yellow",
    "Yellow taxi trips",
    "Yellow medallion taxi trips (TPEP), street-hail anywhere in NYC, since 2009-01.",
    "2009-01",
    "tpep_",
)
GREEN = _taxi(
    "green",
    "Green taxi trips",
    "Green (boro) taxi trips (LPEP), street-hail outside Manhattan's core, since 2013-08.",
    "2013-08",
    "lpep_",
)

FHV = Dataset(
    service="fhv",
    title="For-hire vehicle trips",
    description=(
        "Trips dispatched by for-hire bases (livery, black car, lux limousine) other than the high-volume ones,"
        " since 2015-01."
    ),
    first_month="2015-01",
    fields=(
        Field(
            "dispatching_base_num",
            "string",
            "TLC license number of the base that dispatched the trip (2018 files: `Dispatching_base_number`).",
            # 2018 files carry both names, the second one mostly empty.
            ("dispatching_base_number", "dispatching_base_num"),
            coalesce=True,
        ),
        Field("pickup_at", "timestamp", "Pickup, NYC local wall-clock time.", ("pickup_datetime", "pickup_date")),
        Field(
            "dropoff_at",
            "timestamp",
            "Drop-off, NYC local wall-clock time; null before 2017 (not reported).",
            ("dropoff_datetime",),
        ),
        Field(
            "pickup_location_id",
            "int",
            "TLC taxi zone of the pickup (PUlocationID; 2015-2016: locationID); often null.",
            ("pulocationid", "locationid"),
        ),
        Field(
            "dropoff_location_id", "int", "TLC taxi zone of the drop-off (DOlocationID); often null.", ("dolocationid",)
        ),
        Field(
            "sr_flag",
            "int",
            "1 when the passenger requested a shared ride (from 2017-07), null otherwise.",
            ("sr_flag",),
            SHARED_RIDE,
        ),
        Field(
            "affiliated_base_num",
            "string",
            "TLC license number of the base the vehicle is affiliated with (from 2019 Parquet).",
            ("affiliated_base_number", "affiliated_base_num"),
        ),
    ),
    requirements=((("dispatching_base_num",),), (("pickup_at",),)),
    key_includes_position=True,
)

FHVHV = Dataset(
    service="fhvhv",
    title="High-volume for-hire vehicle trips",
    description="Trips of the high-volume for-hire services (Uber, Lyft, Via, Juno), since 2019-02.",
    first_month="2019-02",
    fields=(
        Field(
            "hvfhs_license_num",
            "string",
            "High-volume for-hire service license: HV0002 Juno, HV0003 Uber, HV0004 Via, HV0005 Lyft.",
            ("hvfhs_license_num",),
            HVFHS_COMPANIES,
        ),
        Field(
            "dispatching_base_num", "string", "TLC license number of the dispatching base.", ("dispatching_base_num",)
        ),
        Field(
            "originating_base_num",
            "string",
            "Base number of the base that received the original request.",
            ("originating_base_num",),
        ),
        Field("request_at", "timestamp", "When the passenger requested the ride.", ("request_datetime",)),
        Field(
            "on_scene_at",
            "timestamp",
            "When the driver arrived at the pickup (accessible vehicles).",
            ("on_scene_datetime",),
        ),
        Field("pickup_at", "timestamp", "Pickup, NYC local wall-clock time.", ("pickup_datetime",)),
        Field("dropoff_at", "timestamp", "Drop-off, NYC local wall-clock time.", ("dropoff_datetime",)),
        Field("pickup_location_id", "int", "TLC taxi zone of the pickup (PULocationID).", ("pulocationid",)),
        Field("dropoff_location_id", "int", "TLC taxi zone of the drop-off (DOLocationID).", ("dolocationid",)),
        Field("trip_miles", "double", "Miles driven for the passenger trip.", ("trip_miles",)),
        Field("trip_time", "bigint", "Seconds of the passenger trip.", ("trip_time",)),
        _amount("base_passenger_fare", "Base fare before tolls, tips, taxes and fees"),
        _amount("tolls", "Tolls"),
        _amount("bcf", "Black Car Fund contribution"),
        _amount("sales_tax", "NYS sales tax"),
        _amount("congestion_surcharge", "NYS congestion surcharge"),
        _amount("airport_fee", "Airport fee for LaGuardia, Newark and JFK pickups and drop-offs"),
        _amount("tips", "Tips"),
        _amount("driver_pay", "Total driver pay (not including tolls or tips)"),
        _amount("cbd_congestion_fee", "MTA Congestion Relief Zone fee (from 2025-01-05)"),
        Field(
            "shared_request_flag",
            "string",
            "`Y` when the passenger agreed to a shared ride, `N` otherwise.",
            ("shared_request_flag",),
            YES_NO,
        ),
        Field(
            "shared_match_flag",
            "string",
            "`Y` when the passenger shared the vehicle with another booking.",
            ("shared_match_flag",),
            YES_NO,
        ),
        Field(
            "access_a_ride_flag",
            "string",
            "`Y` when the trip was administered on behalf of the MTA's Access-A-Ride.",
            ("access_a_ride_flag",),
            YES_NO,
        ),
        Field(
            "wav_request_flag",
            "string",
            "`Y` when the passenger requested a wheelchair-accessible vehicle.",
            ("wav_request_flag",),
            YES_NO,
        ),
        Field(
            "wav_match_flag",
            "string",
            "`Y` when the trip took place in a wheelchair-accessible vehicle.",
            ("wav_match_flag",),
            YES_NO,
        ),
        Field("sr_flag", "int", "2019-2020 files: 1 when a shared ride was requested.", ("sr_flag",), SHARED_RIDE),
    ),
    requirements=(
        (("hvfhs_license_num",),),
        (("pickup_at",),),
        (("dropoff_at",),),
        (("pickup_location_id",),),
        (("dropoff_location_id",),),
    ),
    markers=("hvfhs_",),
)

DATASETS: tuple[Dataset, ...] = (YELLOW, GREEN, FHV, FHVHV)
SERVICES: tuple[str, ...] = tuple(d.service for d in DATASETS)
_BY_SERVICE = {d.service: d for d in DATASETS}


def dataset(service: str) -> Dataset:
    """The dataset called `service`; KeyError names the known ones."""
    try:
        return _BY_SERVICE[service]
    except KeyError:
        raise KeyError(f"unknown service {service!r}; known: {', '.join(SERVICES)}") from None
