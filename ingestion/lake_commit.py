"""The driver's commit: the data files the Spark tasks wrote become the months they replace, atomically.

One Iceberg transaction per table per run (the quarantine first, then each trip table): for every
month the run ingested it drops the month's current files and adds the new ones, in one `overwrite`
snapshot. A reader sees the month before or after, never both. Then one append to the load log
records what each month now holds (its source file, sha256, counts and the two snapshot ids), and
only then is each file's receipt written (`ingestion.manifest`).

Before adding a file the driver reads its footer and checks every column's (name, field ID, type)
against the table as the catalog holds it: a file with other IDs would be accepted by Iceberg and
read back as NULLs or swapped columns.

Concurrency: a commit that loses a race (CommitFailedException: another writer committed first)
reloads the table and tries again. A month that a concurrent run replaced with a *newer* delivery
(the snapshot summaries committed since this run opened the table), or whose current delivery is a
newer upload of the same S3 object, is not replaced: that file fails, naming the newer delivery, and
its data files are deleted. Otherwise ours wins whole (docs/iceberg_lake.md, "Commits").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.expressions import And, EqualTo, Or
from pyiceberg.io.pyarrow import (
    compute_statistics_plan,
    data_file_statistics_from_parquet_metadata,
    parquet_path_to_id_mapping,
)
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Operation
from pyiceberg.table.update.snapshot import _OverwriteFiles

from ingestion import lake, manifest, storage
from ingestion.contract import (
    FORMATS,
    LOAD_LOG_COLUMNS,
    LOAD_LOG_LAKE_COLUMNS,
    LOAD_LOG_TABLE,
    QUARANTINE_TABLE,
    logical_type,
    raw_file_name,
)
from ingestion.lake_tables import LakeRoots, Month, retry_on_conflict, write_schema
from ingestion.results import FAILED, INGESTED, FileResult

Progress = Callable[[str], None]
DELIVERY_PREFIX = "tlc.delivery."


@dataclass(frozen=True)
class Delivery:
    """One file's month, as a commit records it in its snapshot summary."""

    source_file: str
    sha256: str
    delivered_at: str
    source_version: str | None = None  # the S3 object version (None: a local file)

    @classmethod
    def of(cls, result: FileResult) -> Delivery:
        m = result.manifest
        return cls(m["source_file"], m["sha256"], m["delivered_at"] or "", m.get("source_version"))

    def newer_than(self, other: Delivery) -> bool:
        """Delivered later (ties, S3's one-second LastModified, broken by sha256); the same content never is."""
        return self.sha256 != other.sha256 and (self.delivered_at, self.sha256) > (other.delivered_at, other.sha256)


def month_of(result: FileResult) -> Month:
    m = result.manifest
    return (m["service"], int(m["year"]), int(m["month"]))


def _summary_key(month: Month) -> str:
    service, year, month_ = month
    return f"{DELIVERY_PREFIX}{service}-{year:04d}-{month_:02d}"


# ---------- data files: footer checked against the table, then described for the manifest


@dataclass(frozen=True)
class FileLayout:
    """What checking and describing a table's data files needs: computed once per table and commit
    (per file it was a third of the commit's time)."""

    name: str
    expected: dict[str, tuple[int, pa.DataType]]  # column -> (field ID, Arrow type) the files must have
    stats_columns: dict
    column_mapping: dict

    @classmethod
    def of(cls, table: Table) -> FileLayout:
        metadata = table.metadata
        return cls(
            table.name()[-1],
            {f.name: (int(f.metadata[b"PARQUET:field_id"]), f.type) for f in write_schema(table)},
            compute_statistics_plan(metadata.schema(), metadata.properties),
            parquet_path_to_id_mapping(metadata.schema()),
        )


def check_file_schema(table: Table, path: str, schema: pa.Schema, layout: FileLayout | None = None) -> None:
    """Every column of a data file must be the one the table is written with (`write_schema`: the
    contract's type, the field ID the catalog holds), and no column may be missing."""
    layout = layout or FileLayout.of(table)
    expected = layout.expected
    problems = [f"{name} is missing" for name in expected if name not in schema.names]
    problems += [f"{name} appears twice" for name in sorted({n for n in schema.names if schema.names.count(n) > 1})]
    for column in schema:
        found = (column.metadata or {}).get(b"PARQUET:field_id")
        if column.name not in expected:
            problems.append(f"{column.name} is not a column of the table")
            continue
        field_id, kind = expected[column.name]
        if found is None or int(found) != field_id:
            problems.append(f"{column.name} has field ID {found and int(found)}, the table {field_id}")
        elif column.type != kind:
            problems.append(f"{column.name} is {column.type}, the contract says {kind}")
    if problems:
        raise RuntimeError(f"{path}: not committed to {layout.name}: {'; '.join(problems)}")


def data_file(table: Table, path: str, month: Month | None = None, layout: FileLayout | None = None) -> DataFile:
    """The DataFile entry of one written file: its footer's statistics and partition, after the check;
    with `month`, the partition its rows hold must be that month (the commit drops only that month's
    old files)."""
    metadata = table.metadata
    layout = layout or FileLayout.of(table)
    input_file = table.io.new_input(path)
    with input_file.open() as stream:
        footer = pq.read_metadata(stream)
    check_file_schema(table, path, footer.schema.to_arrow_schema(), layout)
    statistics = data_file_statistics_from_parquet_metadata(
        parquet_metadata=footer,
        stats_columns=layout.stats_columns,
        parquet_column_mapping=layout.column_mapping,
    )
    partition = statistics.partition(metadata.spec(), metadata.schema())
    if month is not None and tuple(partition) != tuple(month):
        raise RuntimeError(
            f"{path}: not committed to {layout.name}: its rows are of {tuple(partition)}, the file's month"
            f" is {tuple(month)}"
        )
    return DataFile.from_args(
        content=DataFileContent.DATA,
        file_path=path,
        file_format=FileFormat.PARQUET,
        partition=partition,
        file_size_in_bytes=len(input_file),
        sort_order_id=None,
        spec_id=metadata.default_spec_id,
        equality_ids=None,
        key_metadata=None,
        **statistics.to_serialized_dict(),
    )


# ---------- one table, many months, one snapshot


def _month_filter(months: Iterable[Month]):
    terms = [And(EqualTo("service", s), And(EqualTo("year", y), EqualTo("month", m))) for s, y, m in months]
    expression = terms[0]
    for term in terms[1:]:
        expression = Or(expression, term)
    return expression


def _superseding(table: Table, base: int | None, month: Month, ours: Delivery) -> Delivery | None:
    """The delivery of `month` that must not be replaced by ours, if any:

    - one committed since `base` (this run's view of the table: a concurrent run) that is newer;
    - else the month's delivery when this run started, when it is a newer upload of the same S3 object
      (an upload event can run after a later one's: the later upload wins whatever the order of runs).
      Local files are not ordered by time: a file given again replaces the month, whatever its mtime.
    """
    snapshot, concurrent = table.current_snapshot(), True
    while snapshot is not None:
        concurrent = concurrent and snapshot.snapshot_id != base
        recorded = snapshot.summary.additional_properties.get(_summary_key(month)) if snapshot.summary else None
        if recorded:
            theirs = Delivery(**json.loads(recorded))
            if concurrent:
                if theirs.newer_than(ours):
                    return theirs
            else:
                same_object = theirs.source_file == ours.source_file and theirs.source_version and ours.source_version
                return theirs if same_object and theirs.newer_than(ours) else None
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    return None


class _ReplaceMonths(_OverwriteFiles):
    """pyiceberg 0.12's overwrite, minus the manifests of earlier snapshots that hold only deleted entries.

    pyiceberg carries those forward into every later snapshot (Java Iceberg drops them), so each
    replacement of a month added a manifest for ever, and every commit and scan read them all: on moto's
    S3 the 50th replacement of one month took 1.3 s instead of 0.2 s. What a snapshot deleted stays in
    that snapshot's own manifests.
    """

    def _existing_manifests(self):
        kept = super()._existing_manifests()
        return [m for m in kept if m.has_added_files() or m.has_existing_files()]

    def _clean_all_uncommitted(self) -> None:
        """Keep the attempt's manifests when its commit is reported failed: on Glue a lost UpdateTable
        response retried by the client reads as a conflict although the first call landed, and deleting
        them would break the table's current snapshot. `replace_months` looks for the snapshot; files
        that did not land are the upkeep's (unreferenced)."""


def replace_months(
    table: Table,
    base: int | None,
    months: dict[Month, tuple[Delivery, list[DataFile]]],
    run_token: str,
) -> tuple[int | None, dict[Month, Delivery]]:
    """Replace each month's files with the given ones in one snapshot, retrying lost races.

    Returns (the snapshot id, the months left out because a newer delivery replaced them since `base`).
    """
    built = {month: entries for month, (_, entries) in months.items()}

    def attempt() -> tuple[int | None, dict[Month, Delivery]]:
        table.refresh()
        superseded = {}
        for month, (ours, _) in months.items():
            newer = _superseding(table, base, month, ours)
            if newer is not None:
                superseded[month] = newer
        todo = {month: files for month, files in built.items() if month not in superseded}
        if not todo:
            return None, superseded
        properties = {"tlc.run": run_token}
        properties.update({_summary_key(m): json.dumps(months[m][0].__dict__) for m in todo})
        overwrite = None
        try:
            with table.transaction() as tx:
                operation = Operation.OVERWRITE if table.current_snapshot() else Operation.APPEND
                with _ReplaceMonths(operation, tx, table.io, snapshot_properties=properties) as overwrite:
                    if table.current_snapshot() is not None:
                        for task in table.scan(row_filter=_month_filter(todo)).plan_files():
                            if tuple(task.file.partition) in todo:
                                overwrite.delete_data_file(task.file)
                    for files in todo.values():
                        for entry in files:
                            overwrite.append_data_file(entry)
        except CommitFailedException:
            mine = overwrite._snapshot_id if overwrite is not None else None
            if mine is not None and table.refresh().snapshot_by_id(mine) is not None:
                return mine, superseded  # it landed after all (a lost response)
            raise
        return table.current_snapshot().snapshot_id, superseded

    return retry_on_conflict(attempt)


# ---------- the load log


def _load_log_schema(table: Table) -> pa.Schema:
    columns = (*LOAD_LOG_COLUMNS, *LOAD_LOG_LAKE_COLUMNS)
    return pa.schema(pa.field(c.name, logical_type(c.type).arrow) for c in columns)


def append_load_log(table: Table, manifests: list[dict]) -> None:
    """One row per committed month (append-only; readers pick the row matching the month's snapshots)."""
    schema = _load_log_schema(table)
    columns = (*LOAD_LOG_COLUMNS, *LOAD_LOG_LAKE_COLUMNS)
    rows = pa.Table.from_pylist([{c.name: m[c.manifest_key] for c in columns} for m in manifests], schema=schema)
    retry_on_conflict(lambda: table.refresh().append(rows))


# ---------- the run's commit


def commit(
    roots: LakeRoots,
    tables: dict[str, Table],
    bases: dict[str, int | None],
    results: list[FileResult],
    run_token: str,
    progress: Progress | None = None,
) -> list[FileResult]:
    """Commit every ingested file's data files (see the module docstring); returns the results with the
    receipts' snapshot ids filled in, or a file failed (its data files deleted) when its month was
    superseded or its files did not match the table."""
    say = progress or (lambda message: None)
    fresh = [r for r in results if r.status == INGESTED and r.data_files]
    if not fresh:
        return results
    replaces: dict[str, str] = {}  # file -> the month's delivery under another name it replaces
    for result in fresh:  # every receipt of the month: its file under another format no longer is the lake's
        for fmt in FORMATS:
            name = raw_file_name(*month_of(result), fmt)
            if name != result.source_file and (earlier := manifest.read_manifest(roots.lake_root, name)):
                replaces[result.source_file] = f"{name} (sha256 {earlier['sha256'][:12]})"
            manifest.delete_manifest(roots.lake_root, name)
    names = [QUARANTINE_TABLE, *sorted({r.manifest["lake_table"] for r in fresh})]
    failed: dict[str, str] = {}
    entries: dict[tuple[str, str], list[DataFile]] = {}
    layouts = {name: FileLayout.of(tables[name]) for name in names}
    for r in fresh:  # every footer checked before anything is committed
        try:
            for name, paths in r.data_files.items():
                entries[(r.source_file, name)] = [
                    data_file(tables[name], path, month_of(r), layouts[name]) for path in paths
                ]
        except Exception as exc:  # noqa: BLE001 - the file fails with the reason, nothing of it committed
            failed[r.source_file] = str(exc)
    landed: set[tuple[str, str]] = set()  # (file, table) whose files a snapshot references, or may
    for name in names:
        column = "quarantine_snapshot_id" if name == QUARANTINE_TABLE else "lake_snapshot_id"
        mine = [r for r in fresh if r.source_file not in failed and name in r.data_files]
        if not mine:
            continue
        months = {month_of(r): (Delivery.of(r), entries[(r.source_file, name)]) for r in mine}
        try:
            snapshot, superseded = replace_months(tables[name], bases.get(name), months, run_token)
        except Exception as exc:  # noqa: BLE001 - every file of this commit fails with the reason
            for r in mine:
                failed[r.source_file] = f"commit to {name} failed: {exc}"
                # the commit may have landed (a lost response): its files are left to the upkeep, which
                # deletes them only if no snapshot references them
                landed.add((r.source_file, name))
            continue
        for r in mine:
            newer = superseded.get(month_of(r))
            if newer is not None:
                failed[r.source_file] = (
                    f"{name}: the lake holds a newer delivery of the month ({newer.source_file}, delivered"
                    f" {newer.delivered_at}); this older one was not committed"
                )
            else:
                r.manifest[column] = snapshot
                landed.add((r.source_file, name))
        say(f"committed {len(mine) - len(superseded)} month(s) to {name} (snapshot {snapshot})")
    committed = [r for r in fresh if r.source_file not in failed]
    if committed:
        loaded_at = manifest.utc_now()
        for r in committed:
            r.manifest["ingested_at"] = loaded_at
        append_load_log(tables[LOAD_LOG_TABLE], [r.manifest for r in committed])
        for r in committed:  # the receipt, and a refusal of an earlier delivery is superseded
            if r.source_file in replaces:  # a month has one source: the run says which one it dropped
                r.notes.append(f"replaces {replaces[r.source_file]}, the month's earlier delivery")
            manifest.write_manifest(roots.lake_root, r.manifest)
            storage.delete_file(manifest.rejection_path(roots.quarantine_root, r.source_file))
    for r in fresh:
        if r.source_file in failed:  # files an earlier snapshot references stay for its readers
            lake.delete_files(
                [p for name, paths in r.data_files.items() if (r.source_file, name) not in landed for p in paths]
            )
            r.status, r.problem = FAILED, failed[r.source_file]
        r.data_files = None
    return results
