"""The lake's contract, stated once: datasets and their columns, code tables, names, paths, manifest.

Modules:
    types     logical column types and their spelling in Arrow, Hive (Glue/Spectrum), PostgreSQL
    codes     TLC code tables (known codes, names, 2009-2014 text spellings); the dbt seeds come from them
    datasets  the four datasets: canonical fields, raw column names per layout, what a file must carry
    layout    raw file names, partition paths, quarantine columns, manifest record, load log
    render    every committed copy (Terraform JSON, dbt sources, seeds, docs); `python -m ingestion.contract`
"""

from ingestion.contract.datasets import DATASETS, PARTITION_COLUMNS, SERVICES, Column, Dataset, Field, dataset
from ingestion.contract.layout import (
    FILE_NAME,
    FILE_NAME_HELP,
    FORMATS,
    LOAD_LOG_COLUMNS,
    LOAD_LOG_LAKE_COLUMNS,
    LOAD_LOG_TABLE,
    MANIFEST_DIR,
    MANIFEST_FIELDS,
    MANIFEST_KEYS,
    MONTH_PARTITION,
    QUARANTINE_COLUMNS,
    QUARANTINE_TABLE,
    REJECTED_DIR,
    STAGING_DIR,
    IcebergTable,
    iceberg_table,
    iceberg_tables,
    landing_key_patterns,
    landing_suffixes,
    partition_path,
    partition_values,
    raw_file_name,
    table_name,
)
from ingestion.contract.types import TYPES, LogicalType, logical_type

__all__ = [
    "DATASETS",
    "FILE_NAME",
    "FILE_NAME_HELP",
    "FORMATS",
    "LOAD_LOG_COLUMNS",
    "LOAD_LOG_LAKE_COLUMNS",
    "MONTH_PARTITION",
    "IcebergTable",
    "iceberg_table",
    "iceberg_tables",
    "LOAD_LOG_TABLE",
    "MANIFEST_DIR",
    "MANIFEST_FIELDS",
    "MANIFEST_KEYS",
    "PARTITION_COLUMNS",
    "QUARANTINE_COLUMNS",
    "QUARANTINE_TABLE",
    "REJECTED_DIR",
    "SERVICES",
    "STAGING_DIR",
    "TYPES",
    "Column",
    "Dataset",
    "Field",
    "LogicalType",
    "dataset",
    "landing_key_patterns",
    "landing_suffixes",
    "logical_type",
    "partition_path",
    "partition_values",
    "raw_file_name",
    "table_name",
]
