"""The ingestion job: an explicit list of raw files -> lake + quarantine partitions + manifests.

Files are processed one at a time, in the order given, on one Spark session. For each file:
inspect (no Spark) -> sha256 (skip if the manifest already has it) -> read + classify -> stage
accepted and quarantined rows -> reconcile the staged row counts -> publish both partitions ->
write the manifest. A file found bad on the way is refused: its problem goes to
``<quarantine>/_rejected_files/<name>.error.json``, its partitions are not touched, and the job
carries on with the next file.

With an archive root (production: the Glue job), the raw file leaves its landing place once the job
is done with it: an ingested (or already ingested) file is copied to
``<archive>/<service>/<sha256>/<name>``, a refused one to ``<quarantine>/_rejected_files/<name>``
beside its report, and then deleted where it was. Without one (``make run`` on a user's folder)
the raw files are never moved or deleted.

Command line (the local runner uses it; exits 1 if any file was refused, 2 on a bad input list):

    python -m ingestion.job --input PATH [--input PATH ...] --lake-root DIR --quarantine-root DIR
        [--archive-root DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from ingestion import lake, manifest, reader, rules, storage
from ingestion.errors import BadFileError, InputSetError
from ingestion.schema import QUARANTINE_COLUMNS, TRIP_COLUMNS
from ingestion.spark_session import configure_session

Progress = Callable[[str], None]


def check_unique_inputs(inputs: Sequence[str]) -> None:
    """Refuse an input list naming one file twice or two files for one service and month."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for path in inputs:
        name = storage.file_name(path)
        keys = [name]
        match = reader.FILE_NAME.match(name)
        if match:
            keys.append(f"{match['service']}_trips/{match['year']}-{match['month']}")
        for key in keys:
            if key in seen:
                problems.append(f"{name}: duplicate input ({key} also from {seen[key]})")
                break
            seen[key] = path
    if problems:
        raise InputSetError(problems)


def _refused(path: str, error: BadFileError, quarantine_root: str, report_path: str | None = None) -> dict:
    report_path = report_path or manifest.write_rejection(quarantine_root, error.file_name, path, error.problem)
    return {
        "source_file": error.file_name,
        "source_path": path,
        "status": "refused",
        "refused": True,
        "problem": error.problem,
        "error": str(error),
        "rejection_report": report_path,
    }


def archive_path(archive_root: str, service: str, sha256: str, source_file: str) -> str:
    """``<archive>/<service>/<sha256>/<file name>``: one object per distinct content of a file name.

    A re-released month gets its own key instead of overwriting the original, and the path follows
    from the manifest (``service``, ``sha256``, ``source_file``).
    """
    return storage.join(archive_root, service, sha256, source_file)


def rejected_file_path(quarantine_root: str, source_file: str) -> str:
    """``<quarantine>/_rejected_files/<file name>``: a refused raw file, beside its ``.error.json``."""
    return storage.join(quarantine_root, manifest.REJECTED_DIR, source_file)


def _exists(path: str) -> bool:
    try:
        return storage.stat_size(path) is not None
    except PermissionError:
        return False


def move_file(source: str, target: str) -> str:
    """Copy, then delete the source: a crash in between leaves both, and a rerun finishes the move."""
    if storage.spark_uri(source) != storage.spark_uri(target):
        storage.copy_file(source, target)
        storage.delete_file(source)
    return target


def _archive(path: str, result: dict, quarantine_root: str, archive_root: str) -> dict:
    """Move an ingested or skipped file to the archive; a refusal of an earlier upload is superseded."""
    name = result["source_file"]
    target = move_file(path, archive_path(archive_root, result["service"], result["sha256"], name))
    stale = rejected_file_path(quarantine_root, name)
    if storage.spark_uri(stale) != storage.spark_uri(path):
        storage.delete_file(stale)
    storage.delete_file(manifest.rejection_path(quarantine_root, name))
    return {**result, "archived_to": target}


def _earlier_run(path: str, lake_root: str, quarantine_root: str, archive_root: str) -> dict | None:
    """What an earlier run did with a file that is gone from `path` because that run moved it.

    An upload event can arrive twice: the second run reports the first one's outcome instead of
    refusing "file does not exist" (which would overwrite the real refusal report). None when the
    file is there, or when no earlier run explains its absence.
    """
    if _exists(path):
        return None
    name = storage.file_name(path)
    moved = rejected_file_path(quarantine_root, name)
    report_path = manifest.rejection_path(quarantine_root, name)
    report = storage.read_text(report_path)
    if report and _exists(moved):
        error = BadFileError(path, json.loads(report)["problem"])
        return {**_refused(path, error, quarantine_root, report_path), "moved_to": moved}
    previous = manifest.read_manifest(lake_root, name)
    if previous:
        target = archive_path(archive_root, previous["service"], previous["sha256"], name)
        return {**previous, "status": "skipped", "skipped": True, "archived_to": target}
    return None


def _release_checkpoint(frame: DataFrame) -> None:
    """Drop a local checkpoint's blocks now rather than at the driver's next GC: a Glue job ingests
    file after file in one session. Best effort: the blocks are cleaned up eventually anyway."""
    try:
        frame._jdf.queryExecution().logical().rdd().unpersist(False)
    except Exception:  # noqa: BLE001 - another Spark build may shape the plan differently
        pass


_ALL_ROWS = "_rows"


def _observed_counts(reasons: Observation, classified: DataFrame) -> dict[str, int]:
    """Rows in all (`_ALL_ROWS`) and per reason code, as observed during the quarantine write.

    When that write had no row to move, adaptive execution drops the stage that observed them
    and the metrics never arrive: then one counting job on the classified rows gives them.
    """
    observed = {code: int(n or 0) for code, n in reasons.get.items()}
    if _ALL_ROWS in observed:
        return observed
    rows = classified.groupBy("reason_code").count().collect()
    by_code = {row["reason_code"]: int(row["count"]) for row in rows}
    return {_ALL_ROWS: sum(by_code.values()), **{code: by_code.get(code, 0) for code in rules.RULE_CODES}}


def _reason_counts() -> list[Column]:
    """Observed metrics: all rows (``_rows``) and the rows of each reason code (by code)."""
    code = F.col("reason_code")
    return [
        F.count(F.lit(1)).alias(_ALL_ROWS),
        *(F.sum(F.when(code == rule, 1).otherwise(0)).alias(rule) for rule in rules.RULE_CODES),
    ]


def already_ingested(file_name: str, sha256: str, lake_root: str) -> dict | None:
    """The file's manifest marked skipped when the lake already holds this exact file (same sha256),
    else None. No Spark: the local runner asks this first and starts no JVM for a run with nothing new."""
    previous = manifest.read_manifest(lake_root, file_name)
    if previous and previous.get("sha256") == sha256:
        return {**previous, "status": "skipped", "skipped": True}
    return None


def ingest_file(spark: SparkSession, path: str, lake_root: str, quarantine_root: str) -> dict:
    """Ingest one file; returns its manifest plus ``status`` (and ``skipped``: true on a no-op).

    Raises BadFileError when the file must be refused (nothing has been published then), and
    ReconciliationError if the staged counts do not add up (a bug: nothing is published either).
    """
    inspection = reader.inspect_file(path)
    raw = inspection.raw
    sha256 = reader.fingerprint(inspection)
    previous = already_ingested(raw.name, sha256, lake_root)
    if previous is not None:
        return previous

    # The canonical rows (casts, trip_key's two hashes, a bitmask of failed casts) are computed once
    # and kept by a local checkpoint: row blocks on the executors, cheaper to build than a columnar
    # cache and a barrier that stops Catalyst from inlining the casts and hashing into every rule.
    # The duplicate keys (a small aggregation) are cached, so each write below scans the
    # checkpoint once. The counts per reason are observed while the quarantine is written (no pass
    # of their own). Text is built only for the rows written: trip_key's hex for accepted and
    # quarantined rows, reason texts and raw_record JSON for the quarantined ones.
    canonical = reader.read_canonical(spark, inspection).localCheckpoint(eager=True)
    repeated = rules.repeated_keys(canonical).persist(StorageLevel.MEMORY_AND_DISK)
    classified = rules.classify_codes(canonical, repeated, raw.year, raw.month)
    reasons = Observation(f"reasons-{storage.unique_suffix()}")
    observed = classified.observe(reasons, *_reason_counts())
    staged: list[lake.StagedPartition] = []
    try:
        quarantined = reader.with_texts(observed.where(F.col("reason_code").isNotNull()), inspection).withColumn(
            "reason", rules.reason_column(raw.year, raw.month)
        )
        staged.append(
            lake.stage_partition(
                quarantined.select(
                    *(reader.raw_record_column() if name == "raw_record" else name for name in QUARANTINE_COLUMNS)
                ),
                quarantine_root,
                raw.partition,
                None,
                shuffle=True,
            )
        )
        counts = _observed_counts(reasons, classified)
        total = counts.pop(_ALL_ROWS)
        rows_read = inspection.rows_in_footer
        if rows_read is None:  # CSV: a plain count of the file, independent of the rule pipeline
            rows_read = spark.read.option("header", True).csv(storage.spark_uri(raw.path)).count()
        rules.check_file_month(raw.path, raw.year, raw.month, total, counts.get("pickup_outside_file_month", 0))
        accepted_rows = total - sum(counts.values())
        staged.append(
            lake.stage_partition(
                reader.with_texts(classified.where(F.col("reason_code").isNull()), inspection).select(*TRIP_COLUMNS),
                lake_root,
                raw.partition,
                accepted_rows,
            )
        )
        quarantined_written = lake.count_rows(staged[0].staging)
        accepted_written = lake.count_rows(staged[1].staging)
        by_reason = {code: n for code, n in counts.items() if n}
        result = manifest.build_manifest(
            raw, sha256, rows_read, accepted_written, quarantined_written, by_reason
        )  # raises ReconciliationError before anything is published
    except BaseException:
        for item in staged:
            lake.discard(item)
        raise
    finally:
        repeated.unpersist()
        _release_checkpoint(canonical)
    for item in staged:  # quarantine first, then the lake, then the manifest
        lake.publish(item)
    manifest.write_manifest(lake_root, result)
    storage.delete_file(manifest.rejection_path(quarantine_root, raw.name))
    return {**result, "status": "ingested"}


def run_ingestion(
    spark: SparkSession,
    inputs: list[str],
    lake_root: str,
    quarantine_root: str,
    progress: Progress | None = None,
    archive_root: str | None = None,
) -> list[dict]:
    """Ingest `inputs` in order; one result dict per input, in the same order.

    Each result is the file's manifest with ``status`` ``ingested`` or ``skipped`` (also
    ``"skipped": true``: same sha256 already ingested, nothing done), or for a refused file
    ``{"source_file", "source_path", "status": "refused", "refused": true, "problem", "error",
    "rejection_report"}`` (``error`` is the one-line ``<file>: <problem>``).
    With `archive_root`, each raw file is then moved (copy, then delete): an ingested or skipped
    one to `archive_path` (result ``"archived_to"``), a refused one beside its report
    (``"moved_to"``; absent when there was no file to move). A file already moved by an earlier
    run is reported as that run left it. Without `archive_root` no raw file is moved or deleted.
    Raises InputSetError (a BadFileError) for duplicate inputs before doing anything.
    """
    check_unique_inputs(inputs)
    configure_session(spark)
    say = progress or (lambda message: None)
    results: list[dict] = []
    for path in inputs:
        started = time.monotonic()
        try:
            result = ingest_file(spark, path, lake_root, quarantine_root)
        except BadFileError as error:
            earlier = _earlier_run(path, lake_root, quarantine_root, archive_root) if archive_root else None
            if earlier is not None:
                result = earlier
                if result["status"] == "skipped":
                    say(f"{result['source_file']}: already ingested and archived to {result['archived_to']}, skipped")
                else:
                    say(f"{result['error']} -> refused by an earlier run, already moved to {result['moved_to']}")
            else:
                result = _refused(path, error, quarantine_root)
                if archive_root and _exists(path):
                    result["moved_to"] = move_file(path, rejected_file_path(quarantine_root, error.file_name))
                say(f"{error} -> refused" + (f", moved to {result['moved_to']}" if "moved_to" in result else ""))
        else:
            seconds = time.monotonic() - started
            if archive_root:
                result = _archive(path, result, quarantine_root, archive_root)
            archived = f", archived to {result['archived_to']}" if "archived_to" in result else ""
            if result["status"] == "skipped":
                say(f"{result['source_file']}: unchanged (sha256 already ingested), skipped{archived}")
            else:
                say(
                    f"{result['source_file']}: {result['rows_read']} read,"
                    f" {result['rows_accepted']} accepted,"
                    f" {result['rows_quarantined']} quarantined ({seconds:.1f} s){archived}"
                )
        results.append(result)
    return results


def summarize(results: list[dict]) -> dict:
    """The JSON summary the CLI prints."""
    statuses = [r["status"] for r in results]
    return {
        "ok": "refused" not in statuses,
        "ingested": statuses.count("ingested"),
        "skipped": statuses.count("skipped"),
        "refused": statuses.count("refused"),
        "files": results,
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Arguments shared by the CLI and (by name) the Glue entry point."""
    parser = argparse.ArgumentParser(prog="python -m ingestion.job", description=__doc__.split("\n")[0])
    parser.add_argument("--input", action="append", required=True, help="raw file (repeatable)")
    parser.add_argument("--lake-root", required=True)
    parser.add_argument("--quarantine-root", required=True)
    parser.add_argument(
        "--archive-root", help="move each raw file here once ingested (refused: to the quarantine); default: never move"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: print the JSON summary to stdout, progress to stderr; 0 ok, 1 refused, 2 bad list."""
    args = parse_args(argv)
    try:
        check_unique_inputs(args.input)
    except InputSetError as error:
        print(json.dumps({"ok": False, "error": str(error), "problems": error.problems}, indent=2))
        return 2
    from ingestion.spark_session import get_spark

    spark = get_spark()
    results = run_ingestion(
        spark,
        args.input,
        args.lake_root,
        args.quarantine_root,
        progress=lambda message: print(message, file=sys.stderr, flush=True),
        archive_root=args.archive_root,
    )
    summary = summarize(results)
    print(json.dumps(summary, indent=2))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
