"""Where the lake's tables live and how their data files are written, from the contract alone: no
catalog, no pyiceberg (imported by the driver before the Spark tasks start, while the catalog is
opened beside them: `job._ingest_and_commit`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pyarrow as pa

from ingestion import storage
from ingestion.contract import Column, IcebergTable, iceberg_tables, logical_type

LOCAL_NAMESPACE = "lake"
LOCAL_CATALOG_FILE = "_catalog.sqlite"

Month = tuple[str, int, int]  # (service, year, month)


@dataclass(frozen=True)
class LakeRoots:
    """Where the lake lives: its two roots and its catalog (None: the SQLite file in the lake root)."""

    lake_root: str
    quarantine_root: str
    catalog: str | None = None

    @property
    def catalog_spec(self) -> str:
        if self.catalog:
            return self.catalog
        if storage.is_s3(self.lake_root):
            raise ValueError(f"{self.lake_root}: a lake on S3 needs a catalog (--catalog glue:<database>)")
        return f"sqlite:{os.path.abspath(storage.join(self.lake_root, LOCAL_CATALOG_FILE))}"

    @property
    def namespace(self) -> str:
        kind, _, value = self.catalog_spec.partition(":")
        return value if kind == "glue" else LOCAL_NAMESPACE

    def location(self, table: IcebergTable) -> str:
        """``<root>/<table>``: where the table's data and metadata folders live."""
        root = self.quarantine_root if table.root == "quarantine" else self.lake_root
        return uri(storage.join(root, table.name))


def uri(location: str) -> str:
    return location if storage.is_s3(location) else "file://" + os.path.abspath(location)


def arrow_field(column: Column, field_id: int) -> pa.Field:
    """A contract column as data files are written with it: its Arrow type and a field ID."""
    return pa.field(column.name, logical_type(column.type).arrow, metadata={"PARQUET:field_id": str(field_id)})


def expected_layout(roots: LakeRoots) -> dict[str, tuple[str, pa.Schema]]:
    """Each table's (location, write schema) as a table created from the contract has them: at
    ``roots.location``, field IDs 1..n in contract order (what the catalog assigns on create,
    `lake_tables.iceberg_schema`). The driver checks them against the catalog's before committing."""
    return {
        t.name: (roots.location(t), pa.schema(arrow_field(c, i) for i, c in enumerate(t.columns, start=1)))
        for t in iceberg_tables()
    }
