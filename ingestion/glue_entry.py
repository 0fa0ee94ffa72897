"""AWS Glue 5.0 entry point: the Glue job's script (infra/modules/ingest/job.tf uploads it).

The state machine starts the job with ``--inputs``, ``--lake_root``, ``--quarantine_root``,
``--archive_root`` (optional: where each raw file goes once ingested; a refused one goes beside its
report) and ``--catalog`` (``glue:<database>``: the Glue Data Catalog database the lake's Iceberg tables
are committed to); this reads them with ``getResolvedOptions`` and calls the same `run_ingestion` as the
local CLI, on Glue's own Spark session. Terraform also gives ``--column_stats_role``,
``--column_stats_schedule`` (``cron(...)``) and ``--column_stats_security_configuration``: the Glue column
statistics settings every lake table gets (`ingestion.lake_statistics`; both of the first two, or none).

``--inputs``, the objects to ingest, each pinned to one S3 object version (`parse_inputs`):

    [{"uri": "s3://<landing>/landing/yellow_tripdata_2024-01.parquet", "version_id": "3HL4kqtJlcpXroDTDmJ"}]

a JSON list of objects, ``uri`` required, ``version_id`` the S3 version the upload event named, or null
(a hand-started run: the job pins the version that is current when it starts, `storage.current_version`).
The state machine's PinInputVersion state builds it from the event's ``detail.object.version-id``. The
job reads, hashes, archives and deletes that version and no other (`ingestion.storage` takes
``version_id``), so a re-upload of the same key during the run is left in landing for its own execution.
A version is never written into the URI (``?versionId=``): an S3 key may itself contain ``?``. Two
older forms are still read, with no version: a JSON list of URI strings, and URIs separated by commas. The job fails
(so the state machine's Catch fires) when any input was refused; the refusal reports are already
written to ``<quarantine>/_rejected_files/`` by then.

``awsglue`` only exists on Glue; without it (tests, a laptop) the same arguments are parsed with
argparse, so this file stays importable and testable everywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass

ARGUMENTS = ("inputs", "lake_root", "quarantine_root")
OPTIONAL_ARGUMENTS = (
    "archive_root",
    "catalog",
    "column_stats_role",
    "column_stats_schedule",
    "column_stats_security_configuration",
)


def resolve_arguments(argv: Sequence[str]) -> dict[str, str]:
    """``{"inputs", "lake_root", "quarantine_root"}`` (+ ``archive_root`` if given) from Glue's argv."""
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:  # not on Glue
        parser = argparse.ArgumentParser(prog="glue_entry")
        for name in ARGUMENTS:
            parser.add_argument(f"--{name}", required=True)
        for name in OPTIONAL_ARGUMENTS:
            parser.add_argument(f"--{name}", default=argparse.SUPPRESS)
        known, _ = parser.parse_known_args(list(argv)[1:])
        return vars(known)
    # getResolvedOptions fails on a name that is not in argv: ask for an optional one only if present.
    names = [*ARGUMENTS, *(name for name in OPTIONAL_ARGUMENTS if f"--{name}" in argv)]
    resolved = getResolvedOptions(list(argv), names)
    return {name: resolved[name] for name in names}


@dataclass(frozen=True)
class PinnedInput:
    """One object to ingest: its URI and the S3 version to read (None: pin the current one at start)."""

    uri: str
    version_id: str | None = None


def parse_inputs(text: str) -> list[PinnedInput]:
    """``--inputs`` (the module docstring's forms) -> the objects, in order; ValueError names what is wrong."""
    text = text.strip()
    if not text.startswith("["):
        return [PinnedInput(part.strip()) for part in text.split(",") if part.strip()]
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--inputs is not valid JSON ({exc}): {text[:200]}") from None
    inputs = []
    for position, item in enumerate(items):
        if isinstance(item, str):
            inputs.append(PinnedInput(item))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("uri"), str) or not item["uri"]:
            raise ValueError(f"--inputs item {position} must be a URI or {{'uri': ..., 'version_id': ...}}: {item!r}")
        version = item.get("version_id")
        if version is not None and (not isinstance(version, str) or not version):
            raise ValueError(f"--inputs item {position}: version_id must be a non-empty string or null: {version!r}")
        unknown = set(item) - {"uri", "version_id"}
        if unknown:
            raise ValueError(f"--inputs item {position} has unknown keys {sorted(unknown)}")
        inputs.append(PinnedInput(item["uri"], version))
    return inputs


def main(argv: Sequence[str] | None = None) -> list:
    """Run the ingestion for the job's arguments; raise if any file was refused or failed.

    The files are hashed inside the Spark tasks, not on the driver: a backfill of
    hundreds of months reads each file once, in parallel on the workers.
    """
    from ingestion.job import run_ingestion
    from ingestion.lake_statistics import from_arguments
    from ingestion.results import summarize
    from ingestion.spark_session import get_spark

    args = resolve_arguments(sys.argv if argv is None else argv)
    pinned = parse_inputs(args["inputs"])
    results = run_ingestion(
        [item.uri for item in pinned],
        args["lake_root"],
        args["quarantine_root"],
        progress=lambda message: print(message, flush=True),
        archive_root=args.get("archive_root"),
        catalog=args.get("catalog"),
        spark_factory=lambda: _glue_spark() or get_spark(),
        hash_files=False,
        versions={item.uri: item.version_id for item in pinned},
        column_statistics=from_arguments(args),
    )
    summary = summarize(results)
    print(json.dumps(summary, indent=2, default=str))
    if not summary["ok"]:
        bad = "; ".join(r.error for r in results if not r.ok)
        raise RuntimeError(f"ingestion refused or failed {summary['refused'] + summary['failed']} file(s): {bad}")
    return results


def _glue_spark():
    """Glue's session through GlueContext when running on Glue, else None."""
    try:
        from awsglue.context import GlueContext
        from pyspark.context import SparkContext
    except ImportError:
        return None
    return GlueContext(SparkContext.getOrCreate()).spark_session


if __name__ == "__main__":
    main()
