"""The per-file manifest (ingestion/contract/layout.py `MANIFEST_FIELDS`) and the reconciliation it
guarantees.

The manifest is built by the Spark task that ingested the file and completed by the driver's commit
(its snapshot ids, `ingestion.lake_commit`). The lake's record of it is the load log, an Iceberg table;
the manifest is also kept as the file's receipt, one JSON object at ``<lake>/_manifests/<file name>.json``,
so a rerun can tell "already in the lake" by sha256 without opening the catalog. The receipt is
deleted before a commit that replaces its month and written after the load log, so it can be missing
when the lake holds the file (the rerun ingests again and converges) but never present when it does not.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

from ingestion import storage
from ingestion.contract import MANIFEST_DIR, MANIFEST_KEYS, REJECTED_DIR
from ingestion.errors import ReconciliationError
from ingestion.raw_files import RawFile


def utc_now() -> str:
    """ISO-8601 UTC timestamp with a Z, microsecond precision (also the partition's version)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
    warnings_by_code: Mapping[str, int],
    source_version: str | None = None,
    delivered_at: str = "",
    lake_table: str = "",
) -> dict:
    """The manifest for one file, keys in contract order; raises ReconciliationError if the counts do
    not add up.

    Pass counts from independent sources (rows_read from the reader, accepted/quarantined from the
    written Parquet footers, reasons from the classification) so the check means something.
    """
    manifest = {
        "source_file": raw.name,
        "source_path": raw.path,
        "source_version": source_version,
        "sha256": sha256,
        "service": raw.service,
        "year": raw.year,
        "month": raw.month,
        "rows_read": int(rows_read),
        "rows_accepted": int(rows_accepted),
        "rows_quarantined": int(rows_quarantined),
        "quarantined_by_reason": {code: int(n) for code, n in sorted(quarantined_by_reason.items()) if n},
        "warnings_by_code": {code: int(n) for code, n in sorted(warnings_by_code.items()) if n},
        "delivered_at": delivered_at,
        "lake_table": lake_table,
        "lake_snapshot_id": None,
        "quarantine_snapshot_id": None,
        "ingested_at": None,
    }
    assert tuple(manifest) == MANIFEST_KEYS, "manifest keys drifted from the contract"
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


def to_json_line(record: Mapping) -> str:
    """One JSON object on one line, newline-terminated."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def delete_manifest(lake_root: str, source_file: str) -> None:
    """Drop a file's receipt (before a commit replaces its month)."""
    storage.delete_file(manifest_path(lake_root, source_file))


def write_manifest(lake_root: str, manifest: Mapping) -> str:
    """Write the manifest (one line, whole-object write) and return its path."""
    path = manifest_path(lake_root, manifest["source_file"])
    storage.write_text(path, to_json_line(manifest))
    return path


def read_manifest(lake_root: str, source_file: str) -> dict | None:
    """The stored manifest for a file name, or None if it was never ingested."""
    text = storage.read_text(manifest_path(lake_root, source_file))
    return json.loads(text) if text else None


def write_rejection(quarantine_root: str, source_file: str, source_path: str, problem: str) -> str:
    """Record a refused file at ``_rejected_files/<name>.error.json``; return the path."""
    path = rejection_path(quarantine_root, source_file)
    report = {"source_file": source_file, "source_path": source_path, "problem": problem, "rejected_at": utc_now()}
    storage.write_text(path, json.dumps(report, indent=2) + "\n")
    return path
