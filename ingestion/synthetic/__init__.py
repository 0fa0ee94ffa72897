"""Realistic synthetic TLC trip files of the four datasets, in TLC's own layouts, with anomalies at known counts.

yellow and green (`taxi`), fhv (`fhv`) and fhvhv (`fhvhv`) months look like what TLC publishes today
in Parquet, or the same columns as CSV text (optionally gzip-compressed). Anomalies are planted at
exact counts per reason code of the dataset (ingestion.rules.rules_for), each designed to trip that
rule and no earlier one, plus a few clean trips carrying codes the reference tables lack (kept,
reported as warnings); both are written beside the file as ``<file>.expected.json``, so tests and the
pipeline can assert exact counts. Rows are generated and written in chunks, so a month of tens of
millions of rows never sits in memory. Same arguments + seed -> byte-identical files.

    python -m ingestion.synthetic --out DIR --months 2024-01,2024-02 --rows 100000 \
        [--service yellow|green|fhv|fhvhv|both|all] [--seed N] [--bad-share 0.01] \
        [--format parquet|csv|csv.gz]
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ingestion.contract import FORMATS, SERVICES, dataset
from ingestion.rules import rules_for
from ingestion.synthetic import fhv, fhvhv, taxi
from ingestion.synthetic.common import Chunk, chunk_plans, file_name, zone_weights
from ingestion.synthetic.taxi import WARNING_CODES

__all__ = [
    "CHUNK_ROWS",
    "WARNING_CODES",
    "file_name",
    "generate",
    "generate_month",
    "main",
    "plan_anomalies",
    "plan_warnings",
    "tlc_schema",
    "warning_codes",
]

CHUNK_ROWS = 250_000
_MODULES = {"yellow": taxi, "green": taxi, "fhv": fhv, "fhvhv": fhvhv}
_STREAM = {service: index for index, service in enumerate(("yellow", "green", "fhv", "fhvhv"))}
SERVICE_CHOICES = {**{s: (s,) for s in SERVICES}, "both": ("yellow", "green"), "all": SERVICES}


def tlc_schema(service: str, year: int, month: int = 1) -> pa.Schema:
    """The Parquet schema TLC publishes for `service` in that month."""
    return _MODULES[service].schema(service, year, month)


def warning_codes(service: str, year: int = 2024, month: int = 1) -> tuple[tuple[str, object], ...]:
    """(canonical field, unknown code) pairs the generator plants on clean trips of that month."""
    return _MODULES[service].warning_codes(service, year, month)


def plan_anomalies(rows: int, bad_share: float, service: str = "yellow") -> dict[str, int]:
    """How many rows of each reason code a file of `rows` rows gets (sums to round(rows*share))."""
    codes = rules_for(dataset(service))
    bad = int(round(rows * bad_share))
    base, extra = divmod(bad, len(codes))
    return {code: base + (1 if i < extra else 0) for i, code in enumerate(codes)}


def plan_warnings(
    rows: int, bad_share: float, service: str = "yellow", year: int = 2024, month: int = 1
) -> dict[str, int]:
    """Clean rows per field that carry an unknown code: a tenth of the anomalies, split evenly."""
    fields = [name for name, _ in warning_codes(service, year, month)]
    if not fields:
        return {}
    total = int(round(rows * bad_share / 10))
    base, extra = divmod(total, len(fields))
    return {name: base + (1 if i < extra else 0) for i, name in enumerate(fields)}


def _writer(path: str, schema: pa.Schema, fmt: str):
    """(writer, compressed stream to close after it or None)."""
    if fmt == "parquet":
        return pq.ParquetWriter(path, schema), None
    options = pacsv.WriteOptions(quoting_style="needed")
    if fmt == "csv":
        return pacsv.CSVWriter(path, schema, write_options=options), None
    stream = pa.CompressedOutputStream(path, "gzip")
    return pacsv.CSVWriter(stream, schema, write_options=options), stream


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

    `plan` overrides the per-reason counts (default: `plan_anomalies(rows, bad_share, service)`).
    """
    if service not in _MODULES or fmt not in FORMATS:
        raise ValueError(
            f"service must be one of {', '.join(_MODULES)} and fmt one of {', '.join(FORMATS)}, got {service}/{fmt}"
        )
    module = _MODULES[service]
    codes = rules_for(dataset(service))
    plan = {code: int(plan.get(code, 0)) for code in codes} if plan else plan_anomalies(rows, bad_share, service)
    warned = plan_warnings(rows, bad_share, service, year, month)
    if sum(plan.values()) + sum(warned.values()) >= rows:
        raise ValueError(f"{sum(plan.values())} anomalies do not fit in {rows} rows")
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    name = file_name(service, year, month, fmt)
    path = os.path.join(out_dir, name)
    rng = np.random.default_rng([seed, _STREAM[service], year, month])
    zones = zone_weights(np.random.default_rng(seed))
    writer = stream = written = None
    tmp = path + ".partial"
    # One chunk is written (Arrow, without the GIL) while the next one is generated: at most two in memory.
    with ThreadPoolExecutor(max_workers=1) as background:
        try:
            for (n, chunk_plan), (_, chunk_warned) in zip(
                chunk_plans(plan, rows, chunk_rows), chunk_plans(warned, rows, chunk_rows), strict=True
            ):
                spec = Chunk(n, service, year, month, zones, chunk_plan, chunk_warned, codes, fmt)
                table = module.chunk(rng, spec)
                if writer is None:
                    writer, stream = _writer(tmp, table.schema, fmt)
                if written is not None:
                    written.result()
                written = background.submit(writer.write_table, table)
            if written is not None:
                written.result()
        finally:
            if written is not None:
                wait([written])
            if writer is not None:
                writer.close()
            if stream is not None:
                stream.close()
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
            f"{field}={value}": warned[field]
            for field, value in warning_codes(service, year, month)
            if warned.get(field)
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
    parser.add_argument(
        "--service", choices=list(SERVICE_CHOICES), default="yellow", help="both: yellow and green; all: the four"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bad-share", type=float, default=0.01, help="share of anomalous rows")
    parser.add_argument("--format", choices=list(FORMATS), default="parquet")
    args = parser.parse_args(argv)
    months = [m for m in args.months.split(",") if m.strip()]
    services = SERVICE_CHOICES[args.service]
    expected = generate(args.out, months, args.rows, services, args.seed, args.bad_share, args.format)
    print(json.dumps(expected, indent=2))
    return 0
