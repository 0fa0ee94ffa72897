"""What the ingestion tests share: clean rows and writers in TLC's layouts, the real TLC samples, and
`ingest`, which runs one file through the job's task and commit in this process (`job.ingest_inspected`,
no Spark) and reads back what it committed, by field ID, from the Iceberg tables' current metadata."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion import job, manifest, raw_files
from ingestion.contract import QUARANTINE_COLUMNS, QUARANTINE_TABLE, dataset, logical_type
from ingestion.results import INGESTED, FileResult
from ingestion.synthetic import tlc_schema

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "tlc_samples"
QUARANTINE_SCHEMA = pa.schema([pa.field(c.name, logical_type(c.type).arrow) for c in QUARANTINE_COLUMNS])


def lake_schema(service: str) -> pa.Schema:
    """A lake table's Parquet schema, spelled from the contract's columns and logical types."""
    return pa.schema([pa.field(c.name, logical_type(c.type).arrow) for c in dataset(service).columns])


BASE_PICKUP = dt.datetime(2024, 1, 10, 8, 0, 0)


def yellow_row(i: int = 0, **overrides) -> dict:
    """A valid 2024 yellow trip; `i` shifts the pickup by i minutes so rows never collide."""
    pickup = BASE_PICKUP + dt.timedelta(minutes=i)
    row = {
        "VendorID": 2,
        "tpep_pickup_datetime": pickup,
        "tpep_dropoff_datetime": pickup + dt.timedelta(minutes=12),
        "passenger_count": 1,
        "trip_distance": 2.5,
        "RatecodeID": 1,
        "store_and_fwd_flag": "N",
        "PULocationID": 161,
        "DOLocationID": 236,
        "payment_type": 1,
        "fare_amount": 14.2,
        "extra": 0.0,
        "mta_tax": 0.5,
        "tip_amount": 3.0,
        "tolls_amount": 0.0,
        "improvement_surcharge": 1.0,
        "total_amount": 21.2,
        "congestion_surcharge": 2.5,
        "Airport_fee": 0.0,
    }
    row.update(overrides)
    return row


def green_row(i: int = 0, **overrides) -> dict:
    """A valid 2024 green trip (lpep_* names, counts and codes as doubles like TLC's files)."""
    pickup = BASE_PICKUP + dt.timedelta(minutes=i)
    row = {
        "VendorID": 2,
        "lpep_pickup_datetime": pickup,
        "lpep_dropoff_datetime": pickup + dt.timedelta(minutes=9),
        "store_and_fwd_flag": "N",
        "RatecodeID": 1.0,
        "PULocationID": 74,
        "DOLocationID": 75,
        "passenger_count": 1.0,
        "trip_distance": 1.1,
        "fare_amount": 8.6,
        "extra": 0.0,
        "mta_tax": 0.5,
        "tip_amount": 2.0,
        "tolls_amount": 0.0,
        "ehail_fee": None,
        "improvement_surcharge": 1.0,
        "total_amount": 12.1,
        "payment_type": 1.0,
        "trip_type": 1.0,
        "congestion_surcharge": 0.0,
    }
    row.update(overrides)
    return row


# TLC's High Volume FHV Parquet layout (2024) and FHV Parquet layout (2024), with their dtypes.
FHVHV_SCHEMA = pa.schema(
    [
        ("hvfhs_license_num", pa.string()),
        ("dispatching_base_num", pa.string()),
        ("originating_base_num", pa.string()),
        ("request_datetime", pa.timestamp("us")),
        ("on_scene_datetime", pa.timestamp("us")),
        ("pickup_datetime", pa.timestamp("us")),
        ("dropoff_datetime", pa.timestamp("us")),
        ("PULocationID", pa.int32()),
        ("DOLocationID", pa.int32()),
        ("trip_miles", pa.float64()),
        ("trip_time", pa.int64()),
        ("base_passenger_fare", pa.float64()),
        ("tolls", pa.float64()),
        ("bcf", pa.float64()),
        ("sales_tax", pa.float64()),
        ("congestion_surcharge", pa.float64()),
        ("airport_fee", pa.float64()),
        ("tips", pa.float64()),
        ("driver_pay", pa.float64()),
        ("shared_request_flag", pa.string()),
        ("shared_match_flag", pa.string()),
        ("access_a_ride_flag", pa.string()),
        ("wav_request_flag", pa.string()),
        ("wav_match_flag", pa.string()),
    ]
)
FHV_SCHEMA = pa.schema(
    [
        ("dispatching_base_num", pa.string()),
        ("pickup_datetime", pa.timestamp("us")),
        ("dropOff_datetime", pa.timestamp("us")),
        ("PUlocationID", pa.float64()),
        ("DOlocationID", pa.float64()),
        ("SR_Flag", pa.int32()),
        ("Affiliated_base_number", pa.string()),
    ]
)


def fhvhv_row(i: int = 0, **overrides) -> dict:
    """A valid 2024 High Volume FHV trip (an Uber ride of 15 minutes)."""
    pickup = BASE_PICKUP + dt.timedelta(minutes=i)
    row = {
        "hvfhs_license_num": "HV0003",
        "dispatching_base_num": "B03404",
        "originating_base_num": "B03404",
        "request_datetime": pickup - dt.timedelta(minutes=4),
        "on_scene_datetime": pickup - dt.timedelta(minutes=1),
        "pickup_datetime": pickup,
        "dropoff_datetime": pickup + dt.timedelta(minutes=15),
        "PULocationID": 161,
        "DOLocationID": 236,
        "trip_miles": 3.1,
        "trip_time": 900,
        "base_passenger_fare": 18.5,
        "tolls": 0.0,
        "bcf": 0.5,
        "sales_tax": 1.64,
        "congestion_surcharge": 2.75,
        "airport_fee": 0.0,
        "tips": 3.0,
        "driver_pay": 14.2,
        "shared_request_flag": "N",
        "shared_match_flag": "N",
        "access_a_ride_flag": "N",
        "wav_request_flag": "N",
        "wav_match_flag": "N",
    }
    row.update(overrides)
    return row


def fhv_row(i: int = 0, **overrides) -> dict:
    """A valid 2024 FHV trip (a livery dispatch)."""
    pickup = BASE_PICKUP + dt.timedelta(minutes=i)
    row = {
        "dispatching_base_num": "B00111",
        "pickup_datetime": pickup,
        "dropOff_datetime": pickup + dt.timedelta(minutes=20),
        "PUlocationID": 161.0,
        "DOlocationID": 236.0,
        "SR_Flag": None,
        "Affiliated_base_number": "B00111",
    }
    row.update(overrides)
    return row


def write_parquet(path: Path, rows: Sequence[dict], schema: pa.Schema | None = None, **kwargs) -> Path:
    """Rows -> Parquet with TLC's 2024 yellow dtypes unless another schema is given."""
    schema = schema or tlc_schema("yellow", 2024)
    columns = {field.name: [row.get(field.name) for row in rows] for field in schema}
    table = pa.Table.from_pydict(columns, schema=schema)
    pq.write_table(table, path, **kwargs)
    return path


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence], newline: str = "\r\n") -> bytes:
    """A CSV as TLC exported them (no quoting needed for these values)."""
    lines = [",".join(header)] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    return (newline.join(lines) + newline).encode("utf-8")


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence], newline: str = "\r\n") -> Path:
    path.write_bytes(csv_bytes(header, rows, newline))
    return path


def write_csv_gz(path: Path, header: Sequence[str], rows: Sequence[Sequence], newline: str = "\r\n") -> Path:
    """The same CSV, gzip-compressed (the course mirrors' `yellow_tripdata_2019-01.csv.gz`)."""
    path.write_bytes(gzip.compress(csv_bytes(header, rows, newline), mtime=0))
    return path


def sample(name: str) -> Path:
    """A real TLC sample file (tests/fixtures/tlc_samples/)."""
    path = SAMPLES_DIR / name
    assert path.is_file(), f"missing fixture {path}"
    return path


# ---------- one file through the ingestion core, and what it wrote


def current_table(root: Path, table: str):
    """The table as its newest metadata file describes it (no catalog needed: runs are sequential here),
    or None when it was never created."""
    from pyiceberg.table import StaticTable

    files = sorted((Path(root) / table / "metadata").glob("*.metadata.json"))
    if not files:
        return None
    return StaticTable.from_metadata(str(max(files, key=lambda f: int(f.name.split("-", 1)[0]))))


def committed_months(table) -> set[tuple[str, int, int]]:
    """Every month some snapshot of the table replaced (its summary names the delivery)."""
    months = set()
    for snapshot in table.snapshots():
        for key in snapshot.summary.additional_properties if snapshot.summary else {}:
            if found := re.fullmatch(r"tlc\.delivery\.(\w+)-(\d{4})-(\d{2})", key):
                months.add((found[1], int(found[2]), int(found[3])))
    return months


def partition_table(root: Path, partition: str, schema: pa.Schema) -> pa.Table | None:
    """A month's rows in the lake or quarantine table under `root` (`partition`: the month's name,
    ``yellow_trips/year=2024/month=01``), read by field ID at the current snapshot, in the contract's
    columns and ordered by source_row; None when no commit ever replaced that month (an empty table:
    a month committed with no rows)."""
    service, year, month = re.fullmatch(r"(\w+)_trips/year=(\d{4})/month=(\d{2})", partition).groups()
    table_name = QUARANTINE_TABLE if (Path(root) / QUARANTINE_TABLE).is_dir() else f"{service}_trips"
    table = current_table(root, table_name)
    if table is None or (service, int(year), int(month)) not in committed_months(table):
        return None
    from pyiceberg.expressions import And, EqualTo

    month_filter = And(EqualTo("service", service), And(EqualTo("year", int(year)), EqualTo("month", int(month))))
    rows = table.scan(row_filter=month_filter).to_arrow()
    assert set(rows.column_names) == {*schema.names, "year", "month"}, f"{partition}: {rows.column_names}"
    assert set(rows["year"].to_pylist()) <= {int(year)} and set(rows["month"].to_pylist()) <= {int(month)}
    return rows.select(schema.names).cast(schema).sort_by("source_row")


@dataclass
class Ingested:
    """A file's FileResult and the partitions it published."""

    result: FileResult
    lake: Path
    quarantine: Path
    partition: str
    service: str

    @property
    def manifest(self) -> dict:
        assert self.result.status == INGESTED, self.result
        return self.result.manifest

    def accepted(self) -> pa.Table:
        return partition_table(self.lake, self.partition, lake_schema(self.service))

    def quarantined(self) -> pa.Table:
        return partition_table(self.quarantine, self.partition, QUARANTINE_SCHEMA)

    def rows(self) -> list[dict]:
        """The accepted rows, by source_row."""
        return self.accepted().to_pylist()

    def reasons(self) -> dict[int, str]:
        """source_row -> reason_code of every quarantined row."""
        table = self.quarantined()
        return dict(zip(table["source_row"].to_pylist(), table["reason_code"].to_pylist(), strict=True))

    def quarantined_row(self, source_row: int) -> dict:
        [row] = [r for r in self.quarantined().to_pylist() if r["source_row"] == source_row]
        row["raw_record"] = json.loads(row["raw_record"])
        return row


def ingest(path: Path, root: Path) -> Ingested:
    """Inspect and ingest one file into `root/lake` and `root/quarantine`. For an ingested file it also
    checks what every ingestion promises: the stored manifest is the result's, and its counts are the
    rows in the published Parquet footers (read = accepted + quarantined)."""
    lake_root, quarantine_root = Path(root) / "lake", Path(root) / "quarantine"
    inspection = raw_files.inspect_file(str(path))
    result = job.ingest_inspected(inspection, str(lake_root), str(quarantine_root))
    done = Ingested(result, lake_root, quarantine_root, inspection.raw.partition, inspection.raw.service)
    if result.status == INGESTED:
        stored = manifest.read_manifest(str(lake_root), inspection.raw.name)
        assert stored == result.manifest
        accepted = done.accepted().num_rows
        quarantined = done.quarantined().num_rows
        assert (stored["rows_accepted"], stored["rows_quarantined"]) == (accepted, quarantined)
        assert stored["rows_read"] == accepted + quarantined
        assert sum(stored["quarantined_by_reason"].values()) == quarantined
    return done
