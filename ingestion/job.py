"""The ingestion job: a list of raw files -> the lake's Iceberg tables (trips, quarantine, load log), one
Spark job and one commit per table.

Two phases, each file touched once:

1. `plan` (driver, no Spark): parse each name, refuse a set that names one file or one month twice,
   inspect each file (Parquet footer or CSV header, column mapping), and optionally hash it to find
   the files the lake already holds. A file refused here gets its report at
   ``<quarantine>/_rejected_files/<name>.error.json`` at once.
2. `execute`: one Spark job whose tasks ingest the files (`file_ingest.ingest_file`: read, validate,
   classify and write new data files in one streaming pass), one task per core at most: the files
   are dealt to the tasks biggest first, each to the task with the fewest bytes so far, because a
   Spark task costs ~0.1 s of scheduling however small its file (BENCHMARKS.md, "many files"). Each
   file yields a typed `FileResult`. Then the driver commits what the tasks wrote (`lake_commit`) and
   tidies the tables it committed to (`lake_maintenance`). On the Glue catalog, given a schedule, each
   table's Glue column statistics settings are made first (`lake_statistics`; a failure is reported, not
   raised). No Spark session is started, and the catalog is not opened, when nothing is left to ingest.

Then `dispose` puts each raw file where it belongs, the one place that decides it for the Glue job, the
CLI and ``make run``. With an archive root (production: the Glue job), each raw file leaves its landing
place: an ingested or skipped file is copied to ``<archive>/<service>/<sha256>/<name>``, a refused one to
``<quarantine>/_rejected_files/<name>`` beside its report, then deleted where it was. Without one (a
user's folder) raw files are never moved or deleted: a refused file is copied beside its report.

Command line (exit 0 ok, 1 a file was refused or failed, 2 a bad input list):

    python -m ingestion.job --input PATH [--input PATH ...] --lake-root DIR --quarantine-root DIR
        [--archive-root DIR] [--catalog glue:DATABASE|sqlite:PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ingestion import lake, lake_lock, manifest, raw_files, storage
from ingestion.contract import LOAD_LOG_TABLE, QUARANTINE_TABLE
from ingestion.errors import BadFileError, InputSetError
from ingestion.file_ingest import already_ingested, ingest_file
from ingestion.raw_files import Inspection
from ingestion.results import INGESTED, REFUSED, SKIPPED, FileResult, summarize

if TYPE_CHECKING:
    from ingestion.lake_statistics import StatisticsSchedule

Progress = Callable[[str], None]
HASH_THREADS = 4


@dataclass
class Planned:
    """A file that passed inspection: what to ingest, and its sha256 when the plan hashed it."""

    inspection: Inspection
    sha256: str | None = None
    unchanged: dict | None = None  # the stored manifest when the lake already holds this exact file


@dataclass
class Plan:
    """Every input in order: a Planned file or its refusal."""

    inputs: list[str]
    lake_root: str
    quarantine_root: str
    items: list[Planned | FileResult] = field(default_factory=list)
    catalog: str | None = None  # lake_tables.LakeRoots.catalog: None is the SQLite file in the lake root
    # unreferenced lake files younger than this are kept (they may be a running job's); None: the default
    orphan_min_age: dt.timedelta | None = None
    # Glue column statistics settings for every lake table (lake_statistics; Glue catalog only); None: none
    column_statistics: StatisticsSchedule | None = None

    @property
    def refused(self) -> list[FileResult]:
        return [item for item in self.items if isinstance(item, FileResult)]

    @property
    def to_ingest(self) -> list[Planned]:
        return [item for item in self.items if isinstance(item, Planned) and item.unchanged is None]


def refusal(path: str, error: BadFileError, quarantine_root: str, version_id: str | None = None) -> FileResult:
    """A refused file's result, its report written to `<quarantine>/_rejected_files/`."""
    report = manifest.write_rejection(quarantine_root, error.file_name, path, error.problem)
    return FileResult(
        error.file_name, path, REFUSED, problem=error.problem, rejection_report=report, source_version=version_id
    )


def _pinned_version(path: str, versions: Mapping[str, str | None] | None) -> str | None:
    """The S3 object version to read: the one given (the upload event's), else the current one, pinned
    now so the whole run reads the same bytes (None: a local file or an unversioned bucket)."""
    if versions and versions.get(path):
        return versions[path]
    if not storage.is_s3(path):
        return None
    try:
        return storage.current_version(path)
    except (FileNotFoundError, PermissionError):
        return None  # inspection refuses it with the reason


def plan(
    inputs: Sequence[str],
    lake_root: str,
    quarantine_root: str,
    hash_files: bool = True,
    archive_root: str | None = None,
    versions: Mapping[str, str | None] | None = None,
    catalog: str | None = None,
    column_statistics: StatisticsSchedule | None = None,
) -> Plan:
    """Check the input set and every file in it without Spark. Raises InputSetError for duplicate
    inputs (before anything is written); a bad file becomes a refused result. With an archive root, a
    file an earlier run already moved away gets no new report (`archive` reports that run's outcome)."""
    parsed: list[raw_files.RawFile] = []
    for path in inputs:
        try:
            parsed.append(raw_files.parse_raw_file(path))
        except BadFileError:
            pass  # refused below, with the rest of its problems
    raw_files.check_unique(parsed)
    result = Plan(list(inputs), lake_root, quarantine_root, catalog=catalog, column_statistics=column_statistics)
    for path in inputs:
        version = _pinned_version(path, versions)
        try:
            result.items.append(Planned(raw_files.inspect_file(path, version)))
        except BadFileError as error:
            if archive_root and _moved_by_an_earlier_run(path, error.file_name, lake_root, quarantine_root):
                report = manifest.rejection_path(quarantine_root, error.file_name)
                refused = FileResult(
                    error.file_name,
                    path,
                    REFUSED,
                    problem=error.problem,
                    rejection_report=report,
                    source_version=version,
                )
                result.items.append(refused)
            else:
                result.items.append(refusal(path, error, quarantine_root, version))
    if hash_files:
        planned = [item for item in result.items if isinstance(item, Planned)]
        with ThreadPoolExecutor(HASH_THREADS) as pool:  # hashlib and file reads release the GIL
            raws = [item.inspection.raw for item in planned]
            digests = list(pool.map(lambda raw: raw_files.fingerprint(raw.path, raw.version_id), raws))
        for item, digest in zip(planned, digests, strict=True):
            item.sha256 = digest
            item.unchanged = already_ingested(item.inspection.raw.name, digest, lake_root)
    return result


# (position in the plan, file, sha256, lake root, quarantine root, the tables' write targets)
Unit = tuple[int, Inspection, str | None, str, str, dict]


def _ingest_task(units: list[Unit]) -> list[tuple[int, dict]]:
    """One Spark task: its files one after the other. Returns (position, FileResult as a dict) per
    file (what Spark sends back)."""
    import sys as _sys

    def progress(message: str) -> None:  # the executor's log (locally: this terminal)
        print(f"  {message}", file=_sys.stderr, flush=True)

    return [
        (position, ingest_file(inspection, lake_root, quarantine_root, targets, sha256, progress).to_dict())
        for position, inspection, sha256, lake_root, quarantine_root, targets in units
    ]


def _run_tasks(
    units: list[Unit], sizes: list[int], spark_factory: Callable[[], object] | None, in_process: bool
) -> list[tuple[int, dict]]:
    if in_process:
        return _ingest_task(units)
    from ingestion.spark_session import get_spark

    spark = (spark_factory or get_spark)()
    tasks = deal(sizes, spark.sparkContext.defaultParallelism)
    batches = [[units[i] for i in task] for task in tasks]
    return spark.sparkContext.parallelize(batches, len(batches)).flatMap(_ingest_task).collect()


def ingest_inspected(
    inspection: Inspection,
    lake_root: str,
    quarantine_root: str,
    sha256: str | None = None,
    catalog: str | None = None,
    column_statistics: StatisticsSchedule | None = None,
    progress: Progress | None = None,
) -> FileResult:
    """One inspected file through the job's tasks and commit, in this process (no Spark): what the
    tests of the ingestion core run. Hashed here when `sha256` is not given."""
    sha256 = sha256 or raw_files.fingerprint(inspection.raw.path, inspection.raw.version_id)
    item = Planned(inspection, sha256, already_ingested(inspection.raw.name, sha256, lake_root))
    planned = Plan([inspection.raw.path], lake_root, quarantine_root, [item], catalog)
    planned.column_statistics = column_statistics
    [result] = execute(planned, progress=progress, in_process=True)
    return result


def deal(sizes: Sequence[int], tasks: int) -> list[list[int]]:
    """Indexes of `sizes` dealt to at most `tasks` lists: biggest first, each to the list with the
    smallest total so far (within 4/3 of the best split; each list keeps the biggest-first order)."""
    tasks = max(1, min(tasks, len(sizes)))
    lists: list[list[int]] = [[] for _ in range(tasks)]
    totals = [0] * tasks
    for index in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        lightest = min(range(tasks), key=lambda t: (totals[t], t))
        lists[lightest].append(index)
        totals[lightest] += sizes[index]
    return lists


def execute(
    plan_: Plan,
    spark_factory: Callable[[], object] | None = None,
    progress: Progress | None = None,
    in_process: bool = False,
) -> list[FileResult]:
    """Ingest every planned file that is not unchanged, in one Spark job (`in_process`: the same tasks
    in this process, without Spark), then commit what the tasks wrote (`ingestion.lake_commit`);
    results in input order."""
    work = [
        (position, item)
        for position, item in enumerate(plan_.items)
        if isinstance(item, Planned) and item.unchanged is None
    ]
    done: dict[int, FileResult] = {}
    if work:
        with lake_lock.holding(plan_.lake_root, progress):
            done = _ingest_and_commit(plan_, work, spark_factory, progress, in_process)
    results = []
    for position, item in enumerate(plan_.items):
        if isinstance(item, FileResult):
            results.append(item)
        elif item.unchanged is not None:
            raw = item.inspection.raw
            results.append(
                FileResult(raw.name, raw.path, SKIPPED, manifest=item.unchanged, source_version=raw.version_id)
            )
        else:
            results.append(done[position])
    return results


def _ingest_and_commit(
    plan_: Plan,
    work: list[tuple[int, Planned]],
    spark_factory: Callable[[], object] | None,
    progress: Progress | None,
    in_process: bool,
) -> dict[int, FileResult]:
    """The Spark tasks over `work`, then the commit and the upkeep; the FileResults by plan position.

    The catalog is opened and the tables ensured on a thread beside the tasks (pyiceberg's import and
    the catalog calls are ~0.8 s of a cold run, the driver is idle while Spark works): the tasks write
    with the layout a table created from the contract has (`lake_layout.expected_layout`), and should
    the catalog's differ (field IDs, location: a table made elsewhere), their files are deleted and the
    tasks run again with the catalog's."""
    from ingestion.lake_layout import LakeRoots, expected_layout

    roots = LakeRoots(plan_.lake_root, plan_.quarantine_root, plan_.catalog)
    with ThreadPoolExecutor(1, thread_name_prefix="catalog") as pool:
        opening = pool.submit(_open_tables, plan_, roots, progress)
        expected = {
            name: lake.Target(name, location, schema)
            for name, (location, schema) in expected_layout(roots).items()
            if name != LOAD_LOG_TABLE
        }
        done = _ingest_all(plan_, work, expected, spark_factory, in_process)
        try:
            tables, bases = opening.result()
        except BaseException:  # nothing will commit these files
            _delete_written(done)
            raise
    from ingestion import lake_commit, lake_tables

    targets = {
        name: lake.Target(name, t.location(), lake_tables.write_schema(t))
        for name, t in tables.items()
        if name != LOAD_LOG_TABLE
    }
    differ = sorted(n for n in targets if not _same_target(targets[n], expected[n]))
    if differ:
        say = progress or (lambda message: None)
        say(f"the catalog's {', '.join(differ)} differ from the contract's layout: writing the files again")
        _delete_written(done)
        done = _ingest_all(plan_, work, targets, spark_factory, in_process)
    token = storage.unique_suffix()
    committed = lake_commit.commit(roots, tables, bases, list(done.values()), token, progress)
    touched = {r.manifest["lake_table"] for r in committed if r.status == INGESTED}
    if touched:
        from ingestion import lake_maintenance

        names = {QUARANTINE_TABLE, LOAD_LOG_TABLE, *touched}
        # a younger minimum age only while this process holds the lake: no other writer's files are young
        min_age = plan_.orphan_min_age if plan_.orphan_min_age is not None and lake_lock.held(plan_.lake_root) else None
        min_age = lake_maintenance.ORPHAN_MIN_AGE if min_age is None else min_age
        lake_maintenance.upkeep_all({n: tables[n] for n in sorted(names)}, min_age, progress)
    return done


def _open_tables(plan_: Plan, roots, progress: Progress | None) -> tuple[dict, dict]:
    """The lake's tables from the catalog (created where missing) and their current snapshot ids."""
    from ingestion import lake_tables

    tables = lake_tables.ensure_tables(lake_tables.open_catalog(roots), roots)
    if plan_.column_statistics is not None:  # Glue's statistics schedule per table (on the Glue catalog)
        from ingestion import lake_statistics

        lake_statistics.ensure_for_lake(roots.catalog_spec, tables, plan_.column_statistics, progress)
    return tables, {name: lake_tables.snapshot_id(t) for name, t in tables.items()}


def _delete_written(done: dict[int, FileResult]) -> None:
    for result in done.values():
        lake.delete_files([f for files in (result.data_files or {}).values() for f in files])


def _same_target(a: lake.Target, b: lake.Target) -> bool:
    return a.location == b.location and a.schema.equals(b.schema, check_metadata=True)


def _ingest_all(
    plan_: Plan,
    work: list[tuple[int, Planned]],
    targets: dict[str, lake.Target],
    spark_factory: Callable[[], object] | None,
    in_process: bool,
) -> dict[int, FileResult]:
    units = [(pos, item.inspection, item.sha256, plan_.lake_root, plan_.quarantine_root, targets) for pos, item in work]
    sizes = [item.inspection.size for _, item in work]
    return {
        position: FileResult.from_dict(outcome)
        for position, outcome in _run_tasks(units, sizes, spark_factory, in_process)
    }


# ---------- archive (production): raw files leave landing once the job is done with them


def archive_path(archive_root: str, service: str, sha256: str, source_file: str) -> str:
    """``<archive>/<service>/<sha256>/<file name>``: one object per distinct content of a file name."""
    return storage.join(archive_root, service, sha256, source_file)


def rejected_file_path(quarantine_root: str, source_file: str) -> str:
    """``<quarantine>/_rejected_files/<file name>``: a refused raw file, beside its ``.error.json``."""
    return storage.join(quarantine_root, manifest.REJECTED_DIR, source_file)


def _exists(path: str, version_id: str | None = None) -> bool:
    try:
        return storage.stat_size(path, version_id) is not None
    except PermissionError:
        return False


def move_file(source: str, target: str, version_id: str | None = None) -> str:
    """Copy, then delete the source (that S3 object version only: a re-upload of the key during the run
    stays in landing for its own run); a crash in between leaves both, and a rerun finishes the move."""
    if storage.spark_uri(source) != storage.spark_uri(target):
        storage.copy_file(source, target, source_version_id=version_id)
        storage.delete_file(source, version_id=version_id)
    return target


def _moved_by_an_earlier_run(path: str, name: str, lake_root: str, quarantine_root: str) -> bool:
    """The file is gone from landing because an earlier run archived it or moved it beside its report."""
    if _exists(path):
        return False
    refused = _exists(rejected_file_path(quarantine_root, name)) and _exists(
        manifest.rejection_path(quarantine_root, name)
    )
    return refused or manifest.read_manifest(lake_root, name) is not None


def _earlier_run(result: FileResult, lake_root: str, quarantine_root: str, archive_root: str) -> FileResult | None:
    """What an earlier run did with a file that is gone from landing because that run moved it.

    An upload event can arrive twice: the second run reports the first one's outcome instead of
    refusing "file does not exist" (which would overwrite the real refusal report).
    """
    path, name = result.source_path, result.source_file
    if _exists(path, result.source_version):
        return None
    moved = rejected_file_path(quarantine_root, name)
    report = storage.read_text(manifest.rejection_path(quarantine_root, name))
    if report and _exists(moved):
        problem = json.loads(report)["problem"]
        return FileResult(
            name, path, REFUSED, problem=problem, rejection_report=result.rejection_report, moved_to=moved
        )
    previous = manifest.read_manifest(lake_root, name)
    if previous:
        target = archive_path(archive_root, previous["service"], previous["sha256"], name)
        return FileResult(name, path, SKIPPED, manifest=previous, archived_to=target)
    return None


def archive(results: list[FileResult], lake_root: str, quarantine_root: str, archive_root: str) -> list[FileResult]:
    """Move each raw file where it belongs now (see the module docstring)."""
    out = []
    for result in results:
        if result.status == REFUSED:
            earlier = _earlier_run(result, lake_root, quarantine_root, archive_root)
            if earlier is not None:
                out.append(earlier)
                continue
            if _exists(result.source_path, result.source_version):
                target = rejected_file_path(quarantine_root, result.source_file)
                result.moved_to = move_file(result.source_path, target, result.source_version)
        elif result.ok and result.manifest:
            m = result.manifest
            target = archive_path(archive_root, m["service"], m["sha256"], result.source_file)
            result.archived_to = move_file(result.source_path, target, result.source_version)
            stale = rejected_file_path(quarantine_root, result.source_file)
            if storage.spark_uri(stale) != storage.spark_uri(result.source_path):
                storage.delete_file(stale)
            storage.delete_file(manifest.rejection_path(quarantine_root, result.source_file))
        out.append(result)
    return out


def dispose(
    results: list[FileResult], lake_root: str, quarantine_root: str, archive_root: str | None = None
) -> list[FileResult]:
    """Where each raw file goes now (see the module docstring); `moved_to` names where a refused file was
    put. Without an archive root a file ingested now also drops the copy of an earlier refusal."""
    if archive_root:
        return archive(results, lake_root, quarantine_root, archive_root)
    for result in results:
        target = rejected_file_path(quarantine_root, result.source_file)
        if result.status == REFUSED:
            # a local file refused into an S3 quarantine keeps only its report (no copy across the two)
            same_kind = storage.is_s3(result.source_path) == storage.is_s3(target)
            if same_kind and _exists(result.source_path, result.source_version):
                storage.copy_file(result.source_path, target, source_version_id=result.source_version)
                result.moved_to = target
        elif result.status == INGESTED and storage.spark_uri(target) != storage.spark_uri(result.source_path):
            storage.delete_file(target)
    return results


def run_ingestion(
    inputs: list[str],
    lake_root: str,
    quarantine_root: str,
    progress: Progress | None = None,
    archive_root: str | None = None,
    spark_factory: Callable[[], object] | None = None,
    hash_files: bool = True,
    versions: Mapping[str, str | None] | None = None,
    catalog: str | None = None,
    column_statistics: StatisticsSchedule | None = None,
) -> list[FileResult]:
    """plan + execute (+ archive); one FileResult per input, in input order. `versions`: the S3 object
    version of an input to read (default: its current version, pinned when the plan is made);
    `column_statistics`: the Glue column statistics schedule of every lake table (`lake_statistics`). Raises
    InputSetError for duplicate inputs before doing anything."""
    say = progress or (lambda message: None)
    planned = plan(inputs, lake_root, quarantine_root, hash_files, archive_root, versions, catalog, column_statistics)
    results = dispose(execute(planned, spark_factory, say), lake_root, quarantine_root, archive_root)
    for result in results:
        say(describe(result))
    return results


def describe(result: FileResult) -> str:
    """One line per file for logs and the run's progress output."""
    where = f", archived to {result.archived_to}" if result.archived_to else ""
    if result.status == SKIPPED:
        return f"{result.source_file}: unchanged (sha256 already ingested), skipped{where}"
    if result.status == REFUSED:
        moved = f", now at {result.moved_to}" if result.moved_to else ""
        return f"{result.error} -> refused{moved}"
    if not result.ok:
        return f"{result.error} -> FAILED"
    notes = "".join(f"; {note}" for note in result.notes)
    return (
        f"{result.source_file}: {result.count('rows_read'):,} read, {result.count('rows_accepted'):,} accepted,"
        f" {result.count('rows_quarantined'):,} quarantined ({result.seconds:.1f} s){where}{notes}"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Arguments shared by the CLI and (by name) the Glue entry point."""
    parser = argparse.ArgumentParser(prog="python -m ingestion.job", description=__doc__.split("\n")[0])
    parser.add_argument("--input", action="append", required=True, help="raw file (repeatable)")
    parser.add_argument("--lake-root", required=True)
    parser.add_argument("--quarantine-root", required=True)
    parser.add_argument(
        "--catalog",
        help="the lake's Iceberg catalog: glue:<database> or sqlite:<path> (default: <lake-root>/_catalog.sqlite)",
    )
    parser.add_argument(
        "--archive-root", help="move each raw file here once ingested (refused: to the quarantine); default: never move"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: the JSON summary on stdout, progress on stderr; 0 ok, 1 refused/failed, 2 bad input list."""
    args = parse_args(argv)
    try:
        results = run_ingestion(
            args.input,
            args.lake_root,
            args.quarantine_root,
            progress=lambda message: print(message, file=sys.stderr, flush=True),
            archive_root=args.archive_root,
            catalog=args.catalog,
        )
    except InputSetError as error:
        print(json.dumps({"ok": False, "error": str(error), "problems": error.problems}, indent=2))
        return 2
    summary = summarize(results)
    print(json.dumps(summary, indent=2, default=str))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
