"""The lake's Iceberg tables: the catalog that holds them, their creation from the contract, and what
each month holds now.

Catalog: the AWS Glue Data Catalog on AWS (``glue:<database>``), a SQLite catalog locally
(``sqlite:<path>``, `ingestion.lake_sqlite_catalog`; by default ``<lake root>/_catalog.sqlite``). Every
table is created here, from `ingestion.contract.iceberg_tables`, by the driver of the first run that needs
it: the same code on Glue and on a laptop (docs/iceberg_lake.md).

Imported by the driver only, and only when a run has something to commit or load: a rerun with
nothing new never imports pyiceberg.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import NestedField

from ingestion.contract import (
    LOAD_LOG_TABLE,
    MONTH_PARTITION,
    QUARANTINE_TABLE,
    IcebergTable,
    iceberg_table,
    iceberg_tables,
    logical_type,
)
from ingestion.lake_layout import LOCAL_NAMESPACE, LakeRoots, Month, arrow_field, uri
from ingestion.storage import local_path

# Table properties every lake table is created with. Snappy: what the job's writer uses (and Spectrum
# documents). Old metadata files go with each commit beyond the last 20, so a table's metadata folder
# stays small however often a month is replaced. No retries inside pyiceberg: a lost race is retried by
# `lake_commit`, which recomputes the month's files and checks for a newer delivery first (pyiceberg's
# own retry would re-apply the old plan).
TABLE_PROPERTIES = {
    "commit.retry.num-retries": "0",
    "format-version": "2",
    "write.format.default": "parquet",
    "write.parquet.compression-codec": "snappy",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
}

T = TypeVar("T")


def open_catalog(roots: LakeRoots) -> Catalog:
    """The catalog named by ``roots.catalog_spec``."""
    kind, _, value = roots.catalog_spec.partition(":")
    if kind == "sqlite":
        from ingestion.lake_sqlite_catalog import SqliteCatalog

        os.makedirs(os.path.dirname(value), exist_ok=True)
        return SqliteCatalog("lake", path=value, warehouse=uri(os.path.dirname(value)))
    if kind == "glue":
        from pyiceberg.catalog.glue import GlueCatalog

        return GlueCatalog("glue", **s3_properties())
    raise ValueError(f"unknown catalog {roots.catalog_spec!r}: expected sqlite:<path> or glue:<database>")


def s3_properties() -> dict[str, str]:
    """pyiceberg's S3 settings: the region and (tests, moto) the endpoint boto3 would use."""
    import boto3

    region = boto3.session.Session().region_name or "us-east-1"
    properties = {"s3.region": region, "glue.region": region, "client.region": region}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        properties["s3.endpoint"] = endpoint
    glue_endpoint = os.environ.get("AWS_ENDPOINT_URL_GLUE") or os.environ.get("AWS_ENDPOINT_URL")
    if glue_endpoint:
        properties["glue.endpoint"] = glue_endpoint
    return properties


# ---------- schemas from the contract


def iceberg_schema(table: IcebergTable) -> Schema:
    """The contract's columns as an Iceberg schema, field IDs 1..n in contract order (the catalog
    assigns its own on create: what files are written with is read back from the catalog)."""
    return Schema(
        *(
            NestedField(
                field_id=i, name=c.name, field_type=logical_type(c.type).iceberg, required=False, doc=c.description
            )
            for i, c in enumerate(table.columns, start=1)
        )
    )


def partition_spec(schema: Schema, table: IcebergTable) -> PartitionSpec:
    """Identity on each partition column: a month predicate on the columns prunes to its files."""
    return PartitionSpec(
        *(
            PartitionField(schema.find_field(name).field_id, 1000 + i, IdentityTransform(), name)
            for i, name in enumerate(table.partitioned_by)
        )
    )


def write_schema(table: Table) -> pa.Schema:
    """The Arrow schema data files are written with: the contract's Arrow types, the field IDs of the
    table as the catalog holds it (``PARQUET:field_id``)."""
    contract = iceberg_table(table.name()[-1])
    return pa.schema(arrow_field(c, table.schema().find_field(c.name).field_id) for c in contract.columns)


# ---------- creating and opening the tables


def ensure_tables(catalog: Catalog, roots: LakeRoots, names: Iterable[str] | None = None) -> dict[str, Table]:
    """Every lake table (or those named), created from the contract where missing; an existing table
    whose columns differ from the contract's stops the run here, naming the difference."""
    wanted = [t for t in iceberg_tables() if names is None or t.name in set(names)]
    if roots.namespace == LOCAL_NAMESPACE:
        try:
            catalog.create_namespace(LOCAL_NAMESPACE)
        except NamespaceAlreadyExistsError:
            pass
    tables = {}
    for spec in wanted:
        identifier = (roots.namespace, spec.name)
        try:
            table = catalog.load_table(identifier)
        except NoSuchTableError:
            schema = iceberg_schema(spec)
            try:
                table = catalog.create_table(
                    identifier,
                    schema,
                    location=roots.location(spec),
                    partition_spec=partition_spec(schema, spec),
                    properties=TABLE_PROPERTIES,
                )
            except TableAlreadyExistsError:  # another run created it first
                table = catalog.load_table(identifier)
        _check_columns(table, spec)
        if _drifted(table):  # a table made before a property was added (or changed by hand): the commit relies on them
            table = retry_on_conflict(lambda identifier=identifier: _set_properties(catalog.load_table(identifier)))
        tables[spec.name] = table
    return tables


def _drifted(table: Table) -> dict[str, str]:
    return {k: v for k, v in TABLE_PROPERTIES.items() if table.properties.get(k) != v}


def _set_properties(table: Table) -> Table:
    """The table with TABLE_PROPERTIES set (a concurrent writer, e.g. Glue's statistics task, may have
    committed since it was loaded: retry_on_conflict loads it again)."""
    drifted = _drifted(table)
    if drifted:
        with table.transaction() as tx:
            tx.set_properties(**drifted)
    return table


COMMIT_ATTEMPTS = 8


def retry_on_conflict(commit: Callable[[], T], attempts: int = COMMIT_ATTEMPTS) -> T:
    """`commit()` again after a lost race (CommitFailedException: another writer committed first), with
    jittered exponential backoff; the last attempt's failure is raised. `commit` reloads what it needs."""
    for attempt in range(attempts):
        try:
            return commit()
        except CommitFailedException:
            if attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0.05, 0.2) * 2**attempt)
    raise AssertionError("unreachable")


def snapshot_id(table: Table) -> int | None:
    """The table's current snapshot id (None: nothing committed yet)."""
    current = table.current_snapshot()
    return current.snapshot_id if current else None


def _check_columns(table: Table, spec: IcebergTable) -> None:
    have = [(f.name, str(f.field_type)) for f in table.schema().fields]
    want = [(c.name, str(NestedField(1, c.name, logical_type(c.type).iceberg).field_type)) for c in spec.columns]
    if have != want:
        missing = [name for name, _ in want if name not in dict(have)]
        other = [f"{name} {kind}" for name, kind in have if (name, kind) not in want]
        raise RuntimeError(
            f"lake table {spec.name} does not match ingestion/contract/: missing {missing or 'nothing'},"
            f" different or extra {other or 'nothing'}; nothing was written"
        )


# ---------- what each month holds now


@dataclass(frozen=True)
class MonthState:
    """A month as the lake holds it at pinned snapshots: the snapshot that last wrote its trips and its
    quarantine (None: no rows there) and the rows of each."""

    service: str
    year: int
    month: int
    lake_snapshot_id: int | None
    quarantine_snapshot_id: int | None
    lake_rows: int
    quarantine_rows: int

    @property
    def version(self) -> str:
        """What the warehouse records to tell whether the month changed since it was loaded."""
        return f"{self.lake_snapshot_id or '-'}/{self.quarantine_snapshot_id or '-'}"


@dataclass
class _MonthFiles:
    """A month of one table at a snapshot: the snapshot that added its files, its rows, the files."""

    added: int = 0
    rows: int = 0
    files: list[str] = field(default_factory=list)


def _months(table: Table, snapshot_id: int | None) -> dict[Month, _MonthFiles]:
    """Every month of the table at `snapshot_id`, from one read of its manifest entries, whose snapshot
    id survives the expiry of that snapshot (the partitions metadata table's `last_updated_snapshot_id`
    becomes null then). A month's files are all added by one commit, so the largest id is that commit's.
    """
    if snapshot_id is None:
        return {}
    found: dict[Month, _MonthFiles] = {}
    for manifest in table.snapshot_by_id(snapshot_id).manifests(table.io):
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            month = found.setdefault(tuple(entry.data_file.partition), _MonthFiles())
            month.added = max(month.added, entry.snapshot_id)
            month.rows += entry.data_file.record_count
            month.files.append(local_path(entry.data_file.file_path))
    return found


@dataclass
class PinnedLake:
    """Every lake table at the snapshot current when it was pinned: all reads of one load or one
    reconciliation see the same lake, whatever commits meanwhile. Each table's manifests are read once."""

    tables: dict[str, Table]
    snapshots: dict[str, int | None]
    _read: dict[str, dict[Month, _MonthFiles]] = field(default_factory=dict)

    @classmethod
    def pin(cls, catalog: Catalog, roots: LakeRoots) -> PinnedLake:
        tables = ensure_tables(catalog, roots)
        return cls(tables, {name: snapshot_id(t) for name, t in tables.items()})

    def _table_months(self, name: str) -> dict[Month, _MonthFiles]:
        if name not in self._read:
            self._read[name] = _months(self.tables[name], self.snapshots[name])
        return self._read[name]

    def months(self) -> dict[Month, MonthState]:
        """Every month that has rows in a trip table or the quarantine."""
        quarantine = self._table_months(QUARANTINE_TABLE)
        trips: dict[Month, _MonthFiles] = {}
        for spec in iceberg_tables():
            if spec.root == "lake" and spec.partitioned_by == MONTH_PARTITION:
                trips.update(self._table_months(spec.name))
        out = {}
        for key in sorted(set(trips) | set(quarantine)):
            lake, kept = trips.get(key), quarantine.get(key)
            out[key] = MonthState(
                *key,
                lake.added if lake else None,
                kept.added if kept else None,
                lake.rows if lake else 0,
                kept.rows if kept else 0,
            )
        return out

    def data_files(self, table_name: str, month: Month) -> list[str]:
        """The data files that hold a month of a table at the pinned snapshot (local paths or URIs)."""
        found = self._table_months(table_name).get(month)
        return sorted(found.files) if found else []

    def load_log(self) -> list[dict[str, Any]]:
        """Every row of the load log at the pinned snapshot."""
        snapshot = self.snapshots[LOAD_LOG_TABLE]
        if snapshot is None:
            return []
        return self.tables[LOAD_LOG_TABLE].scan(snapshot_id=snapshot).to_arrow().to_pylist()

    def described_months(self) -> dict[Month, tuple[MonthState, dict[str, Any] | None]]:
        """Every month with the load-log row that describes it (`load_log_entry`; None: no row does)."""
        rows = self.load_log()
        return {key: (state, load_log_entry(rows, state)) for key, state in self.months().items()}


def load_log_entry(rows: list[dict[str, Any]], state: MonthState) -> dict[str, Any] | None:
    """The load-log row that describes what a month holds now: the one whose snapshots are the month's
    (the latest such row if a crash between the two commits made two); None when no row matches (a
    commit whose load-log row never landed).

    Two runs of the same file at once (a duplicate event, a job started by hand) can interleave their
    two commits, leaving one run's trips beside the other's quarantine: no row names that pair, yet
    both rows are of the same delivery (sha256), so the month is whole: the trips' row describes it."""
    month = [
        row for row in rows if (row["service"], row["year"], row["month"]) == (state.service, state.year, state.month)
    ]
    trips = [r for r in month if state.lake_snapshot_id is None or r["lake_snapshot_id"] == state.lake_snapshot_id]
    kept = [
        r
        for r in month
        if state.quarantine_snapshot_id is None or r["quarantine_snapshot_id"] == state.quarantine_snapshot_id
    ]
    matching = [r for r in trips if r in kept]
    if not matching and trips and kept:
        deliveries = {r["sha256"] for r in trips} & {r["sha256"] for r in kept}
        matching = [r for r in trips if r["sha256"] in deliveries]
    return max(matching, key=lambda row: row["loaded_at"]) if matching else None
