"""The local catalog on `sqlite3` (ingestion/lake_sqlite_catalog.py): the tables pyiceberg's SqlCatalog made
are its tables, a commit that lost a race is refused and changes nothing, and the catalog's own calls do
what pyiceberg's Catalog interface says."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField

from ingestion.lake_layout import uri
from ingestion.lake_sqlite_catalog import SqliteCatalog

SQLCATALOG_SCHEMA = Path(__file__).parents[1] / "fixtures" / "iceberg_sql_catalog" / "schema.sql"
SCHEMA = Schema(NestedField(1, "n", LongType(), required=False))


def table_columns(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as con:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: [tuple(r[1:]) for r in con.execute(f"PRAGMA table_info({t})")] for t in names}


def catalog(tmp_path: Path) -> SqliteCatalog:
    return SqliteCatalog("lake", path=str(tmp_path / "_catalog.sqlite"), warehouse=uri(str(tmp_path)))


def rows(table) -> list[int]:
    return sorted(table.scan().to_arrow()["n"].to_pylist())


def test_a_new_catalog_has_the_tables_and_columns_pyiceberg_sqlcatalog_creates(tmp_path):
    catalog(tmp_path)
    theirs = tmp_path / "theirs.sqlite"
    with sqlite3.connect(theirs) as con:
        con.executescript(SQLCATALOG_SCHEMA.read_text())
    assert table_columns(tmp_path / "_catalog.sqlite") == table_columns(theirs)


def test_a_catalog_sqlcatalog_created_is_opened_and_used_as_it_is(tmp_path):
    path = tmp_path / "_catalog.sqlite"
    with sqlite3.connect(path) as con:
        con.executescript(SQLCATALOG_SCHEMA.read_text())
        # what SqlCatalog wrote for an earlier run's namespace
        con.execute("INSERT INTO iceberg_namespace_properties VALUES ('lake', 'lake', 'exists', 'true')")
    before = table_columns(path)
    lake = catalog(tmp_path)
    with pytest.raises(NamespaceAlreadyExistsError):
        lake.create_namespace("lake")
    table = lake.create_table(("lake", "t"), SCHEMA)
    table.append(pa.table({"n": pa.array([1, 2], pa.int64())}))
    assert rows(catalog(tmp_path).load_table(("lake", "t"))) == [1, 2]
    assert table_columns(path) == before
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT iceberg_type FROM iceberg_tables").fetchall() == [("TABLE",)]


def test_a_catalog_of_schema_v0_gains_the_type_column_and_keeps_its_tables(tmp_path):
    path = tmp_path / "_catalog.sqlite"
    v0 = SQLCATALOG_SCHEMA.read_text().replace("iceberg_type VARCHAR(5),", "")
    assert v0 != SQLCATALOG_SCHEMA.read_text()
    with sqlite3.connect(path) as con:
        con.executescript(v0)
        con.execute("INSERT INTO iceberg_namespace_properties VALUES ('lake', 'lake', 'exists', 'true')")
    lake = catalog(tmp_path)
    lake.create_table(("lake", "t"), SCHEMA)
    with sqlite3.connect(path) as con:
        con.execute("UPDATE iceberg_tables SET iceberg_type = NULL")  # as a v0 writer left it
    assert lake.list_tables("lake") == [("lake", "t")]
    assert table_columns(path) == table_columns_of_a_new_catalog(tmp_path / "new")


def table_columns_of_a_new_catalog(folder: Path) -> dict[str, list[tuple]]:
    folder.mkdir()
    catalog(folder)
    return table_columns(folder / "_catalog.sqlite")


def test_a_commit_that_lost_the_race_is_refused_and_the_winner_stays(tmp_path):
    first, second = catalog(tmp_path), catalog(tmp_path)
    first.create_namespace("lake")
    first.create_table(("lake", "t"), SCHEMA, properties={"commit.retry.num-retries": "0"})  # as the lake's
    loser = first.load_table(("lake", "t"))
    write_metadata = first._write_metadata

    def another_process_commits_first(*args, **kwargs):
        # after the loser staged its metadata against the table it read, before it swaps the row
        second.load_table(("lake", "t")).append(pa.table({"n": pa.array([7], pa.int64())}))
        write_metadata(*args, **kwargs)

    first._write_metadata = another_process_commits_first
    with pytest.raises(CommitFailedException, match="updated by another process"):
        loser.append(pa.table({"n": pa.array([1], pa.int64())}))
    assert rows(catalog(tmp_path).load_table(("lake", "t"))) == [7]


def test_tables_and_namespaces_are_listed_renamed_and_dropped(tmp_path):
    lake = catalog(tmp_path)
    lake.create_namespace("lake", {"owner": "tlc"})
    lake.create_table(("lake", "a"), SCHEMA)
    with pytest.raises(TableAlreadyExistsError):
        lake.create_table(("lake", "a"), SCHEMA)
    lake.create_table(("lake", "b"), SCHEMA)
    assert sorted(lake.list_tables("lake")) == [("lake", "a"), ("lake", "b")]
    assert lake.list_namespaces() == [("lake",)]
    assert lake.load_namespace_properties("lake") == {"owner": "tlc"}
    lake.update_namespace_properties("lake", removals={"owner"}, updates={"team": "de"})
    assert lake.load_namespace_properties("lake") == {"team": "de"}
    lake.rename_table(("lake", "b"), ("lake", "c"))
    with pytest.raises(NoSuchTableError):
        lake.load_table(("lake", "b"))
    lake.drop_table(("lake", "a"))
    with pytest.raises(NoSuchTableError):
        lake.drop_table(("lake", "a"))
    with pytest.raises(NamespaceNotEmptyError):
        lake.drop_namespace("lake")
    lake.drop_table(("lake", "c"))
    lake.drop_namespace("lake")
    assert lake.list_namespaces() == []
