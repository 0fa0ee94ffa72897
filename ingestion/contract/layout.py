"""Names and paths of the lake: raw file names, month names, side folders, the quarantine table, the
manifest record (the receipt), the load log, and the Iceberg tables (docs/data_contracts.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingestion.contract.datasets import DATASETS, PARTITION_COLUMNS, SERVICES, Column

# ---------- raw files

FORMATS: tuple[str, ...] = ("parquet", "csv", "csv.gz")
FILE_NAME_TEMPLATE = "{service}_tripdata_YYYY-MM.{format}"
# The whole name and nothing else: ASCII digits only ([0-9], not \d, which takes any script's digits)
# and \Z, not $ (which also matches before a trailing newline).
FILE_NAME = re.compile(
    r"\A(?P<service>"
    + "|".join(sorted(SERVICES, key=len, reverse=True))
    + r")_tripdata_(?P<year>[0-9]{4})-(?P<month>[0-9]{2})\.(?P<fmt>"
    + "|".join(re.escape(f) for f in sorted(FORMATS, key=len, reverse=True))
    + r")\Z"
)
FILE_NAME_HELP = "{" + "|".join(SERVICES) + "}_tripdata_YYYY-MM.{" + ",".join(FORMATS) + "}"
# The same without braces, for text a Step Functions States.Format reads (braces are its placeholders).
FILE_NAME_TEXT = "(" + "|".join(SERVICES) + ")_tripdata_YYYY-MM.(" + "|".join(FORMATS) + ")"


def raw_file_name(service: str, year: int, month: int, fmt: str) -> str:
    """The TLC file name of a dataset's month in a format (`FILE_NAME` parses it back)."""
    name = f"{service}_tripdata_{year:04d}-{month:02d}.{fmt}"
    assert FILE_NAME.match(name), name
    return name


def landing_key_patterns() -> list[str]:
    """Glob patterns (Step Functions `StringMatches`, EventBridge `wildcard`) of every raw file name."""
    return [f"{service}_tripdata_*-*.{fmt}" for service in SERVICES for fmt in FORMATS]


def landing_suffixes() -> list[str]:
    """The file-name endings an upload must have (EventBridge filters on them)."""
    return [f".{fmt}" for fmt in FORMATS]


# ---------- lake and quarantine paths

MANIFEST_DIR = "_manifests"
REJECTED_DIR = "_rejected_files"
STAGING_DIR = "_staging"


def table_name(service: str) -> str:
    return f"{service}_trips"


def partition_path(service: str, year: int, month: int) -> str:
    """``<service>_trips/year=YYYY/month=MM``: the same relative path in the lake and the quarantine."""
    return f"{table_name(service)}/year={year:04d}/month={month:02d}"


def partition_values(year: int, month: int) -> list[str]:
    """The Glue partition values of a month: the integers as text (`["2024", "1"]`), the form Spectrum
    compares with the `int` partition keys (the folder keeps its two-digit `month=01`)."""
    return [str(int(year)), str(int(month))]


# ---------- quarantine rows (one table for every dataset)

QUARANTINE_TABLE = "quarantined_trips"
QUARANTINE_COLUMNS: tuple[Column, ...] = (
    Column("trip_key", "string", "The row's trip_key (null when its values could not be read)."),
    Column("service", "string", "TLC dataset the file belongs to."),
    Column("pickup_at", "timestamp", "Pickup as read (null where unparseable)."),
    Column("dropoff_at", "timestamp", "Drop-off as read (null where unparseable or not reported)."),
    Column("pickup_location_id", "int", "Pickup zone as read or assigned (null where unparseable)."),
    Column("dropoff_location_id", "int", "Drop-off zone as read or assigned (null where unparseable)."),
    Column("source_file", "string", "Name of the TLC file the row came from."),
    Column("source_row", "bigint", "1-based position of the data row in source_file."),
    Column("reason_code", "string", "Why the row was rejected: a code of ingestion/RULES.md."),
    Column("reason", "string", "The rejection in words, with the offending values."),
    Column("raw_record", "string", "JSON of the original columns as read (CSV: the fields as text)."),
)

# ---------- the manifest: one JSON object, on one line, per ingested file


@dataclass(frozen=True)
class ManifestField:
    """A key of the manifest record and its JSON type."""

    name: str
    json_type: str  # string | integer | object | timestamp (ISO-8601 text, UTC, 'Z')
    description: str


MANIFEST_FIELDS: tuple[ManifestField, ...] = tuple(
    ManifestField(*row)
    for row in (
        ("source_file", "string", "The raw file's name (no folder)."),
        ("source_path", "string", "Where the raw file was read (path or s3:// URI)."),
        ("source_version", "string", "S3 object version read (null when unversioned or local)."),
        ("sha256", "string", "sha256 of the raw file's bytes, as read."),
        ("service", "string", "TLC dataset."),
        ("year", "integer", "Partition year (from the file name)."),
        ("month", "integer", "Partition month 1..12 (from the file name)."),
        ("rows_read", "integer", "Data rows in the file."),
        ("rows_accepted", "integer", "Rows committed to the lake table's month."),
        ("rows_quarantined", "integer", "Rows committed to the quarantine's month."),
        ("quarantined_by_reason", "object", "Quarantined rows per reason code (codes with rows only)."),
        (
            "warnings_by_code",
            "object",
            "Accepted rows carrying a code the reference tables lack, per `column=value` (kept, mapped to unknown).",
        ),
        ("delivered_at", "timestamp", "When the file was delivered: its S3 LastModified (local: its mtime)."),
        ("lake_table", "string", "The Iceberg table that holds the accepted rows."),
        ("lake_snapshot_id", "integer", "The snapshot of lake_table that committed the month."),
        ("quarantine_snapshot_id", "integer", "The snapshot of the quarantine that committed the month."),
        ("ingested_at", "timestamp", "When the month was committed (the load log's loaded_at)."),
    )
)
MANIFEST_KEYS: tuple[str, ...] = tuple(f.name for f in MANIFEST_FIELDS)


# ---------- the load log: what the warehouse knows of each loaded partition


@dataclass(frozen=True)
class LoadLogColumn:
    """A column of `partition_loads`: its type and the manifest key it comes from."""

    name: str
    type: str
    manifest_key: str
    description: str


LOAD_LOG_TABLE = "partition_loads"
LOAD_LOG_COLUMNS: tuple[LoadLogColumn, ...] = (
    LoadLogColumn("service", "string", "service", "TLC dataset."),
    LoadLogColumn("year", "int", "year", "Partition year."),
    LoadLogColumn("month", "int", "month", "Partition month 1..12."),
    LoadLogColumn("source_file", "string", "source_file", "TLC file the month holds."),
    LoadLogColumn("sha256", "string", "sha256", "sha256 of the source file."),
    LoadLogColumn("row_count", "bigint", "rows_accepted", "Accepted rows of the month."),
    LoadLogColumn("quarantined_count", "bigint", "rows_quarantined", "Quarantined rows of the file."),
    LoadLogColumn(
        "loaded_at",
        "string",
        "ingested_at",
        "When the month was committed (the lake: ISO-8601 UTC text) or loaded (Postgres: timestamptz).",
    ),
)


# What the lake's Iceberg load log holds beyond the warehouse's columns: where the rows came from and
# the snapshots that committed them (docs/iceberg_lake.md, "The load log").
LOAD_LOG_LAKE_COLUMNS: tuple[LoadLogColumn, ...] = (
    LoadLogColumn("source_version", "string", "source_version", "S3 object version read (null when local)."),
    LoadLogColumn("delivered_at", "string", "delivered_at", "When the file was delivered (S3 LastModified, or mtime)."),
    LoadLogColumn("rows_read", "bigint", "rows_read", "Data rows in the file."),
    LoadLogColumn("lake_snapshot_id", "bigint", "lake_snapshot_id", "Trip table snapshot that committed it."),
    LoadLogColumn(
        "quarantine_snapshot_id",
        "bigint",
        "quarantine_snapshot_id",
        "Quarantine snapshot that committed it.",
    ),
)


def lake_tables() -> list[tuple[str, tuple[Column, ...]]]:
    """(table, columns) of every lake table: one per dataset."""
    return [(d.table, d.columns) for d in DATASETS]


# ---------- the lake's Iceberg tables


@dataclass(frozen=True)
class IcebergTable:
    """One Iceberg table of the lake: its name, columns in order, the root it lives under
    (``<root>/<name>``) and its identity partition columns."""

    name: str
    columns: tuple[Column, ...]
    root: str  # "lake" | "quarantine"
    partitioned_by: tuple[str, ...]


MONTH_PARTITION: tuple[str, ...] = ("service", "year", "month")


def iceberg_tables() -> list[IcebergTable]:
    """Every table of the lake: one per dataset, the quarantine, the load log."""
    load_log = tuple(Column(c.name, c.type, c.description) for c in (*LOAD_LOG_COLUMNS, *LOAD_LOG_LAKE_COLUMNS))
    return [
        *(IcebergTable(d.table, (*d.columns, *PARTITION_COLUMNS), "lake", MONTH_PARTITION) for d in DATASETS),
        IcebergTable(QUARANTINE_TABLE, (*QUARANTINE_COLUMNS, *PARTITION_COLUMNS), "quarantine", MONTH_PARTITION),
        IcebergTable(LOAD_LOG_TABLE, load_log, "lake", ()),
    ]


def iceberg_table(name: str) -> IcebergTable:
    """The lake table called `name`."""
    return next(t for t in iceberg_tables() if t.name == name)
