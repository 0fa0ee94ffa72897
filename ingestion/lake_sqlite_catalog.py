"""The local lake's Iceberg catalog: pyiceberg's SQL catalog layout on the standard library's `sqlite3`.

Why not pyiceberg's own `SqlCatalog`: it reaches SQLite through SQLAlchemy, whose import is about 0.2 s of
CPU in every cold ingest, spent while the Spark JVM starts on the same two cores (BENCHMARKS.md, "The
Iceberg lake's cost"). The tables (`iceberg_tables`, `iceberg_namespace_properties`) and their columns are
SqlCatalog's (schema v1), so a catalog either one wrote is read by the other. A commit is the same
optimistic swap: the row's metadata location changes only if it is still the one the commit started from,
otherwise `CommitFailedException` (retried by `lake_commit`). Views are not supported (the lake has none).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

from pyiceberg.catalog import Catalog, MetastoreCatalog, PropertiesUpdateSummary
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.io import load_file_io
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.serializers import FromInputFile
from pyiceberg.table import CommitTableResponse, Table, TableProperties
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import new_table_metadata
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER, SortOrder
from pyiceberg.typedef import EMPTY_DICT, Identifier, Properties

# SqlCatalog's tables, as its SQLAlchemy models create them on SQLite (schema v1: with `iceberg_type`).
DDL = (
    "CREATE TABLE IF NOT EXISTS iceberg_tables (catalog_name VARCHAR(255) NOT NULL, "
    "table_namespace VARCHAR(255) NOT NULL, table_name VARCHAR(255) NOT NULL, metadata_location VARCHAR(1000), "
    "previous_metadata_location VARCHAR(1000), iceberg_type VARCHAR(5), "
    "PRIMARY KEY (catalog_name, table_namespace, table_name))",
    "CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (catalog_name VARCHAR(255) NOT NULL, "
    "namespace VARCHAR(255) NOT NULL, property_key VARCHAR(255) NOT NULL, property_value VARCHAR(1000) NOT NULL, "
    "PRIMARY KEY (catalog_name, namespace, property_key))",
)
TABLE_TYPE = "TABLE"
# SqlCatalog's own step from schema v0 (an older pyiceberg's, without the type column) to v1.
ADD_TYPE = "ALTER TABLE iceberg_tables ADD COLUMN iceberg_type VARCHAR(5)"
# A writer holding the database (another run's commit) is waited for, not reported as an error.
BUSY_TIMEOUT_S = 30.0


class SqliteCatalog(MetastoreCatalog):
    """An Iceberg catalog in one SQLite file (``path``); table locations under ``warehouse``. Every query
    keeps to rows typed `TABLE` or untyped (schema v0's): other engines write views in the same table."""

    def __init__(self, name: str, path: str, warehouse: str):
        super().__init__(name, warehouse=warehouse)
        self.path = path
        with self._transaction() as con:
            for statement in DDL:
                con.execute(statement)
            if "iceberg_type" not in {row[1] for row in con.execute("PRAGMA table_info(iceberg_tables)")}:
                con.execute(ADD_TYPE)  # its rows stay NULL: tables, as v0 has no other kind

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One connection per call (the catalog is opened on one thread and used on another), committed
        when the block ends, rolled back when it raises."""
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)) as con, con:
            yield con

    @staticmethod
    def _names(identifier: str | Identifier) -> tuple[str, str]:
        namespace = Catalog.namespace_to_string(Catalog.namespace_from(identifier))
        return namespace, Catalog.table_name_from(identifier)

    def _metadata_location(self, namespace: str, table_name: str) -> str | None:
        with self._transaction() as con:
            row = con.execute(
                "SELECT metadata_location FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? "
                "AND table_name = ? AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)",
                (self.name, namespace, table_name),
            ).fetchone()
        return row[0] if row else None

    def _insert_table(self, namespace: str, table_name: str, metadata_location: str) -> None:
        try:
            with self._transaction() as con:
                con.execute(
                    "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, "
                    "previous_metadata_location, iceberg_type) VALUES (?, ?, ?, ?, NULL, ?)",
                    (self.name, namespace, table_name, metadata_location, TABLE_TYPE),
                )
        except sqlite3.IntegrityError as e:
            raise TableAlreadyExistsError(f"Table {namespace}.{table_name} already exists") from e

    # ---------- tables

    def create_table(
        self,
        identifier: str | Identifier,
        schema: Schema | Any,
        location: str | None = None,
        partition_spec: PartitionSpec = UNPARTITIONED_PARTITION_SPEC,
        sort_order: SortOrder = UNSORTED_SORT_ORDER,
        properties: Properties = EMPTY_DICT,
    ) -> Table:
        format_version = int(properties.get(TableProperties.FORMAT_VERSION, TableProperties.DEFAULT_FORMAT_VERSION))
        schema = self._convert_schema_if_needed(schema, format_version)  # type: ignore[arg-type]
        namespace, table_name = self._names(identifier)
        if not self.namespace_exists(namespace):
            raise NoSuchNamespaceError(f"Namespace does not exist: {namespace}")
        location = self._resolve_table_location(location, namespace, table_name)
        metadata_location = load_location_provider(location, properties).new_table_metadata_file_location()
        metadata = new_table_metadata(
            location=location,
            schema=schema,
            partition_spec=partition_spec,
            sort_order=sort_order,
            properties=properties,
        )
        self._write_metadata(metadata, load_file_io(self.properties, metadata_location), metadata_location)
        self._insert_table(namespace, table_name, metadata_location)
        return self.load_table(identifier)

    def register_table(self, identifier: str | Identifier, metadata_location: str, overwrite: bool = False) -> Table:
        namespace, table_name = self._names(identifier)
        if not self.namespace_exists(namespace):
            raise NoSuchNamespaceError(f"Namespace does not exist: {namespace}")
        if overwrite:
            with self._transaction() as con:
                con.execute(
                    "DELETE FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?",
                    (self.name, namespace, table_name),
                )
        self._insert_table(namespace, table_name, metadata_location)
        return self.load_table(identifier)

    def load_table(self, identifier: str | Identifier) -> Table:
        namespace, table_name = self._names(identifier)
        metadata_location = self._metadata_location(namespace, table_name)
        if not metadata_location:
            raise NoSuchTableError(f"Table does not exist: {namespace}.{table_name}")
        metadata = FromInputFile.table_metadata(
            load_file_io(self.properties, metadata_location).new_input(metadata_location)
        )
        return Table(
            identifier=Catalog.identifier_to_tuple(namespace) + (table_name,),
            metadata=metadata,
            metadata_location=metadata_location,
            io=self._load_file_io(metadata.properties, metadata_location),
            catalog=self,
        )

    def drop_table(self, identifier: str | Identifier) -> None:
        namespace, table_name = self._names(identifier)
        with self._transaction() as con:
            deleted = con.execute(
                "DELETE FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? "
                "AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)",
                (self.name, namespace, table_name),
            ).rowcount
        if deleted < 1:
            raise NoSuchTableError(f"Table does not exist: {namespace}.{table_name}")

    def rename_table(self, from_identifier: str | Identifier, to_identifier: str | Identifier) -> Table:
        from_namespace, from_name = self._names(from_identifier)
        to_namespace, to_name = self._names(to_identifier)
        if not self.namespace_exists(to_namespace):
            raise NoSuchNamespaceError(f"Namespace does not exist: {to_namespace}")
        try:
            with self._transaction() as con:
                renamed = con.execute(
                    "UPDATE iceberg_tables SET table_namespace = ?, table_name = ? WHERE catalog_name = ? "
                    "AND table_namespace = ? AND table_name = ? AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)",
                    (to_namespace, to_name, self.name, from_namespace, from_name),
                ).rowcount
        except sqlite3.IntegrityError as e:
            raise TableAlreadyExistsError(f"Table {to_namespace}.{to_name} already exists") from e
        if renamed < 1:
            raise NoSuchTableError(f"Table does not exist: {from_namespace}.{from_name}")
        return self.load_table(to_identifier)

    def commit_table(
        self, table: Table, requirements: tuple[Any, ...], updates: tuple[Any, ...]
    ) -> CommitTableResponse:
        namespace, table_name = self._names(table.name())
        try:
            current: Table | None = self.load_table(table.name())
        except NoSuchTableError:
            current = None
        staged = self._update_and_stage_table(current, table.name(), requirements, updates)
        if current and staged.metadata == current.metadata:
            return CommitTableResponse(metadata=current.metadata, metadata_location=current.metadata_location)
        self._write_metadata(staged.metadata, staged.io, staged.metadata_location)
        if current is None:
            self._insert_table(namespace, table_name, staged.metadata_location)
        else:
            with self._transaction() as con:
                swapped = con.execute(
                    "UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? "
                    "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? AND metadata_location = ?",
                    (
                        staged.metadata_location,
                        current.metadata_location,
                        self.name,
                        namespace,
                        table_name,
                        current.metadata_location,
                    ),
                ).rowcount
            if swapped < 1:
                raise CommitFailedException(f"Table has been updated by another process: {namespace}.{table_name}")
        return CommitTableResponse(metadata=staged.metadata, metadata_location=staged.metadata_location)

    def list_tables(self, namespace: str | Identifier) -> list[Identifier]:
        if namespace and not self.namespace_exists(namespace):
            raise NoSuchNamespaceError(f"Namespace does not exist: {namespace}")
        name = Catalog.namespace_to_string(namespace)
        with self._transaction() as con:
            rows = con.execute(
                "SELECT table_name FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? "
                "AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)",
                (self.name, name),
            ).fetchall()
        return [Catalog.identifier_to_tuple(name) + (row[0],) for row in rows]

    # ---------- namespaces

    def namespace_exists(self, identifier: str | Identifier) -> bool:
        name = Catalog.namespace_to_string(Catalog.identifier_to_tuple(identifier), NoSuchNamespaceError)
        below = name.replace("!", "!!").replace("_", "!_").replace("%", "!%") + ".%"  # its children
        with self._transaction() as con:
            return any(
                con.execute(query, (self.name, name, below)).fetchone()
                for query in (
                    "SELECT 1 FROM iceberg_tables WHERE catalog_name = ? "
                    "AND (table_namespace = ? OR table_namespace LIKE ? ESCAPE '!') LIMIT 1",
                    "SELECT 1 FROM iceberg_namespace_properties WHERE catalog_name = ? "
                    "AND (namespace = ? OR namespace LIKE ? ESCAPE '!') LIMIT 1",
                )
            )

    def create_namespace(self, namespace: str | Identifier, properties: Properties = EMPTY_DICT) -> None:
        if self.namespace_exists(namespace):
            raise NamespaceAlreadyExistsError(f"Namespace {namespace} already exists")
        name = Catalog.namespace_to_string(namespace, NoSuchNamespaceError)
        try:
            with self._transaction() as con:
                con.executemany(
                    "INSERT INTO iceberg_namespace_properties (catalog_name, namespace, property_key, property_value) "
                    "VALUES (?, ?, ?, ?)",
                    [(self.name, name, k, v) for k, v in (properties or {"exists": "true"}).items()],
                )
        except sqlite3.IntegrityError as e:  # created by another process since the check
            raise NamespaceAlreadyExistsError(f"Namespace {namespace} already exists") from e

    def drop_namespace(self, namespace: str | Identifier) -> None:
        if not self.namespace_exists(namespace):
            raise NoSuchNamespaceError(f"Namespace does not exist: {namespace}")
        name = Catalog.namespace_to_string(namespace)
        if tables := self.list_tables(namespace):
            raise NamespaceNotEmptyError(f"Namespace {name} is not empty. {len(tables)} tables exist.")
        with self._transaction() as con:
            con.execute(
                "DELETE FROM iceberg_namespace_properties WHERE catalog_name = ? AND namespace = ?", (self.name, name)
            )

    def list_namespaces(self, namespace: str | Identifier = ()) -> list[Identifier]:
        if namespace and not self.namespace_exists(namespace):
            raise NoSuchNamespaceError(f"Namespace does not exist: {namespace}")
        with self._transaction() as con:
            names = {
                row[0]
                for row in con.execute(
                    "SELECT table_namespace FROM iceberg_tables WHERE catalog_name = ? "
                    "UNION SELECT namespace FROM iceberg_namespace_properties WHERE catalog_name = ?",
                    (self.name, self.name),
                )
            }
        parent = Catalog.identifier_to_tuple(namespace)
        level = len(parent) + 1
        children = {Catalog.identifier_to_tuple(n)[:level] for n in names}
        return [c for c in children if len(c) == level and c[:-1] == parent]

    def load_namespace_properties(self, namespace: str | Identifier) -> Properties:
        name = Catalog.namespace_to_string(namespace)
        if not self.namespace_exists(namespace):
            raise NoSuchNamespaceError(f"Namespace {name} does not exist")
        with self._transaction() as con:
            rows = con.execute(
                "SELECT property_key, property_value FROM iceberg_namespace_properties "
                "WHERE catalog_name = ? AND namespace = ?",
                (self.name, name),
            ).fetchall()
        return dict(rows)

    def update_namespace_properties(
        self, namespace: str | Identifier, removals: set[str] | None = None, updates: Properties = EMPTY_DICT
    ) -> PropertiesUpdateSummary:
        name = Catalog.namespace_to_string(namespace)
        current = self.load_namespace_properties(namespace)
        summary = self._get_updated_props_and_update_summary(current, removals, updates)[0]
        with self._transaction() as con:
            for key in set(removals or ()) | set(updates):
                con.execute(
                    "DELETE FROM iceberg_namespace_properties WHERE catalog_name = ? AND namespace = ? "
                    "AND property_key = ?",
                    (self.name, name, key),
                )
            con.executemany(
                "INSERT INTO iceberg_namespace_properties (catalog_name, namespace, property_key, property_value) "
                "VALUES (?, ?, ?, ?)",
                [(self.name, name, k, v) for k, v in updates.items()],
            )
        return summary

    # ---------- views: the lake has none

    def list_views(self, namespace: str | Identifier) -> list[Identifier]:
        raise NotImplementedError

    def view_exists(self, identifier: str | Identifier) -> bool:
        raise NotImplementedError

    def load_view(self, identifier: str | Identifier) -> Any:
        raise NotImplementedError

    def register_view(self, identifier: str | Identifier, metadata_location: str) -> Any:
        raise NotImplementedError

    def drop_view(self, identifier: str | Identifier) -> None:
        raise NotImplementedError
