"""Migrate a Hive-layout lake (the lake's format before the Iceberg tables, commit 51c2b9e) into the
Iceberg lake: every month it holds is ingested again from the archive, by the ingestion job.

The Hive-layout lake recorded each ingested file in ``<old lake>/_manifests/<file name>.json``: one JSON
object on one line (source file, sha256, service, year, month, the row counts, ``lake_partition``,
``ingested_at``), which its Glue table ``partition_loads`` read as the load log. A month's partition
held the rows of the file whose manifest is the month's newest (a later file of the same month replaced
the partition; the earlier manifest stayed). The Glue job archived every ingested file at
``<archive>/<service>/<sha256>/<file name>``. Those Parquet files carry neither the partition columns
nor Iceberg field IDs, so they are not registered: for each month the archived file its newest manifest
names, checked against the manifest's sha256, goes through `ingestion.job` (plan, execute, dispose: the
conductor of every run), a batch of months per run, one commit per table per batch.

Safe to interrupt and to run again: a month whose commit landed is in the Iceberg lake's load log with
that sha256 and is not ingested again; one that did not land is ingested again (docs/iceberg_lake.md).
A month the Iceberg lake already holds from another delivery (a file ingested since the upgrade) is
kept: the archived one does not replace it. Nothing of the old lake or the archive is written, moved or
deleted. The Iceberg lake must not share folders with the old one: the lake's upkeep deletes every file
under a table's folder that no snapshot names, and the old manifests would read as receipts.

    python -m ingestion.migrate_hive_lake --old-lake DIR|s3://... --archive DIR|s3://...
        [--lake DIR|s3://...] [--quarantine DIR|s3://...] [--catalog glue:DATABASE|sqlite:PATH]
        [--months-per-run N]

Progress and the summary on stdout; one line per problem on stderr. Exit 0: every month is in the
Iceberg lake; 1: a month could not be migrated; 2: the arguments cannot work (no Hive-lake manifests,
folders shared with the new lake).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingestion import job, lake_lock, manifest, storage
from ingestion.contract import FILE_NAME, MANIFEST_DIR, SERVICES, iceberg_tables
from ingestion.results import INGESTED, SKIPPED, FileResult

Progress = Callable[[str], None]
Month = tuple[str, int, int]
REPO_ROOT = Path(__file__).resolve().parents[1]
MONTHS_PER_RUN = 12
# What every Hive-lake manifest holds (51c2b9e^ ingestion/contract/layout.py MANIFEST_FIELDS); an Iceberg
# lake's receipt has lake_table and lake_snapshot_id instead of lake_partition.
HIVE_MANIFEST_KEYS = (
    "source_file",
    "sha256",
    "service",
    "year",
    "month",
    "rows_read",
    "rows_accepted",
    "rows_quarantined",
    "lake_partition",
    "ingested_at",
)
COUNTS = ("rows_read", "rows_accepted", "rows_quarantined")


class ArgumentsError(Exception):
    """The migration cannot run with these arguments; the message says why (exit 2)."""


@dataclass(frozen=True)
class HiveMonth:
    """A month of the Hive-layout lake: the file its newest manifest names, and that manifest's figures."""

    service: str
    year: int
    month: int
    source_file: str
    sha256: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    ingested_at: str
    manifest: str  # where the manifest is
    superseded: tuple[str, ...] = ()  # earlier manifests of the month (the partition no longer held them)

    @property
    def key(self) -> Month:
        return (self.service, self.year, self.month)

    @property
    def label(self) -> str:
        return f"{self.service} {self.year:04d}-{self.month:02d}"


@dataclass
class Migration:
    """What a migration found and did, month by month."""

    months: list[HiveMonth] = field(default_factory=list)
    manifests: int = 0
    reingested: list[str] = field(default_factory=list)  # labels
    already: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # "<label>: <path looked for>"
    problems: list[str] = field(default_factory=list)  # one line each: every month not migrated, and why
    count_notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# ---------- the Hive-layout lake


def _hive_partition(service: str, year: int, month: int) -> str:
    """The Hive lake's relative partition path (51c2b9e^ contract `partition_path`)."""
    return f"{service}_trips/year={year:04d}/month={month:02d}"


def _parse_manifest(path: str, text: str) -> tuple[dict | None, str | None]:
    """(the manifest, None) or (None, the problem)."""
    try:
        record = json.loads(text)
    except ValueError as exc:
        return None, f"{path}: not JSON ({exc})"
    if not isinstance(record, dict):
        return None, f"{path}: not a JSON object"
    if "lake_snapshot_id" in record:
        return None, f"{path}: an Iceberg lake's receipt (it has lake_snapshot_id), not a Hive-lake manifest"
    missing = [key for key in HIVE_MANIFEST_KEYS if key not in record]
    if missing:
        return None, f"{path}: not a Hive-lake manifest (no {', '.join(missing)})"
    name = FILE_NAME.match(str(record["source_file"]))
    try:
        service, year, month = str(record["service"]), int(record["year"]), int(record["month"])
        counts = [int(record[key]) for key in COUNTS]
    except (TypeError, ValueError):
        return None, f"{path}: year, month or a row count is not a number"
    if (
        not name
        or (name["service"], int(name["year"]), int(name["month"])) != (service, year, month)
        or storage.file_name(path) != f"{record['source_file']}.json"
    ):
        return None, f"{path}: source_file {record['source_file']!r} does not match its service, year and month"
    if record["lake_partition"] != _hive_partition(service, year, month):
        return None, f"{path}: lake_partition {record['lake_partition']!r} is not this month's Hive partition"
    if counts[0] != counts[1] + counts[2]:
        return None, f"{path}: rows_read {counts[0]} != rows_accepted {counts[1]} + rows_quarantined {counts[2]}"
    return record, None


def read_hive_lake(old_lake: str) -> tuple[list[HiveMonth], int, list[str]]:
    """(every month the Hive lake holds, how many manifests it has, the manifests that could not be
    read). A month's file is its newest manifest's (`ingested_at`): a later file of the same month
    replaced the partition."""
    folder = storage.join(old_lake, MANIFEST_DIR)
    paths = [p for p in storage.list_files(folder) if p.endswith(".json") and not storage.file_name(p).startswith(".")]
    by_month: dict[Month, list[tuple[str, dict]]] = {}
    problems = []
    for path in paths:
        record, problem = _parse_manifest(path, storage.read_text(path) or "")
        if problem:
            problems.append(problem)
            continue
        key = (record["service"], int(record["year"]), int(record["month"]))
        by_month.setdefault(key, []).append((path, record))
    months = []
    for key in sorted(by_month):
        found = sorted(by_month[key], key=lambda item: str(item[1]["ingested_at"]))
        path, newest = found[-1]
        months.append(
            HiveMonth(
                *key,
                source_file=newest["source_file"],
                sha256=str(newest["sha256"]),
                rows_read=int(newest["rows_read"]),
                rows_accepted=int(newest["rows_accepted"]),
                rows_quarantined=int(newest["rows_quarantined"]),
                ingested_at=str(newest["ingested_at"]),
                manifest=path,
                superseded=tuple(
                    f"{record['source_file']} (ingested {record['ingested_at']})" for _, record in found[:-1]
                ),
            )
        )
    return months, len(paths), problems


# ---------- the two lakes must not share folders


def _normalized(location: str) -> str:
    if storage.is_s3(location):
        return "s3://" + location.split("://", 1)[1].rstrip("/")
    return os.path.realpath(location)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def check_separate(old_lake: str, lake_root: str, quarantine_root: str) -> None:
    """ArgumentsError when the Iceberg lake would write into the Hive lake's folders (or inside it), or
    its trip tables' folders hold Hive partitions (an upgrade in place: on AWS both lakes' root is the
    lake bucket's): its upkeep deletes unreferenced files under each table's folder, its receipts are
    the old manifests' paths, and removing the old lake afterwards would remove the new one too."""
    old = _normalized(old_lake)
    old_folders = [storage.join(old, MANIFEST_DIR), *(storage.join(old, f"{s}_trips") for s in SERVICES)]
    new_folders = [storage.join(_normalized(lake_root), MANIFEST_DIR)]
    for table in iceberg_tables():
        root = quarantine_root if table.root == "quarantine" else lake_root
        new_folders.append(storage.join(_normalized(root), table.name))
    clashes = [
        (new, old_folder)
        for new in new_folders
        for old_folder in old_folders
        if _inside(new, old_folder) or _inside(old_folder, new)
    ]
    for root in (lake_root, quarantine_root):
        if _inside(_normalized(root), old):
            clashes.append((_normalized(root), old))
    if clashes:
        new, old_folder = clashes[0]
        raise ArgumentsError(
            f"the Iceberg lake would share {new} with the Hive lake's {old_folder}: its upkeep deletes the files"
            " no snapshot names under each table's folder, and the old manifests would read as its receipts."
            " Move the Hive lake aside first (e.g. mv .local/lake ~/tlc-hive-lake; on S3 copy it to another"
            " prefix) and pass that as --old-lake, or give --lake/--quarantine another place"
        )
    for service in SERVICES:
        folder = storage.join(lake_root, f"{service}_trips")
        if _holds_hive_partitions(folder):
            raise ArgumentsError(
                f"{folder} holds Hive partitions (year=...): a Hive lake's, in the folder of the Iceberg table"
                " of the same name, whose upkeep deletes the files no snapshot names. Copy them where the Hive"
                " lake is kept (or delete them if that copy exists), then run this again"
            )


def _holds_hive_partitions(folder: str) -> bool:
    """Whether a folder (S3 prefix) has ``year=...`` partitions directly under it."""
    if not storage.is_s3(folder):
        return os.path.isdir(folder) and any(name.startswith("year=") for name in os.listdir(folder))
    bucket, key = storage.split_s3(folder)
    try:
        listed = storage.s3_client().list_objects_v2(Bucket=bucket, Prefix=f"{key.strip('/')}/year=", MaxKeys=1)
    except Exception as exc:
        if storage.s3_error_kind(exc) in ("missing", "no bucket"):
            return False
        raise
    return listed.get("KeyCount", 0) > 0


# ---------- what the Iceberg lake holds now


def iceberg_deliveries(lake_root: str, quarantine_root: str, catalog: str | None) -> dict[Month, dict | None]:
    """Every month the Iceberg lake holds: its load-log row (source file, sha256, counts), or None when
    no row names the month's current snapshots (a run stopped between its commits: ingest it again)."""
    from ingestion import lake_tables

    roots = lake_tables.LakeRoots(lake_root, quarantine_root, catalog)
    pinned = lake_tables.PinnedLake.pin(lake_tables.open_catalog(roots), roots)
    return {key: entry for key, (_, entry) in pinned.described_months().items()}


# ---------- the migration


def _hive_manifest_as_receipt(lake_root: str, month: HiveMonth) -> str | None:
    """The problem when the Iceberg lake's receipt of the month's file is a Hive-lake manifest (the old
    lake's `_manifests/` copied or left where the new lake keeps its receipts, e.g. the lake bucket's
    root on AWS): the job would take it for a receipt of the same sha256 and skip the file."""
    receipt = manifest.read_manifest(lake_root, month.source_file)
    if receipt is None or "lake_partition" not in receipt:
        return None
    return (
        f"{month.label}: {manifest.manifest_path(lake_root, month.source_file)} is a Hive-lake manifest where"
        f" the Iceberg lake keeps its receipts: committing {month.source_file} would overwrite it;"
        " move the Hive lake's manifests out of the Iceberg lake's _manifests/ first"
    )


def _counts_note(month: HiveMonth, result: FileResult) -> str | None:
    ours = [result.count(key) for key in COUNTS]
    theirs = [month.rows_read, month.rows_accepted, month.rows_quarantined]
    if ours == theirs:
        return None
    return (
        f"{month.label}: {ours[0]:,} read = {ours[1]:,} accepted + {ours[2]:,} quarantined now; the Hive lake had"
        f" {theirs[0]:,} = {theirs[1]:,} + {theirs[2]:,} (the job's reading or rules changed since; the Iceberg"
        " lake holds what today's job accepts)"
    )


def _run_batch(
    batch: list[tuple[HiveMonth, str]],
    lake_root: str,
    quarantine_root: str,
    catalog: str | None,
    held: bool,
    report: Migration,
    say: Progress,
    spark_factory: Callable[[], object] | None,
    in_process: bool,
) -> None:
    """One run of the job on a batch of archived files: plan (inspects and hashes each), the sha256
    checked against the manifest, execute (one Spark job, one commit per table), dispose."""
    planned = job.plan([path for _, path in batch], lake_root, quarantine_root, catalog=catalog)
    kept: list[tuple[HiveMonth, str, job.Planned | FileResult]] = []
    for (month, path), item in zip(batch, planned.items, strict=True):
        if isinstance(item, job.Planned) and item.sha256 != month.sha256:
            problem = (
                f"{month.label}: {path}: sha256 {item.sha256} differs from {month.sha256} in {month.manifest};"
                " not ingested"
            )
            say(problem)
            report.problems.append(problem)
            continue
        kept.append((month, path, item))
    if not kept:
        return
    run = job.Plan(
        [path for _, path, _ in kept],
        lake_root,
        quarantine_root,
        [item for _, _, item in kept],
        catalog,
        orphan_min_age=dt.timedelta(0) if held else None,
    )
    done = job.execute(run, spark_factory, lambda message: say(f"  {message}"), in_process)
    results = job.dispose(done, lake_root, quarantine_root)
    for (month, path, _), result in zip(kept, results, strict=True):
        if result.status == INGESTED:
            m = result.manifest
            say(
                f"{month.label}: re-ingested from {path}: {m['rows_read']:,} read = {m['rows_accepted']:,} accepted"
                f" + {m['rows_quarantined']:,} quarantined"
            )
            report.reingested.append(month.label)
            note = _counts_note(month, result)
            if note:
                say(f"  note: {note}")
                report.count_notes.append(note)
        elif result.status == SKIPPED:
            say(f"{month.label}: already in the Iceberg lake ({month.source_file}, same sha256: its receipt)")
            report.already.append(month.label)
        else:
            problem = f"{month.label}: {path}: {result.problem} ({result.status})"
            say(problem)
            report.problems.append(problem)


def migrate(
    old_lake: str,
    archive: str,
    lake_root: str,
    quarantine_root: str,
    catalog: str | None = None,
    months_per_run: int = MONTHS_PER_RUN,
    progress: Progress | None = None,
    spark_factory: Callable[[], object] | None = None,
    in_process: bool = False,
) -> Migration:
    """Every month of the Hive lake at `old_lake` into the Iceberg lake, from `archive`; see the module
    docstring. ArgumentsError (before anything is written) when it cannot work. `in_process`: the job's
    tasks in this process instead of on Spark (`job.execute`; tests)."""
    say = progress or (lambda message: None)
    if storage.is_s3(lake_root) and not catalog:
        raise ArgumentsError(f"{lake_root}: a lake on S3 needs its catalog (--catalog glue:<database>)")
    if catalog and not catalog.startswith(("glue:", "sqlite:")):
        raise ArgumentsError(f"unknown catalog {catalog!r}: expected glue:<database> or sqlite:<path>")
    check_separate(old_lake, lake_root, quarantine_root)
    months, manifests, unreadable = read_hive_lake(old_lake)
    report = Migration(months, manifests, problems=list(unreadable))
    if not manifests:
        raise ArgumentsError(
            f"{storage.join(old_lake, MANIFEST_DIR)}: no manifests: not a Hive-layout lake, or nothing was ingested"
        )
    for problem in unreadable:
        say(problem)
    say(f"Hive lake {old_lake}: {len(months)} month(s) in {manifests} manifest(s)")
    with lake_lock.holding(lake_root, say) as held:
        holds = iceberg_deliveries(lake_root, quarantine_root, catalog)
        todo: list[tuple[HiveMonth, str]] = []
        for month in months:
            for earlier in month.superseded:
                say(f"{month.label}: {earlier} was replaced in the Hive lake by {month.source_file}; not migrated")
            path = job.archive_path(archive, month.service, month.sha256, month.source_file)
            entry = holds.get(month.key)
            if entry is not None and entry["sha256"] == month.sha256:
                say(f"{month.label}: already in the Iceberg lake ({entry['source_file']}, same sha256)")
                report.already.append(month.label)
            elif entry is not None:
                say(
                    f"{month.label}: already in the Iceberg lake from another delivery ({entry['source_file']},"
                    f" sha256 {entry['sha256'][:12]}..., loaded {entry['loaded_at']}): kept; the Hive lake's"
                    f" {month.source_file} is not ingested over it"
                )
                report.already.append(month.label)
            else:
                try:
                    present = storage.stat_size(path) is not None
                except PermissionError:
                    problem = f"{month.label}: {path}: access denied; not ingested"
                    say(problem)
                    report.problems.append(problem)
                    continue
                stale = _hive_manifest_as_receipt(lake_root, month)
                if stale:
                    say(stale)
                    report.problems.append(stale)
                elif present:
                    todo.append((month, path))
                else:
                    say(f"{month.label}: missing from the archive: {path} not found")
                    report.missing.append(f"{month.label}: {path}")
                    report.problems.append(f"{month.label}: missing from the archive: {path} not found")
        size = max(1, months_per_run)
        for start in range(0, len(todo), size):
            batch = todo[start : start + size]
            say(f"ingesting {len(batch)} month(s) from the archive ({start + len(batch)} of {len(todo)})")
            _run_batch(batch, lake_root, quarantine_root, catalog, held, report, say, spark_factory, in_process)
    return report


def _removal(old_lake: str) -> str:
    if storage.is_s3(old_lake):
        return f"aws s3 rm --recursive {old_lake.rstrip('/')}/"
    return f"rm -rf {old_lake}"


def summary(old_lake: str, report: Migration) -> list[str]:
    """The closing lines: counts, every month missing from the archive with the path looked for, and
    what to do with the old lake."""
    superseded = sum(len(m.superseded) for m in report.months)
    lines = [
        f"summary: {len(report.months)} month(s) in the Hive lake ({report.manifests} manifest(s)"
        + (f", {superseded} replaced by a later file of the same month" if superseded else "")
        + ")",
        f"  re-ingested                   {len(report.reingested)}",
        f"  already in the Iceberg lake   {len(report.already)}",
        f"  missing from the archive      {len(report.missing)}",
        *(f"    {line}" for line in report.missing),
        f"  other problems                {len(report.problems) - len(report.missing)}",
    ]
    if report.count_notes:
        lines.append(f"  {len(report.count_notes)} month(s) with other row counts than the Hive lake's (notes above)")
    if report.ok:
        lines.append(
            f"The Hive lake at {old_lake} was left as it was. Once satisfied with the Iceberg lake, remove it:"
            f" {_removal(old_lake)}  (keep the archive: it is every month's source)"
        )
    else:
        lines.append(
            f"Not every month is in the Iceberg lake: keep the Hive lake at {old_lake}; fix what is listed and"
            " run this again (months already migrated are not ingested again)"
        )
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ingestion.migrate_hive_lake", description=__doc__.split("\n\n")[0].replace("\n", " ")
    )
    parser.add_argument("--old-lake", required=True, help="the Hive-layout lake's root (its _manifests/ is read)")
    parser.add_argument("--archive", required=True, help="the archive root: <archive>/<service>/<sha256>/<file>")
    parser.add_argument("--lake", default=str(REPO_ROOT / ".local" / "lake"), help="the Iceberg lake's root")
    parser.add_argument("--quarantine", default=str(REPO_ROOT / ".local" / "quarantine"), help="its quarantine root")
    parser.add_argument(
        "--catalog",
        help="the Iceberg catalog: glue:<database> or sqlite:<path> (default: <lake>/_catalog.sqlite)",
    )
    parser.add_argument(
        "--months-per-run", type=int, default=MONTHS_PER_RUN, help="months per job run (one commit per table each)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def say(message: str) -> None:
        print(message, flush=True)

    try:
        report = migrate(
            args.old_lake,
            args.archive,
            args.lake,
            args.quarantine,
            args.catalog,
            args.months_per_run,
            progress=say,
        )
    except ArgumentsError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    for line in summary(args.old_lake, report):
        say(line)
    for problem in report.problems:
        print(f"error: {problem}", file=sys.stderr, flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
