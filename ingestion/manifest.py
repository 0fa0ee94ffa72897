"""The per-file manifest (docs/data_contracts.md section 2) and the reconciliation it guarantees.

One JSON object per ingested file at ``<lake>/_manifests/<file name>.json``. It is written last,
after both partitions are published, so a manifest always describes what is in the lake; a rerun
that finds the same sha256 has nothing to do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping

from ingestion import storage
from ingestion.errors import ReconciliationError
from ingestion.reader import RawFile

MANIFEST_DIR = "_manifests"
REJECTED_DIR = "_rejected_files"


def utc_now() -> str:
    """ISO-8601 UTC timestamp with a Z, second precision."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256_file(path: str) -> str:
    """sha256 hex of a local or S3 file, streamed."""
    digest = hashlib.sha256()
    for chunk in storage.iter_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def manifest_path(lake_root: str, source_file: str) -> str:
    """``<lake>/_manifests/<source_file>.json``."""
    return storage.join(lake_root, MANIFEST_DIR, f"{source_file}.json")


def rejection_path(quarantine_root: str, source_file: str) -> str:
    """``<quarantine>/_rejected_files/<source_file>.error.json``."""
    return storage.join(quarantine_root, REJECTED_DIR, f"{source_file}.error.json")


def build_manifest(
    raw: RawFile,
    sha256: str,
    rows_read: int,
    rows_accepted: int,
    rows_quarantined: int,
    quarantined_by_reason: Mapping[str, int],
    ingested_at: str | None = None,
) -> dict:
    """The manifest for one file; raises ReconciliationError if the counts do not add up.

    Pass counts from independent sources (rows_read from the raw file, accepted/quarantined from
    the written Parquet footers, reasons from the classification) so the check means something.
    """
    by_reason = {code: int(n) for code, n in sorted(quarantined_by_reason.items()) if n}
    manifest = {
        "source_file": raw.name,
        "source_path": raw.path,
        "sha256": sha256,
        "service": raw.service,
        "year": raw.year,
        "month": raw.month,
        "rows_read": int(rows_read),
        "rows_accepted": int(rows_accepted),
        "rows_quarantined": int(rows_quarantined),
        "quarantined_by_reason": by_reason,
        "lake_partition": raw.partition,
        "quarantine_partition": raw.partition,
        "ingested_at": ingested_at or utc_now(),
    }
    check_reconciliation(manifest)
    return manifest


def check_reconciliation(manifest: Mapping) -> None:
    """rows_read == rows_accepted + rows_quarantined, and the reasons sum to the quarantine."""
    read, accepted = manifest["rows_read"], manifest["rows_accepted"]
    quarantined = manifest["rows_quarantined"]
    by_reason = sum(manifest["quarantined_by_reason"].values())
    if read != accepted + quarantined or by_reason != quarantined:
        raise ReconciliationError(
            f"{manifest['source_file']}: rows_read {read} != rows_accepted {accepted}"
            f" + rows_quarantined {quarantined} (reasons sum to {by_reason});"
            " nothing was published for this file"
        )


def write_manifest(lake_root: str, manifest: Mapping) -> str:
    """Write the manifest (whole-object write) and return its path."""
    path = manifest_path(lake_root, manifest["source_file"])
    storage.write_text(path, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return path


def read_manifest(lake_root: str, source_file: str) -> dict | None:
    """The stored manifest for a file name, or None if it was never ingested."""
    text = storage.read_text(manifest_path(lake_root, source_file))
    return json.loads(text) if text else None


def write_rejection(quarantine_root: str, source_file: str, source_path: str, problem: str) -> str:
    """Record a refused file at ``_rejected_files/<name>.error.json``; return the path."""
    path = rejection_path(quarantine_root, source_file)
    report = {
        "source_file": source_file,
        "source_path": source_path,
        "problem": problem,
        "rejected_at": utc_now(),
    }
    storage.write_text(path, json.dumps(report, indent=2) + "\n")
    return path
