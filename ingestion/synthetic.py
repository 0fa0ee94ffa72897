"""Realistic synthetic TLC trip files, in TLC's own layouts, with anomalies at known counts.

The files look like what TLC publishes (2024 Parquet column names and dtypes; 2025+ adds
``cbd_congestion_fee``; optionally the CSV layout): lognormal distances, fares from distance and
time on the 2024 meter rates, tips mostly on card payments, zones 1..265 with a skewed popularity,
pickups with morning and evening rush peaks, a few "flex fare" rows (payment_type 0) with the
nulls TLC leaves in them.

Anomalies are injected at exact counts per reason code of the dataset (ingestion.rules.rules_for),
each designed to trip that rule and no earlier one, plus a few clean trips carrying codes the
reference tables lack (VendorID 4, payment_type 9: kept, reported as warnings), and written beside
the file as ``<file>.expected.json``, so tests and the pipeline can assert exact counts.
Rows are generated and written in chunks (pyarrow ParquetWriter / CSVWriter), so a month of
millions of rows never sits in memory. Same arguments + seed -> byte-identical data.

    python -m ingestion.synthetic --out DIR --months 2024-01,2024-02 --rows 100000 \
        [--service yellow|green|both] [--seed N] [--bad-share 0.01] [--format parquet|csv]
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import sys
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ingestion.contract import dataset
from ingestion.rules import rules_for

# Codes the reference tables lack, planted on clean trips (kept, counted as warnings).
WARNING_CODES = (("vendor_id", "vendor", 4), ("payment_type", "payment", 9))

CHUNK_ROWS = 250_000

_YELLOW_FIELDS: list[tuple[str, pa.DataType]] = [
    ("VendorID", pa.int32()),
    ("tpep_pickup_datetime", pa.timestamp("us")),
    ("tpep_dropoff_datetime", pa.timestamp("us")),
    ("passenger_count", pa.int64()),
    ("trip_distance", pa.float64()),
    ("RatecodeID", pa.int64()),
    ("store_and_fwd_flag", pa.string()),
    ("PULocationID", pa.int32()),
    ("DOLocationID", pa.int32()),
    ("payment_type", pa.int64()),
    ("fare_amount", pa.float64()),
    ("extra", pa.float64()),
    ("mta_tax", pa.float64()),
    ("tip_amount", pa.float64()),
    ("tolls_amount", pa.float64()),
    ("improvement_surcharge", pa.float64()),
    ("total_amount", pa.float64()),
    ("congestion_surcharge", pa.float64()),
    ("Airport_fee", pa.float64()),
]
_GREEN_FIELDS: list[tuple[str, pa.DataType]] = [
    ("VendorID", pa.int32()),
    ("lpep_pickup_datetime", pa.timestamp("us")),
    ("lpep_dropoff_datetime", pa.timestamp("us")),
    ("store_and_fwd_flag", pa.string()),
    ("RatecodeID", pa.float64()),
    ("PULocationID", pa.int32()),
    ("DOLocationID", pa.int32()),
    ("passenger_count", pa.float64()),
    ("trip_distance", pa.float64()),
    ("fare_amount", pa.float64()),
    ("extra", pa.float64()),
    ("mta_tax", pa.float64()),
    ("tip_amount", pa.float64()),
    ("tolls_amount", pa.float64()),
    ("ehail_fee", pa.float64()),
    ("improvement_surcharge", pa.float64()),
    ("total_amount", pa.float64()),
    ("payment_type", pa.float64()),
    ("trip_type", pa.float64()),
    ("congestion_surcharge", pa.float64()),
]

# Relative pickup volume per hour of day: quiet nights, morning and evening rush peaks.
HOUR_WEIGHTS = np.array([3, 2, 1.5, 1, 1, 1.5, 3, 5, 6.5, 6, 5.5, 5.5, 6, 6, 6.5, 7, 7, 7.5, 8, 7.5, 6.5, 6, 5.5, 4.5])
AIRPORT_ZONES = (1, 132, 138)  # Newark, JFK, LaGuardia


def tlc_schema(service: str, year: int) -> pa.Schema:
    """The Parquet schema TLC publishes for `service` in `year` (2024 layout; 2025+ adds CBD)."""
    fields = list(_YELLOW_FIELDS if service == "yellow" else _GREEN_FIELDS)
    if year >= 2025:
        fields.append(("cbd_congestion_fee", pa.float64()))
    return pa.schema(fields)


def file_name(service: str, year: int, month: int, fmt: str = "parquet") -> str:
    """TLC's name for a month's file."""
    return f"{service}_tripdata_{year:04d}-{month:02d}.{fmt}"


def _zone_weights(rng: np.random.Generator) -> np.ndarray:
    popularity = 1.0 / np.arange(1, 266) ** 1.1  # a few very busy zones, a long tail
    weights = popularity[rng.permutation(265)]
    weights[[263, 264]] = weights.min()  # 264/265: unknown / outside NYC, rare
    return weights / weights.sum()


def _clean_chunk(
    rng: np.random.Generator, n: int, service: str, year: int, month: int, zones: np.ndarray
) -> dict[str, np.ndarray]:
    """`n` valid trips as column arrays (canonical-ish names; renamed when written)."""
    days = calendar.monthrange(year, month)[1]
    start = np.datetime64(f"{year:04d}-{month:02d}-01T00:00:00", "us")
    hour_p = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()
    seconds = rng.integers(0, days, n) * 86400 + rng.choice(24, n, p=hour_p) * 3600 + rng.integers(0, 3600, n)
    pickup = start + seconds.astype("timedelta64[s]")
    distance = np.round(np.clip(rng.lognormal(0.55, 0.85, n), 0.01, 80.0), 2)
    distance[rng.random(n) < 0.01] = 0.0
    mph = rng.uniform(7, 16, n)
    duration = np.clip(distance / mph * 3600 + rng.integers(60, 300, n), 60, 3 * 3600)
    dropoff = pickup + duration.astype("int64").astype("timedelta64[s]")

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
    hour = (seconds % 86400) // 3600
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
    candidates = np.setdiff1d(np.arange(1, n), positions)
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
    bad_mask = np.zeros(n, dtype=bool)
    bad_mask[positions] = True
    clean = np.flatnonzero(~bad_mask)
    month_start = np.datetime64(f"{year:04d}-{month:02d}-01T00:00:00", "us")
    cursor = 0
    for code in codes:
        rows = positions[cursor : cursor + plan.get(code, 0)]
        cursor += len(rows)
        if not len(rows):
            continue
        k = len(rows)
        if code == "unparseable":
            if fmt == "csv":
                cols["distance_text"] = cols.get("distance_text", {})
                for row in rows:
                    cols["distance_text"][int(row)] = "n/a"
            else:
                cols["fare"][rows] = 1.0e11  # does not fit decimal(12,2)
        elif code == "pickup_outside_file_month":
            shift = rng.integers(3600, 5 * 86400, k).astype("timedelta64[s]")
            length = cols["dropoff"][rows] - cols["pickup"][rows]
            cols["pickup"][rows] = month_start - shift
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
    schema = tlc_schema(service, year)
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
    for field in schema:
        if field.name == "ehail_fee":
            arrays.append(pa.nulls(len(flex), field.type))
            continue
        mask = flex if field.name in nullable_on_flex else None
        values = source[field.name]
        if pa.types.is_integer(field.type):
            values = values.astype("int64")
        arrays.append(pa.array(values, type=field.type, mask=mask))
    table = pa.Table.from_arrays(arrays, schema=schema)
    if fmt == "csv":
        table = _csv_strings(table, cols.get("distance_text", {}))
    return table


def _csv_strings(table: pa.Table, distance_text: dict[int, str]) -> pa.Table:
    """Every column as text, as TLC's CSVs have it (timestamps 'YYYY-MM-DD HH:MM:SS')."""
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            column = column.cast(pa.timestamp("s"))
        text = column.cast(pa.string())
        if field.name == "trip_distance" and distance_text:
            values = text.to_pylist()
            for row, value in distance_text.items():
                values[row] = value
            text = pa.array(values, pa.string())
        columns.append(text)
    return pa.Table.from_arrays(columns, names=table.schema.names)


def plan_anomalies(rows: int, bad_share: float, service: str = "yellow") -> dict[str, int]:
    """How many rows of each reason code a file of `rows` rows gets (sums to round(rows*share))."""
    codes = rules_for(dataset(service))
    bad = int(round(rows * bad_share))
    base, extra = divmod(bad, len(codes))
    return {code: base + (1 if i < extra else 0) for i, code in enumerate(codes)}


def plan_warnings(rows: int, bad_share: float) -> dict[str, int]:
    """Clean rows per column that carry an unknown code: a tenth of the anomalies, split evenly."""
    total = int(round(rows * bad_share / 10))
    base, extra = divmod(total, len(WARNING_CODES))
    return {column: base + (1 if i < extra else 0) for i, (column, _, _) in enumerate(WARNING_CODES)}


def _chunk_plans(plan: dict[str, int], rows: int, chunk_rows: int) -> list[tuple[int, dict]]:
    chunks = []
    done = 0
    for start in range(0, rows, chunk_rows):
        n = min(chunk_rows, rows - start)
        chunk = {code: total * (start + n) // rows - total * start // rows for code, total in plan.items()}
        chunks.append((n, chunk))
        done += n
    return chunks


def generate_month(
    out_dir: str | os.PathLike,
    service: str = "yellow",
    year: int = 2024,
    month: int = 1,
    rows: int = 10_000,
    seed: int = 42,
    bad_share: float = 0.01,
    fmt: str = "parquet",
    chunk_rows: int = CHUNK_ROWS,
    plan: dict[str, int] | None = None,
) -> dict:
    """Write one synthetic month and its ``.expected.json``; return the expectation.

    `plan` overrides the per-reason counts (default: `plan_anomalies(rows, bad_share)`).
    """
    if service not in ("yellow", "green") or fmt not in ("parquet", "csv"):
        raise ValueError(f"service must be yellow/green and fmt parquet/csv, got {service}/{fmt}")
    codes = rules_for(dataset(service))
    plan = {code: int(plan.get(code, 0)) for code in codes} if plan else plan_anomalies(rows, bad_share, service)
    warned = plan_warnings(rows, bad_share)
    if sum(plan.values()) + sum(warned.values()) >= rows:
        raise ValueError(f"{sum(plan.values())} anomalies do not fit in {rows} rows")
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    name = file_name(service, year, month, fmt)
    path = os.path.join(out_dir, name)
    rng = np.random.default_rng([seed, 0 if service == "yellow" else 1, year, month])
    zones = _zone_weights(np.random.default_rng(seed))
    writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
    tmp = path + ".partial"
    try:
        for (n, chunk_plan), (_, chunk_warned) in zip(
            _chunk_plans(plan, rows, chunk_rows), _chunk_plans(warned, rows, chunk_rows), strict=True
        ):
            cols = _clean_chunk(rng, n, service, year, month, zones)
            _inject(rng, cols, chunk_plan, fmt, year, month, codes, chunk_warned)
            table = _to_table(cols, service, year, fmt)
            if writer is None:
                writer = (
                    pq.ParquetWriter(tmp, table.schema)
                    if fmt == "parquet"
                    else pacsv.CSVWriter(tmp, table.schema, write_options=pacsv.WriteOptions(quoting_style="needed"))
                )
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    os.replace(tmp, path)
    quarantined = sum(plan.values())
    expected = {
        "source_file": name,
        "service": service,
        "year": year,
        "month": month,
        "format": fmt,
        "seed": seed,
        "rows": rows,
        "rows_accepted": rows - quarantined,
        "rows_quarantined": quarantined,
        "quarantined_by_reason": {code: n for code, n in plan.items() if n},
        "warnings_by_code": {
            f"{column}={value}": warned[column] for column, _, value in WARNING_CODES if warned.get(column)
        },
    }
    with open(path + ".expected.json", "w", encoding="utf-8") as handle:
        json.dump(expected, handle, indent=2)
        handle.write("\n")
    return expected


def generate(
    out_dir: str,
    months: Sequence[str],
    rows: int,
    services: Sequence[str] = ("yellow",),
    seed: int = 42,
    bad_share: float = 0.01,
    fmt: str = "parquet",
) -> list[dict]:
    """One file per service and month ('YYYY-MM'); returns the expectations in that order."""
    results = []
    for service in services:
        for text in months:
            year, month = (int(part) for part in text.strip().split("-"))
            results.append(generate_month(out_dir, service, year, month, rows, seed, bad_share, fmt))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """CLI; prints the expectations as JSON."""
    parser = argparse.ArgumentParser(prog="python -m ingestion.synthetic", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="directory for the files")
    parser.add_argument("--months", required=True, help="comma-separated YYYY-MM list")
    parser.add_argument("--rows", type=int, default=100_000, help="rows per file")
    parser.add_argument("--service", choices=["yellow", "green", "both"], default="yellow")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bad-share", type=float, default=0.01, help="share of anomalous rows")
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    args = parser.parse_args(argv)
    services = ("yellow", "green") if args.service == "both" else (args.service,)
    months = [m for m in args.months.split(",") if m.strip()]
    expected = generate(args.out, months, args.rows, services, args.seed, args.bad_share, args.format)
    print(json.dumps(expected, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
