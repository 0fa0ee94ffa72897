"""The lake's Iceberg tables and the driver's commit, on the local SQLite catalog and on moto's Glue
with S3 on a moto server: tables from the contract, field IDs checked before a commit, a month replaced
while a reader scans it, a kill -9 inside the commit, concurrent commits, upkeep and relocation."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.expressions import And, EqualTo
from pyiceberg.types import DoubleType

from ingestion import lake, lake_commit, lake_layout, lake_maintenance, lake_tables
from ingestion.contract import LOAD_LOG_TABLE, QUARANTINE_TABLE, iceberg_table, logical_type
from ingestion.lake_relocate import relocate
from tests.ingestion.moto_lake import CATALOG, moto_lake

REPO_ROOT = Path(__file__).resolve().parents[2]
MONTH = ("yellow", 2024, 1)
TABLE = "yellow_trips"


def _roots(tmp_path: Path) -> lake_tables.LakeRoots:
    return lake_tables.LakeRoots(str(tmp_path / "lake"), str(tmp_path / "quarantine"))


def _tables(roots: lake_tables.LakeRoots) -> dict:
    return lake_tables.ensure_tables(lake_tables.open_catalog(roots), roots)


def _rows(table, n: int, tag: str, month=MONTH) -> pa.Table:
    """`n` rows of the table's contract columns: the text columns say `tag`, the rest is null."""
    schema = lake_tables.write_schema(table)
    service, year, month_ = month
    columns = {}
    for field in schema:
        if field.name == "service":
            columns[field.name] = pa.array([service] * n, field.type)
        elif field.name in ("year", "month"):
            columns[field.name] = pa.array([year if field.name == "year" else month_] * n, field.type)
        elif field.name == "source_row":
            columns[field.name] = pa.array(range(1, n + 1), field.type)
        elif pa.types.is_string(field.type):
            columns[field.name] = pa.array([tag] * n, field.type)
        else:
            columns[field.name] = pa.nulls(n, field.type)
    return pa.Table.from_pydict(columns, schema=schema)


def _write(table, n: int, tag: str, month=MONTH) -> list[str]:
    writer = lake.Target(table.name()[-1], table.location(), lake_tables.write_schema(table)).writer(*month)
    writer.write(_rows(table, n, tag, month))
    return writer.close()


def _replace(table, files: list[str], tag: str, delivered_at: str, base=None, month=MONTH):
    entries = [lake_commit.data_file(table, path) for path in files]
    delivery = lake_commit.Delivery(tag, tag, delivered_at)
    return lake_commit.replace_months(table, base, {month: (delivery, entries)}, "test")


def _read(table, month=MONTH) -> pa.Table:
    service, year, month_ = month
    where = And(EqualTo("service", service), And(EqualTo("year", year), EqualTo("month", month_)))
    return table.refresh().scan(row_filter=where).to_arrow()


# ---------- the tables, from the contract


def test_every_table_is_created_from_the_contract_partitioned_by_month(tmp_path):
    tables = _tables(_roots(tmp_path))
    expected = lake_layout.expected_layout(_roots(tmp_path))  # what the tasks write with before the catalog opens
    for name, table in tables.items():
        location, schema = expected[name]
        assert location == table.location()
        assert schema.equals(lake_tables.write_schema(table), check_metadata=True)
        contract = iceberg_table(name)
        assert [f.name for f in table.schema().fields] == [c.name for c in contract.columns]
        for field, column in zip(table.schema().fields, contract.columns, strict=True):
            assert str(field.field_type) == str(lake_tables.iceberg_schema(contract).find_field(column.name).field_type)
        assert [f.name for f in table.spec().fields] == list(contract.partitioned_by)
        assert all(str(f.transform) == "identity" for f in table.spec().fields)
        assert table.metadata.format_version == 2 and table.properties["commit.retry.num-retries"] == "0"
        assert lake_tables.local_path(table.location()) == str(tmp_path / contract.root / name)
    assert set(tables) == {t.name for t in lake_tables.iceberg_tables()}
    assert [f.name for f in tables[LOAD_LOG_TABLE].spec().fields] == []


def test_a_table_that_drifted_from_the_contract_stops_the_run(tmp_path):
    roots = _roots(tmp_path)
    catalog = lake_tables.open_catalog(roots)
    table = _tables(roots)[TABLE]
    with table.update_schema() as update:
        update.add_column("surprise_fee", DoubleType())
    with pytest.raises(RuntimeError, match=r"yellow_trips does not match ingestion/contract/.*surprise_fee double"):
        lake_tables.ensure_tables(catalog, roots)


def test_a_table_property_changed_by_hand_is_set_again_even_when_another_commit_races(tmp_path, monkeypatch):
    """The commit relies on commit.retry.num-retries=0 (our retry re-checks the delivery rules). Glue's
    statistics task commits to the tables too: a repair that loses that race is retried."""
    roots = _roots(tmp_path)
    catalog = lake_tables.open_catalog(roots)
    table = _tables(roots)[TABLE]
    with table.transaction() as tx:
        tx.set_properties(**{"commit.retry.num-retries": "4"})
    real = lake_tables._set_properties
    lost = []

    def losing_once(t):
        if not lost:
            lost.append(t)
            raise lake_tables.CommitFailedException("another writer committed first")
        return real(t)

    monkeypatch.setattr(lake_tables, "_set_properties", losing_once)
    repaired = lake_tables.ensure_tables(catalog, roots)[TABLE]
    assert len(lost) == 1
    assert repaired.properties["commit.retry.num-retries"] == "0"
    assert catalog.load_table(table.name()).properties["commit.retry.num-retries"] == "0"


# ---------- field IDs


def test_data_files_carry_the_catalogs_field_ids_and_read_back_by_id(tmp_path):
    table = _tables(_roots(tmp_path))[TABLE]
    files = _write(table, 3, "a")
    footer = pq.read_schema(lake_tables.local_path(files[0]))
    assert {f.name: int(f.metadata[b"PARQUET:field_id"]) for f in footer} == {
        f.name: f.field_id for f in table.schema().fields
    }
    _replace(table, files, "a", "2024-02-01T00:00:00Z")
    assert _read(table)["source_file"].to_pylist() == ["a"] * 3


def test_a_file_with_other_field_ids_is_refused_before_the_commit(tmp_path):
    """Iceberg reads a column by its ID: a file whose IDs are swapped would read back swapped or NULL.
    The driver's footer check names the columns and nothing is committed."""
    table = _tables(_roots(tmp_path))[TABLE]
    schema = lake_tables.write_schema(table)
    ids = {f.name: f.metadata[b"PARQUET:field_id"] for f in schema}
    swap = {"source_file": "trip_key", "trip_key": "source_file"}
    swapped = pa.schema(f.with_metadata({b"PARQUET:field_id": ids[swap.get(f.name, f.name)]}) for f in schema)
    path = str(tmp_path / "swapped.parquet")
    pq.write_table(_rows(table, 2, "x").cast(swapped), path)
    with pytest.raises(RuntimeError, match=r"not committed to yellow_trips: trip_key has field ID \d+, the table \d+"):
        lake_commit.data_file(table, "file://" + path)
    assert table.refresh().current_snapshot() is None


def test_a_file_missing_a_column_or_with_another_type_is_refused(tmp_path):
    table = _tables(_roots(tmp_path))[TABLE]
    schema = lake_tables.write_schema(table)
    rows = _rows(table, 1, "x")
    path = str(tmp_path / "short.parquet")
    pq.write_table(rows.drop(["fare_amount"]), path)
    with pytest.raises(RuntimeError, match="fare_amount is missing"):
        lake_commit.data_file(table, path)
    index = schema.get_field_index("source_row")
    retyped = schema.set(index, pa.field("source_row", pa.int32(), metadata=schema.field(index).metadata))
    pq.write_table(rows.cast(retyped), path)
    with pytest.raises(RuntimeError, match="source_row is int32, the contract says int64"):
        lake_commit.data_file(table, path)


def test_a_file_of_another_month_or_with_a_column_twice_is_refused(tmp_path):
    """The commit drops the old files of the file's month only: rows of another month would sit beside
    that month's old rows. A column twice is ambiguous to every reader."""
    table = _tables(_roots(tmp_path))[TABLE]
    other = (MONTH[0], MONTH[1], MONTH[2] % 12 + 1)
    [path] = _write(table, 2, "x", month=other)
    with pytest.raises(RuntimeError, match=rf"its rows are of \('yellow', {other[1]}, {other[2]}\), the file's month"):
        lake_commit.data_file(table, path, MONTH)
    assert lake_commit.data_file(table, path, other).record_count == 2
    rows = _rows(table, 1, "x")
    twice = pa.Table.from_arrays(
        [*rows.columns, rows["trip_key"]], schema=rows.schema.append(rows.schema.field("trip_key"))
    )
    local = str(tmp_path / "twice.parquet")
    pq.write_table(twice, local)
    with pytest.raises(RuntimeError, match="trip_key appears twice"):
        lake_commit.data_file(table, local)


# ---------- replacing a month while it is read


def _reader_table(roots):
    return lake_tables.open_catalog(roots).load_table((roots.namespace, TABLE))


def test_a_reader_sees_the_old_or_the_new_month_whole_across_50_replacements(tmp_path):
    roots = _roots(tmp_path)
    table = _tables(roots)[TABLE]
    versions = {"old": _write(table, 40, "old"), "new": _write(table, 25, "new")}
    _replace(table, versions["old"], "old", "2024-02-01T00:00:00Z")
    reader = _reader_table(roots)
    seen = _replace_while_reading_with(reader, table, versions, 50)
    assert len(seen) > 50, "the reader did not keep up with the writer"
    assert {result for result in seen} == {(40, frozenset({"old"})), (25, frozenset({"new"}))}
    # 51 commits, and the current snapshot still reads two manifests: the live file's and its own deletes
    # (pyiceberg alone would carry one more for every earlier replacement: lake_commit._ReplaceMonths)
    assert len(table.refresh().current_snapshot().manifests(table.io)) == 2


def _replace_while_reading_with(reader_table, writer_table, versions, rounds):
    seen: list[tuple[int, frozenset]] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                rows = _read(reader_table)
                seen.append((rows.num_rows, frozenset(rows["source_file"].to_pylist())))
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
                return

    thread = threading.Thread(target=read)
    thread.start()
    tags = list(versions)
    try:
        for i in range(rounds):
            tag = tags[(i + 1) % len(tags)]
            _replace(writer_table, versions[tag], tag, f"2024-02-01T00:{i // 60:02d}:{i % 60:02d}Z")
    finally:
        done.set()
        thread.join()
    assert not failures, failures
    return seen


def test_on_s3_with_the_glue_catalog_a_reader_sees_the_old_or_the_new_month_whole(monkeypatch):
    with moto_lake(monkeypatch, ["tlc-lake"]):
        roots = lake_tables.LakeRoots("s3://tlc-lake/lake", "s3://tlc-lake/quarantine", CATALOG)
        table = _tables(roots)[TABLE]
        versions = {"old": _write(table, 40, "old"), "new": _write(table, 25, "new")}
        _replace(table, versions["old"], "old", "2024-02-01T00:00:00Z")
        seen = _replace_while_reading_with(_reader_table(roots), table, versions, 50)
    assert len(seen) > 10
    assert {result for result in seen} == {(40, frozenset({"old"})), (25, frozenset({"new"}))}


_KILLABLE = """
import sys
from ingestion import lake_commit, lake_tables
from tests.ingestion.test_lake_commit import TABLE, _replace, _write

roots = lake_tables.LakeRoots(sys.argv[1], sys.argv[2])
table = lake_tables.ensure_tables(lake_tables.open_catalog(roots), roots)[TABLE]
versions = {"old": _write(table, 40, "old"), "new": _write(table, 25, "new")}
print("ready", flush=True)
i = 0
while True:
    tag = ("new", "old")[i % 2]
    _replace(table, versions[tag], tag, f"2024-03-01T00:00:{i % 60:02d}Z")
    i += 1
"""


def test_a_kill_9_inside_the_commit_leaves_the_month_whole(tmp_path):
    """A process replacing the month in a loop is killed at five moments; each time the month reads back
    whole (the old or the new version) and the next commit works."""
    roots = _roots(tmp_path)
    table = _tables(roots)[TABLE]
    _replace(table, _write(table, 40, "old"), "old", "2024-02-01T00:00:00Z")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for delay in (0.15, 0.3, 0.45, 0.7, 1.0):
        child = subprocess.Popen(
            [sys.executable, "-c", _KILLABLE, roots.lake_root, roots.quarantine_root],
            stdout=subprocess.PIPE,
            env=env,
            cwd=REPO_ROOT,
        )
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        rows = _read(_reader_table(roots))
        assert (rows.num_rows, set(rows["source_file"].to_pylist())) in ((40, {"old"}), (25, {"new"}))
    after = _tables(roots)[TABLE]
    _replace(after, _write(after, 7, "last"), "last", "2024-04-01T00:00:00Z")
    assert _read(after).num_rows == 7


# ---------- concurrent commits


def test_different_months_committed_at_once_both_land(tmp_path):
    roots = _roots(tmp_path)
    tables = [_tables(roots)[TABLE] for _ in range(2)]  # two runs, each with its own view
    months = [("yellow", 2024, m) for m in (1, 2)]
    files = [_write(t, 10 + i, f"m{i}", month) for i, (t, month) in enumerate(zip(tables, months, strict=True))]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def commit(i: int) -> None:
        try:
            barrier.wait()
            _replace(tables[i], files[i], f"m{i}", "2024-03-01T00:00:00Z", month=months[i])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    reader = _reader_table(roots)
    assert [_read(reader, month).num_rows for month in months] == [10, 11]


def test_same_month_the_newer_delivery_wins_whole_and_the_older_fails_clearly(tmp_path):
    roots = _roots(tmp_path)
    older_run, newer_run = (_tables(roots) for _ in range(2))
    base = lake_tables.snapshot_id(older_run[TABLE])  # both runs opened the table before either committed
    older = _write(older_run[TABLE], 30, "older")
    newer = _write(newer_run[TABLE], 20, "newer")
    _replace(newer_run[TABLE], newer, "newer", "2024-02-02T00:00:00Z", base=base)
    snapshot, superseded = _replace(older_run[TABLE], older, "older", "2024-02-01T00:00:00Z", base=base)
    assert snapshot is None
    assert superseded == {MONTH: lake_commit.Delivery("newer", "newer", "2024-02-02T00:00:00Z")}
    assert set(_read(_reader_table(roots))["source_file"].to_pylist()) == {"newer"}
    # and a delivery older than what a concurrent run committed, but started after it, is a reload: it wins
    later = lake_tables.snapshot_id(older_run[TABLE].refresh())
    snapshot, superseded = _replace(older_run[TABLE], older, "older", "2024-02-01T00:00:00Z", base=later)
    assert snapshot is not None and superseded == {}


def test_the_commit_fails_a_superseded_file_by_name_and_deletes_its_files(tmp_path):
    from ingestion.results import INGESTED, FileResult

    roots = _roots(tmp_path)
    tables = _tables(roots)
    bases = {name: lake_tables.snapshot_id(t) for name, t in tables.items()}
    newer = _write(tables[TABLE], 5, "newer")
    _replace(_tables(roots)[TABLE], newer, "newer.parquet", "2024-02-02T00:00:00Z")
    files = {TABLE: _write(tables[TABLE], 9, "older"), QUARANTINE_TABLE: []}
    manifest = {
        "source_file": "yellow_tripdata_2024-01.parquet",
        "sha256": "0" * 64,
        "delivered_at": "2024-02-01T00:00:00Z",
        "service": "yellow",
        "year": 2024,
        "month": 1,
        "lake_table": TABLE,
    }
    result = FileResult(manifest["source_file"], "x", INGESTED, manifest=manifest, data_files=files)
    [done] = lake_commit.commit(roots, tables, bases, [result], "run")
    assert done.status == "failed"
    assert done.problem == (
        "yellow_trips: the lake holds a newer delivery of the month (newer.parquet, delivered"
        " 2024-02-02T00:00:00Z); this older one was not committed"
    )
    assert not os.path.exists(lake_tables.local_path(files[TABLE][0]))
    assert set(_read(_reader_table(roots))["source_file"].to_pylist()) == {"newer"}
    assert lake_tables.PinnedLake.pin(lake_tables.open_catalog(roots), roots).load_log() == []


# ---------- upkeep


def test_upkeep_expires_old_snapshots_and_deletes_only_unreferenced_files(tmp_path):
    roots = _roots(tmp_path)
    table = _tables(roots)[TABLE]
    first = _write(table, 3, "first")
    _replace(table, first, "first", "2024-02-01T00:00:00Z")
    second = _write(table, 4, "second")
    _replace(table, second, "second", "2024-02-02T00:00:00Z")
    stray = _write(table, 1, "never committed")
    kept = lake_maintenance.upkeep(table, orphan_min_age=dt.timedelta(hours=1))
    assert (kept.snapshots_expired, kept.files_deleted) == (0, 0)  # within the window, young stray kept
    later = dt.datetime.now(dt.UTC) + lake_maintenance.RETENTION + dt.timedelta(minutes=1)
    done = lake_maintenance.upkeep(table, now=later, orphan_min_age=dt.timedelta(hours=1))
    assert done.snapshots_expired == 1  # the first; the current one is never expired
    assert [os.path.exists(lake_tables.local_path(p)) for p in first + stray + second] == [False, False, True]
    assert _read(_reader_table(roots))["source_file"].to_pylist() == ["second"] * 4
    assert lake_maintenance.referenced_files(table.refresh()) == {
        p for p in (str(p) for p in Path(lake_tables.local_path(table.location())).rglob("*")) if Path(p).is_file()
    }


# ---------- a copied lake is a lake of its own


def test_a_relocated_lake_reads_the_same_and_writes_only_its_own_folder(tmp_path):
    source, target = _roots(tmp_path / "a"), _roots(tmp_path / "b")
    table = _tables(source)[TABLE]
    _replace(table, _write(table, 6, "one"), "one", "2024-02-01T00:00:00Z")
    relocate(source, target)
    before = sorted(str(p) for p in (tmp_path / "a").rglob("*"))
    copy = _tables(target)[TABLE]
    assert _read(copy).sort_by("source_row").equals(_read(table).sort_by("source_row"))
    assert lake_tables.snapshot_id(copy) == lake_tables.snapshot_id(table)
    _replace(copy, _write(copy, 2, "two"), "two", "2024-02-02T00:00:00Z")
    assert sorted(str(p) for p in (tmp_path / "a").rglob("*")) == before
    assert _read(table).num_rows == 6 and _read(copy).num_rows == 2
    assert not [p for p in (tmp_path / "b").rglob("*.json") if str(tmp_path / "a") in p.read_text()]


def test_the_contract_types_have_an_iceberg_spelling_pyiceberg_reads():
    from pyiceberg.io.pyarrow import schema_to_pyarrow
    from pyiceberg.schema import Schema
    from pyiceberg.types import NestedField

    from ingestion.contract import TYPES

    for kind in TYPES.values():
        parsed = NestedField(1, "x", kind.iceberg, required=False)
        back = schema_to_pyarrow(Schema(parsed), include_field_ids=False).field("x").type
        # text (string, and key's 32 hex digits) comes back as pyiceberg's large_string
        assert back == logical_type(kind.name).arrow or (kind.arrow == pa.string() and back == pa.large_string())


def test_a_months_version_survives_the_expiry_of_the_snapshot_that_wrote_it(tmp_path):
    """The loader tells a changed month by the snapshot that added its files; pyiceberg's partitions table
    forgets it once that snapshot is expired, the manifest entries do not."""
    roots = _roots(tmp_path)
    table = _tables(roots)[TABLE]
    snapshot, _ = _replace(table, _write(table, 3, "jan"), "jan", "2024-02-01T00:00:00Z")
    other = ("yellow", 2024, 2)
    _replace(table, _write(table, 2, "feb", other), "feb", "2024-03-01T00:00:00Z", month=other)
    later = dt.datetime.now(dt.UTC) + lake_maintenance.RETENTION + dt.timedelta(minutes=1)
    assert lake_maintenance.upkeep(table, now=later).snapshots_expired == 1
    assert table.refresh().snapshot_by_id(snapshot) is None
    state = lake_tables.PinnedLake.pin(lake_tables.open_catalog(roots), roots).months()[MONTH]
    assert (state.lake_snapshot_id, state.lake_rows) == (snapshot, 3)


def test_a_snapshot_is_kept_for_the_window_after_it_was_replaced_however_old_it_is(tmp_path):
    """Time travel means "as of any moment in the last 7 days": a month current until a minute ago
    stays readable, even when the snapshot that wrote it is older than the window."""
    roots = _roots(tmp_path)
    table = _tables(roots)[TABLE]
    old, _ = _replace(table, _write(table, 3, "old"), "old", "2024-02-01T00:00:00Z")
    time.sleep(1.0)
    _replace(table, _write(table, 2, "new"), "new", "2024-02-02T00:00:00Z")
    written = dt.datetime.fromtimestamp(table.refresh().snapshot_by_id(old).timestamp_ms / 1000, dt.UTC)
    # a cut-off after the old snapshot was written but before it was replaced: kept (by its own age it
    # would go); a cut-off after it was replaced: expired
    assert lake_maintenance._replaced_before(table, written + dt.timedelta(seconds=0.5)) == []
    assert lake_maintenance._replaced_before(table, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)) == [old]


def test_an_older_upload_of_the_same_object_never_replaces_a_newer_one_whatever_the_order_of_runs(tmp_path):
    """Two uploads of one S3 key start two executions; the later upload's may run first. The earlier
    upload's run then finds the newer upload in the lake and fails; a local file given again (no S3
    version) replaces the month whatever its mtime, as `make run SOURCE=` does."""
    table = _tables(_roots(tmp_path))[TABLE]
    name = "yellow_tripdata_2024-01.parquet"

    def replace(n: int, sha: str, delivered: str, version: str | None):
        entries = [lake_commit.data_file(table, p) for p in _write(table, n, sha)]
        delivery = lake_commit.Delivery(name, sha, delivered, version)
        return lake_commit.replace_months(
            table, lake_tables.snapshot_id(table.refresh()), {MONTH: (delivery, entries)}, "t"
        )

    assert replace(4, "v2", "2024-02-02T00:00:00.000000Z", "version-2")[0] is not None
    snapshot, superseded = replace(9, "v1", "2024-02-01T00:00:00.000000Z", "version-1")
    assert snapshot is None and superseded[MONTH].source_version == "version-2"
    assert set(_read(table)["source_file"].to_pylist()) == {"v2"}
    assert replace(5, "local", "2020-01-01T00:00:00.000000Z", None)[0] is not None  # a local file: replaces
    assert set(_read(table)["source_file"].to_pylist()) == {"local"}


def test_a_commit_reported_failed_that_landed_is_taken_as_done_and_its_files_kept(tmp_path, monkeypatch):
    """A lost catalog response reads as a conflict although the commit landed (boto3 retries UpdateTable,
    the second call's VersionId is stale): the month must stay readable, committed once."""
    from pyiceberg.exceptions import CommitFailedException

    roots = _roots(tmp_path)
    table = _tables(roots)[TABLE]
    files = _write(table, 6, "once")
    real = type(table.catalog).commit_table
    calls = []

    def lands_then_fails(self, *args, **kwargs):
        response = real(self, *args, **kwargs)
        calls.append(response)
        if len(calls) == 1:
            raise CommitFailedException("the response was lost")
        return response

    monkeypatch.setattr(type(table.catalog), "commit_table", lands_then_fails)
    snapshot, _ = _replace(table, files, "once", "2024-02-01T00:00:00Z")
    monkeypatch.undo()
    assert len(calls) == 1 and snapshot == lake_tables.snapshot_id(table.refresh())
    assert _read(_reader_table(roots)).num_rows == 6
    assert len(table.snapshots()) == 1


def test_the_same_file_committed_twice_at_once_still_has_its_load_log_row():
    """Runs A and B of one file interleaved (A's quarantine, B's quarantine, B's trips, A's trips): the
    month holds A's trips beside B's quarantine, a pair no load-log row names. Both rows are of the same
    delivery, so the month is whole and A's row describes it; of two different deliveries it is not."""
    month = ("yellow", 2024, 1)

    def row(sha: str, trips: int, quarantine: int, loaded_at: str) -> dict:
        return {
            "service": "yellow",
            "year": 2024,
            "month": 1,
            "sha256": sha,
            "lake_snapshot_id": trips,
            "quarantine_snapshot_id": quarantine,
            "loaded_at": loaded_at,
        }

    state = lake_tables.MonthState(*month, lake_snapshot_id=4, quarantine_snapshot_id=2, lake_rows=9, quarantine_rows=1)
    a, b = row("s", 4, 1, "2024-02-01T00:00:02Z"), row("s", 3, 2, "2024-02-01T00:00:01Z")
    assert lake_tables.load_log_entry([a, b], state) == a
    assert lake_tables.load_log_entry([a, {**b, "sha256": "other"}], state) is None
    assert lake_tables.load_log_entry([row("s", 4, 2, "2024-02-01T00:00:03Z"), a, b], state)["loaded_at"].endswith(
        "03Z"
    )
