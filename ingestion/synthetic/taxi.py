"""Yellow and green taxi months: TLC's 2024 Parquet layout (2025+ adds ``cbd_congestion_fee``).

Lognormal distances, fares from distance and time on the 2024 meter rates, tips mostly on card
payments, a few "flex fare" rows (payment_type 0) with the nulls TLC leaves in them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ingestion.synthetic.common import AIRPORT_ZONES, Chunk, csv_text, month_start, pickup_seconds, seconds

# Codes the reference tables lack, planted on clean trips (kept, counted as warnings).
WARNING_CODES = (("vendor_id", "vendor", 4), ("payment_type", "payment", 9))

_ARROW = {"int32": pa.int32(), "int64": pa.int64(), "double": pa.float64(), "string": pa.string()}
_ARROW["timestamp"] = pa.timestamp("us")


def _fields(declaration: str) -> list[tuple[str, pa.DataType]]:
    """`name type, name type, ...` (as TLC's files declare them) -> (name, Arrow type) pairs."""
    return [(name, _ARROW[kind]) for name, kind in (item.split() for item in declaration.split(","))]


# TLC's 2024 Parquet layouts, column for column (green keeps its counts and codes as doubles).
_YELLOW_FIELDS = _fields(
    "VendorID int32, tpep_pickup_datetime timestamp, tpep_dropoff_datetime timestamp, passenger_count int64,"
    " trip_distance double, RatecodeID int64, store_and_fwd_flag string, PULocationID int32, DOLocationID int32,"
    " payment_type int64, fare_amount double, extra double, mta_tax double, tip_amount double,"
    " tolls_amount double, improvement_surcharge double, total_amount double, congestion_surcharge double,"
    " Airport_fee double"
)
_GREEN_FIELDS = _fields(
    "VendorID int32, lpep_pickup_datetime timestamp, lpep_dropoff_datetime timestamp, store_and_fwd_flag string,"
    " RatecodeID double, PULocationID int32, DOLocationID int32, passenger_count double, trip_distance double,"
    " fare_amount double, extra double, mta_tax double, tip_amount double, tolls_amount double, ehail_fee double,"
    " improvement_surcharge double, total_amount double, payment_type double, trip_type double,"
    " congestion_surcharge double"
)


def schema(service: str, year: int, month: int = 1) -> pa.Schema:
    """The Parquet schema TLC publishes for `service` in `year` (2024 layout; 2025+ adds CBD)."""
    fields = list(_YELLOW_FIELDS if service == "yellow" else _GREEN_FIELDS)
    if year >= 2025:
        fields.append(("cbd_congestion_fee", pa.float64()))
    return pa.schema(fields)


def warning_codes(service: str, year: int, month: int) -> tuple[tuple[str, int], ...]:
    """(field, unknown code) pairs planted on clean trips."""
    return tuple((field, value) for field, _, value in WARNING_CODES)


def chunk(rng: np.random.Generator, spec: Chunk) -> pa.Table:
    """`spec.n` rows in TLC's layout, with the spec's planted anomalies and unknown codes."""
    cols = _clean_chunk(rng, spec.n, spec.service, spec.year, spec.month, spec.zones)
    _inject(rng, cols, spec.plan, spec.fmt, spec.year, spec.month, spec.codes, spec.warned)
    return _to_table(cols, spec.service, spec.year, spec.fmt)


def _clean_chunk(
    rng: np.random.Generator, n: int, service: str, year: int, month: int, zones: np.ndarray
) -> dict[str, np.ndarray]:
    """`n` valid trips as column arrays (canonical-ish names; renamed when written)."""
    offset = pickup_seconds(rng, n, year, month)
    pickup = month_start(year, month) + seconds(offset)
    distance = np.round(np.clip(rng.lognormal(0.55, 0.85, n), 0.01, 80.0), 2)
    distance[rng.random(n) < 0.01] = 0.0
    mph = rng.uniform(7, 16, n)
    duration = np.clip(distance / mph * 3600 + rng.integers(60, 300, n), 60, 3 * 3600)
    dropoff = pickup + seconds(duration)

    if service == "yellow":
        vendor = rng.choice([1, 2, 6, 7], n, p=[0.27, 0.72, 0.005, 0.005])
        payment = rng.choice([0, 1, 2, 3, 4], n, p=[0.03, 0.76, 0.17, 0.02, 0.02])
    else:
        vendor = rng.choice([1, 2], n, p=[0.15, 0.85])
        payment = rng.choice([1, 2, 3, 4], n, p=[0.62, 0.35, 0.015, 0.015])
    rate = rng.choice([1, 2, 3, 4, 5, 99], n, p=[0.94, 0.03, 0.005, 0.003, 0.01, 0.012])
    pu = rng.choice(265, n, p=zones) + 1
    do = rng.choice(265, n, p=zones) + 1
    minutes = duration / 60
    fare = np.round(3.0 + 3.5 * distance + 0.35 * minutes, 2)
    fare = np.where(rate == 2, 70.0, fare)
    hour = (offset % 86400) // 3600
    extra = np.where((hour >= 16) & (hour < 20), 2.5, np.where((hour >= 20) | (hour < 6), 1.0, 0.0))
    mta = np.full(n, 0.5)
    improvement = np.full(n, 1.0)
    tolls = np.where(rng.random(n) < 0.05, 6.94, 0.0)
    tip = np.where(payment == 1, np.round(fare * rng.uniform(0.1, 0.3, n), 2), 0.0)
    tip[(payment == 1) & (rng.random(n) < 0.15)] = 0.0
    congestion = np.where(rng.random(n) < (0.9 if service == "yellow" else 0.3), 2.5, 0.0)
    airport = np.where(np.isin(pu, AIRPORT_ZONES), 1.75, 0.0)
    cbd = np.where(rng.random(n) < 0.6, 0.75, 0.0) if year >= 2025 else np.zeros(n)
    if service == "green":
        airport = np.zeros(n)
    total = np.round(fare + extra + mta + tip + tolls + improvement + congestion + airport + cbd, 2)
    passengers = rng.choice([1, 2, 3, 4, 5, 6], n, p=[0.72, 0.15, 0.05, 0.03, 0.03, 0.02])
    flag = np.where(rng.random(n) < 0.005, "Y", "N").astype(object)
    return {
        "vendor": vendor,
        "pickup": pickup,
        "dropoff": dropoff,
        "passengers": passengers.astype("float64"),
        "distance": distance,
        "rate": rate.astype("float64"),
        "flag": flag,
        "pu": pu,
        "do": do,
        "payment": payment.astype("float64"),
        "fare": fare,
        "extra": extra,
        "mta": mta,
        "tip": tip,
        "tolls": tolls,
        "improvement": improvement,
        "total": total,
        "congestion": congestion,
        "airport": airport,
        "cbd": cbd,
        "trip_type": rng.choice([1.0, 2.0], n, p=[0.97, 0.03]),
        "flex": payment == 0,  # TLC leaves several fields null on flex-fare rows
    }


def _inject(
    rng: np.random.Generator,
    cols: dict[str, np.ndarray],
    plan: dict[str, int],
    fmt: str,
    year: int,
    month: int,
    codes: tuple[str, ...],
    warned: dict[str, int],
) -> None:
    """Mutate rows in place so that exactly plan[code] rows trip `code` (and no earlier rule), and
    warned[column] clean rows carry an unknown code."""
    n = len(cols["pickup"])
    wanted = sum(plan.values())
    positions = np.sort(rng.choice(np.arange(1, n), wanted, replace=False))  # row 0 stays clean
    is_clean = np.ones(n, dtype=bool)
    is_clean[positions] = False
    candidates = np.flatnonzero(is_clean[1:]) + 1
    flagged = rng.choice(candidates, sum(warned.values()), replace=False)
    start = 0
    for column, key, value in WARNING_CODES:
        rows = flagged[start : start + warned.get(column, 0)]
        start += len(rows)
        cols[key][rows] = value
        if key == "payment":
            cols["flex"][rows] = False
    if wanted == 0:
        return
    rng.shuffle(positions)
    clean = np.flatnonzero(is_clean)
    first_instant = month_start(year, month)
    cursor = 0
    for code in codes:
        rows = positions[cursor : cursor + plan.get(code, 0)]
        cursor += len(rows)
        if not len(rows):
            continue
        k = len(rows)
        if code == "unparseable":
            if fmt != "parquet":
                cols["distance_text"] = cols.get("distance_text", {})
                for row in rows:
                    cols["distance_text"][int(row)] = "n/a"
            else:
                cols["fare"][rows] = 1.0e11  # does not fit decimal(12,2)
        elif code == "pickup_outside_file_month":
            shift = rng.integers(3600, 5 * 86400, k).astype("timedelta64[s]")
            length = cols["dropoff"][rows] - cols["pickup"][rows]
            cols["pickup"][rows] = first_instant - shift
            cols["dropoff"][rows] = cols["pickup"][rows] + length
        elif code == "dropoff_before_pickup":
            back = rng.integers(60, 3600, k).astype("timedelta64[s]")
            cols["dropoff"][rows] = cols["pickup"][rows] - back
        elif code == "implausible_duration":
            hours = rng.integers(25 * 3600, 72 * 3600, k).astype("timedelta64[s]")
            cols["dropoff"][rows] = cols["pickup"][rows] + hours
        elif code == "implausible_distance":
            far = np.round(500 + rng.uniform(1, 5000, k), 2)
            cols["distance"][rows] = np.where(rng.random(k) < 0.5, -cols["distance"][rows] - 0.5, far)
        elif code == "negative_amount":
            cols["payment"][rows] = rng.choice([1.0, 2.0], k)
            cols["flex"][rows] = False
            for name in ("fare", "extra", "mta", "tip", "improvement", "total"):
                cols[name][rows] = -np.abs(cols[name][rows])
        elif code == "unknown_location":
            bad = rng.choice([0, 266, 300], k)
            which = rng.random(k) < 0.5
            cols["pu"][rows] = np.where(which, bad, cols["pu"][rows])
            cols["do"][rows] = np.where(which, cols["do"][rows], bad)
        elif code == "duplicate_row":
            for row in rows:
                earlier = clean[clean < row]
                source = int(earlier[rng.integers(0, len(earlier))])
                for values in cols.values():
                    if isinstance(values, np.ndarray):
                        values[row] = values[source]


def _to_table(cols: dict[str, np.ndarray], service: str, year: int, fmt: str) -> pa.Table:
    """Column arrays -> a table in TLC's layout (names, dtypes, flex-fare nulls)."""
    layout = schema(service, year)
    prefix = "tpep" if service == "yellow" else "lpep"
    flex = cols["flex"]
    source = {
        "VendorID": cols["vendor"],
        f"{prefix}_pickup_datetime": cols["pickup"],
        f"{prefix}_dropoff_datetime": cols["dropoff"],
        "passenger_count": cols["passengers"],
        "trip_distance": cols["distance"],
        "RatecodeID": cols["rate"],
        "store_and_fwd_flag": cols["flag"],
        "PULocationID": cols["pu"],
        "DOLocationID": cols["do"],
        "payment_type": cols["payment"],
        "fare_amount": cols["fare"],
        "extra": cols["extra"],
        "mta_tax": cols["mta"],
        "tip_amount": cols["tip"],
        "tolls_amount": cols["tolls"],
        "improvement_surcharge": cols["improvement"],
        "total_amount": cols["total"],
        "congestion_surcharge": cols["congestion"],
        "Airport_fee": cols["airport"],
        "cbd_congestion_fee": cols["cbd"],
        "trip_type": cols["trip_type"],
    }
    nullable_on_flex = {
        "passenger_count",
        "RatecodeID",
        "store_and_fwd_flag",
        "congestion_surcharge",
        "Airport_fee",
    }
    arrays = []
    for field in layout:
        if field.name == "ehail_fee":
            arrays.append(pa.nulls(len(flex), field.type))
            continue
        mask = flex if field.name in nullable_on_flex else None
        values = source[field.name]
        if pa.types.is_integer(field.type):
            values = values.astype("int64")
        arrays.append(pa.array(values, type=field.type, mask=mask))
    table = pa.Table.from_arrays(arrays, schema=layout)
    if fmt != "parquet":
        table = csv_text(table, {"trip_distance": cols.get("distance_text", {})})
    return table
