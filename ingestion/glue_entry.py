"""AWS Glue 5.0 entry point: the Glue job's script (infra/modules/ingest/job.tf uploads it).

The state machine starts the job with ``--inputs`` (one s3:// URI, or several separated by commas),
``--lake_root``, ``--quarantine_root`` and ``--archive_root`` (optional: where each raw file goes
once ingested; a refused one goes beside its report); this reads them with ``getResolvedOptions``
and calls the same `run_ingestion` as the local CLI, on Glue's own Spark session. The job fails
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

ARGUMENTS = ("inputs", "lake_root", "quarantine_root")
OPTIONAL_ARGUMENTS = ("archive_root",)


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


def split_inputs(text: str) -> list[str]:
    """'s3://a/x.parquet, s3://a/y.csv' (or a JSON list) -> the list of URIs."""
    text = text.strip()
    if text.startswith("["):
        return [str(item) for item in json.loads(text)]
    return [part.strip() for part in text.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> list:
    """Run the ingestion for the job's arguments; raise if any file was refused or failed.

    The files are hashed inside the Spark tasks, not on the driver: a backfill of
    hundreds of months reads each file once, in parallel on the workers.
    """
    from ingestion.job import run_ingestion
    from ingestion.results import summarize
    from ingestion.spark_session import get_spark

    args = resolve_arguments(sys.argv if argv is None else argv)
    results = run_ingestion(
        split_inputs(args["inputs"]),
        args["lake_root"],
        args["quarantine_root"],
        progress=lambda message: print(message, flush=True),
        archive_root=args.get("archive_root"),
        spark_factory=lambda: _glue_spark() or get_spark(),
        hash_files=False,
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
