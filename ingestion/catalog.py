"""Redshift Spectrum / Glue Data Catalog for the lake: DDL text and partition registration.

The catalog layout matches infra/modules/ingest/catalog.tf (which owns it in AWS):

* ``<db>.yellow_trips`` / ``<db>.green_trips``: the canonical columns, partitioned by
  ``year int, month int``, one partition per lake folder;
* ``<db>.quarantined_trips``: quarantine rows of both services, partitioned by
  ``service string, year int, month int`` (``service`` is a partition key there, so it is not
  repeated among the data columns).

`spectrum_ddl` renders the Redshift side (external schema + tables, for a fresh cluster or docs),
`partition_statements` turns manifests into batched ``ALTER TABLE ... ADD IF NOT EXISTS PARTITION``
statements, and `register_partitions` adds the same partitions through the Glue API
(``BatchCreatePartition``), tolerating partitions that already exist, so a rerun is harmless.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pyspark.sql.types import DataType, DecimalType, DoubleType, IntegerType, LongType, StringType, TimestampType

from ingestion import storage
from ingestion.schema import QUARANTINE_SCHEMA, SERVICES, TRIP_SCHEMA

QUARANTINE_TABLE = "quarantined_trips"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
BATCH_SIZE = 100  # BatchCreatePartition accepts at most 100 partitions per call
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,126}$")


def trip_table(service: str) -> str:
    """Catalog table of a service's accepted trips."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
    return f"{service}_trips"


def _identifier(name: str) -> str:
    """A schema/table/database name, refused unless it is a plain lower-case identifier."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a plain identifier (lower-case letters, digits, _)")
    return name


def _literal(text: str) -> str:
    """A single-quoted SQL string literal (quotes doubled, backslashes escaped for Redshift)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _hive_type(data_type: DataType) -> str:
    if isinstance(data_type, DecimalType):
        return f"decimal({data_type.precision},{data_type.scale})"
    return {
        StringType: "string",
        IntegerType: "int",
        LongType: "bigint",
        DoubleType: "double",
        TimestampType: "timestamp",
    }[type(data_type)]


def _redshift_type(data_type: DataType) -> str:
    hive = _hive_type(data_type)
    return {"string": "varchar(65535)", "double": "double precision"}.get(hive, hive)


def catalog_columns(table: str) -> list[dict[str, str]]:
    """Glue column list (name, Hive type) of a table, from the canonical schema."""
    if table == QUARANTINE_TABLE:
        fields = [f for f in QUARANTINE_SCHEMA.fields if f.name != "service"]
    else:
        fields = list(TRIP_SCHEMA.fields)
    return [{"Name": f.name, "Type": _hive_type(f.dataType)} for f in fields]


def partition_keys(table: str) -> list[dict[str, str]]:
    """Glue partition keys of a table."""
    keys = [{"Name": "year", "Type": "int"}, {"Name": "month", "Type": "int"}]
    return [{"Name": "service", "Type": "string"}, *keys] if table == QUARANTINE_TABLE else keys


def spectrum_ddl(
    glue_database: str, iam_role_arn: str, lake_root: str, quarantine_root: str, schema: str = "spectrum"
) -> list[str]:
    """Redshift statements: the external schema over the Glue database and its three tables."""
    schema, glue_database = _identifier(schema), _identifier(glue_database)
    statements = [
        f"create external schema if not exists {schema}\n"
        f"from data catalog database {_literal(glue_database)}\n"
        f"iam_role {_literal(iam_role_arn)}\n"
        "create external database if not exists"
    ]
    tables = [(trip_table(s), storage.join(lake_root, trip_table(s)) + "/") for s in SERVICES]
    tables.append((QUARANTINE_TABLE, quarantine_root.rstrip("/") + "/"))
    for table, location in tables:
        fields = QUARANTINE_SCHEMA.fields if table == QUARANTINE_TABLE else TRIP_SCHEMA.fields
        columns = ",\n".join(
            f"    {f.name} {_redshift_type(f.dataType)}"
            for f in fields
            if not (table == QUARANTINE_TABLE and f.name == "service")
        )
        keys = ", ".join(
            f"{k['Name']} {'varchar(16)' if k['Type'] == 'string' else k['Type']}" for k in partition_keys(table)
        )
        statements.append(
            f"create external table {schema}.{table} (\n{columns}\n)\n"
            f"partitioned by ({keys})\n"
            f"stored as parquet\n"
            f"location {_literal(location)}"
        )
    return statements


def _partitions_of(
    manifests: Iterable[Mapping[str, Any]], lake_root: str, quarantine_root: str
) -> dict[str, list[tuple[list[str], str]]]:
    """table -> [(partition values as text, location)], deduplicated, in manifest order."""
    found: dict[str, dict[tuple[str, ...], str]] = {}
    for manifest in manifests:
        if manifest.get("status") == "refused" or "lake_partition" not in manifest:
            continue
        service, year, month = manifest["service"], int(manifest["year"]), int(manifest["month"])
        lake_location = storage.join(lake_root, manifest["lake_partition"]) + "/"
        quarantine_location = storage.join(quarantine_root, manifest["quarantine_partition"]) + "/"
        found.setdefault(trip_table(service), {})[(str(year), str(month))] = lake_location
        found.setdefault(QUARANTINE_TABLE, {})[(service, str(year), str(month))] = quarantine_location
    return {table: [(list(values), loc) for values, loc in parts.items()] for table, parts in found.items()}


def partition_statements(
    manifests: Iterable[Mapping[str, Any]],
    lake_root: str,
    quarantine_root: str,
    schema: str = "spectrum",
    batch_size: int = BATCH_SIZE,
) -> list[str]:
    """Batched ``alter table <schema>.<table> add if not exists partition (...) location '...'``.

    One statement per table and batch of partitions; values and locations are quoted literals.
    """
    schema = _identifier(schema)
    statements = []
    for table, parts in _partitions_of(manifests, lake_root, quarantine_root).items():
        names = [key["Name"] for key in partition_keys(table)]
        for start in range(0, len(parts), batch_size):
            clauses = []
            for values, location in parts[start : start + batch_size]:
                assignments = ", ".join(
                    f"{name}={_literal(value) if name == 'service' else int(value)}"
                    for name, value in zip(names, values, strict=True)
                )
                clauses.append(f"partition ({assignments}) location {_literal(location)}")
            statements.append(f"alter table {schema}.{_identifier(table)} add if not exists\n" + "\n".join(clauses))
    return statements


def table_input(table: str, location: str) -> dict[str, Any]:
    """Glue ``TableInput`` for one of the three tables (what catalog.tf creates in AWS)."""
    return {
        "Name": table,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
        "PartitionKeys": partition_keys(table),
        "StorageDescriptor": {
            "Columns": catalog_columns(table),
            "Location": location,
            "InputFormat": PARQUET_INPUT,
            "OutputFormat": PARQUET_OUTPUT,
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE},
        },
    }


def ensure_catalog(glue: Any, database: str, lake_root: str, quarantine_root: str) -> None:
    """Create the database and tables if missing (local/test stand-in for catalog.tf)."""
    try:
        glue.create_database(DatabaseInput={"Name": _identifier(database)})
    except glue.exceptions.AlreadyExistsException:
        pass
    locations = {trip_table(s): storage.join(lake_root, trip_table(s)) + "/" for s in SERVICES}
    locations[QUARANTINE_TABLE] = quarantine_root.rstrip("/") + "/"
    for table, location in locations.items():
        try:
            glue.create_table(DatabaseName=database, TableInput=table_input(table, location))
        except glue.exceptions.AlreadyExistsException:
            pass


def register_partitions(
    glue: Any,
    database: str,
    manifests: Sequence[Mapping[str, Any]],
    lake_root: str,
    quarantine_root: str,
) -> dict[str, int]:
    """Add every manifest's lake and quarantine partition with ``BatchCreatePartition``.

    Idempotent: partitions that already exist (same location: a reload rewrites the folder in
    place) are counted as ``existing``; any other per-partition error raises RuntimeError.
    Returns ``{"created": n, "existing": n}``.
    """
    created = existing = 0
    for table, parts in _partitions_of(manifests, lake_root, quarantine_root).items():
        storage_template = {
            "Columns": catalog_columns(table),
            "InputFormat": PARQUET_INPUT,
            "OutputFormat": PARQUET_OUTPUT,
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE},
        }
        for start in range(0, len(parts), BATCH_SIZE):
            batch = parts[start : start + BATCH_SIZE]
            response = glue.batch_create_partition(
                DatabaseName=database,
                TableName=table,
                PartitionInputList=[
                    {"Values": values, "StorageDescriptor": {**storage_template, "Location": location}}
                    for values, location in batch
                ],
            )
            errors = response.get("Errors", [])
            already = [e for e in errors if e["ErrorDetail"]["ErrorCode"] == "AlreadyExistsException"]
            others = [e for e in errors if e not in already]
            if others:
                detail = "; ".join(
                    f"{table} {e['PartitionValues']}: {e['ErrorDetail']['ErrorCode']}"
                    f" {e['ErrorDetail'].get('ErrorMessage', '')}"
                    for e in others
                )
                raise RuntimeError(f"Glue BatchCreatePartition failed: {detail}")
            existing += len(already)
            created += len(batch) - len(errors)
    return {"created": created, "existing": existing}
