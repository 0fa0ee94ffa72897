"""One raw file through every step, in one streaming pass: the work of one Spark task.

read a batch (`raw_batches`) -> cast to the contract's columns (`canonical`, zones from points for
the 2009-2016 layouts) -> trip_key (`trip_keys`) -> earlier duplicates (`duplicates`) -> rules
(`rules`) -> accepted rows to new data files of the lake table, the others (with reason and raw
record) to the quarantine table's -> next batch. Then: refuse a mislabeled or unreadable file,
reconcile the counts, and hand the files to the driver, which commits them (`ingestion.lake_commit`).
Memory stays at a batch plus 24 bytes a row for the duplicate check, whatever the file's size.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion import lake, manifest, raw_files, rules
from ingestion.canonical import Canonical, to_canonical
from ingestion.contract import QUARANTINE_TABLE
from ingestion.duplicates import SeenKeys
from ingestion.errors import BadFileError, ReconciliationError
from ingestion.raw_batches import IrregularRows, RawBatch, read_ahead, read_batches
from ingestion.raw_files import Inspection
from ingestion.results import FAILED, INGESTED, REFUSED, SKIPPED, FileResult
from ingestion.text import bounded_records, bounded_texts
from ingestion.trip_keys import key_hashes, key_text

Progress = Callable[[str], None]
PROGRESS_EVERY_SECONDS = 10.0
# More than this share of a file's rows unreadable: the layout is not what the contract knows, so the
# file is refused (its month keeps what it had) instead of loading a month of nothing.
UNREADABLE_SHARE = 0.5


@dataclass
class _Tally:
    rows_read: int = 0
    reasons: Counter = None  # type: ignore[assignment]
    warnings: Counter = None  # type: ignore[assignment]
    first_unreadable: str | None = None

    def __post_init__(self) -> None:
        self.reasons, self.warnings = Counter(), Counter()


def already_ingested(file_name: str, sha256: str, lake_root: str) -> dict | None:
    """The stored receipt when the lake already holds this exact file (same sha256), else None.

    A manifest the Hive-layout lake left at the same path (it has `lake_partition`, not `lake_table`)
    is no receipt: the Iceberg tables do not hold its rows (docs/iceberg_lake.md, "Migration")."""
    previous = manifest.read_manifest(lake_root, file_name)
    if not previous or "lake_table" not in previous:
        return None
    return previous if previous.get("sha256") == sha256 else None


def ingest_file(
    inspection: Inspection,
    lake_root: str,
    quarantine_root: str,
    targets: dict[str, lake.Target],
    sha256: str | None = None,
    progress: Progress | None = None,
) -> FileResult:
    """Ingest one inspected file into new data files of its lake table and of the quarantine
    (`targets`, by table name); never raises for a bad file (status `refused`) or a bug in the counts
    (status `failed`): either way its files are deleted. An ingested file's files wait for the driver's
    commit (`FileResult.data_files`)."""
    raw = inspection.raw
    started = time.monotonic()
    say = progress or (lambda message: None)
    try:
        sha256 = sha256 or raw_files.fingerprint(raw.path, raw.version_id)
        previous = already_ingested(raw.name, sha256, lake_root)
        if previous is not None:
            return FileResult(raw.name, raw.path, SKIPPED, manifest=previous, source_version=raw.version_id)
        result = _ingest(inspection, targets, sha256, say)
    except BadFileError as error:
        report = manifest.write_rejection(quarantine_root, raw.name, raw.path, error.problem)
        return FileResult(
            raw.name, raw.path, REFUSED, problem=error.problem, rejection_report=report, source_version=raw.version_id
        )
    except ReconciliationError as error:
        problem = str(error).split(": ", 1)[-1]
        return FileResult(raw.name, raw.path, FAILED, problem=problem, source_version=raw.version_id)
    result.seconds = time.monotonic() - started
    result.source_version = raw.version_id
    return result


def _ingest(inspection: Inspection, targets: dict[str, lake.Target], sha256: str, say: Progress) -> FileResult:
    raw = inspection.raw
    item = inspection.mapping.dataset
    for by_line in (False, True):
        writers = (
            targets[QUARANTINE_TABLE].writer(raw.service, raw.year, raw.month),
            targets[item.table].writer(raw.service, raw.year, raw.month),
        )
        try:
            tally = _stream(inspection, by_line, writers, say)
            files = [writer.close() for writer in writers]
            result = _reconcile(inspection, sha256, tally, files)
        except IrregularRows:
            for writer in writers:
                writer.discard()
            continue
        except BaseException:
            for writer in writers:
                writer.discard()
            raise
        data_files = {QUARANTINE_TABLE: files[0], item.table: files[1]}
        return FileResult(
            raw.name, raw.path, INGESTED, manifest=result, data_files=data_files, notes=_notes(inspection)
        )
    raise AssertionError("unreachable: the record-by-record read never raises IrregularRows")


def _notes(inspection: Inspection) -> list[str]:
    """What the run must say about a file it ingests whole: a file with no revenue column loads its
    month with NULL revenue."""
    missing = inspection.mapping.missing_revenue
    if not missing:
        return []
    return [f"WARNING: no revenue column ({', '.join(missing)}): every trip of the month loads with NULL revenue"]


def _stream(inspection: Inspection, by_line: bool, writers, say: Progress) -> _Tally:
    raw = inspection.raw
    item = inspection.mapping.dataset
    ctx = rules.Context(item, inspection.mapping, raw.year, raw.month)
    quarantine, accepted = writers
    seen = SeenKeys(_expected_rows(inspection))
    tally = _Tally()
    last_report = time.monotonic()
    for batch in read_ahead(read_batches(inspection, by_line=by_line)):
        rows = to_canonical(batch, inspection.mapping)
        service = pa.repeat(raw.service, rows.num_rows)
        values = [rows.columns[f.name] for f in item.fields]
        if item.key_includes_position:
            values.append(pa.array(rows.source_row, pa.int64()))
        first, second = key_hashes([pa.scalar(raw.service), *values], rows.num_rows)
        earlier = seen.first_rows(first, second, rows.source_row)
        reason = rules.classify(rows, ctx, earlier)
        keep = reason == rules.ACCEPTED
        keys = key_text(first, second)
        common = {
            "trip_key": keys,
            "service": service,
            "source_file": pa.repeat(raw.name, rows.num_rows),
            "source_row": pa.array(rows.source_row, pa.int64()),
            "year": pa.repeat(pa.scalar(raw.year, pa.int32()), rows.num_rows),
            "month": pa.repeat(pa.scalar(raw.month, pa.int32()), rows.num_rows),
        }
        if keep.all():
            accepted.write(_table(accepted.schema, {**common, **rows.columns}))
        elif keep.any():
            accepted.write(_table(accepted.schema, {**common, **rows.columns}).filter(pa.array(keep)))
        if not keep.all():
            quarantine.write(_quarantined(quarantine.schema, batch, rows, ctx, reason, earlier, common, tally))
            tally.reasons.update({rules.RULE_CODES[code]: int(n) for code, n in _counts(reason[~keep])})
        tally.warnings.update(rules.warnings(rows, ctx, keep))
        tally.rows_read += rows.num_rows
        if time.monotonic() - last_report > PROGRESS_EVERY_SECONDS:
            say(f"{raw.name}: {tally.rows_read:,} rows read")
            last_report = time.monotonic()
    return tally


def _expected_rows(inspection: Inspection) -> int:
    """The footer's row count, else a generous guess from the size (TLC CSV rows are 50-150 bytes;
    gzip shrinks them ~6x): it sizes the duplicate check's Bloom filter, never its answers."""
    if inspection.rows_in_footer is not None:
        return inspection.rows_in_footer
    return inspection.size * (6 if inspection.raw.fmt == "csv.gz" else 1) // 50


def _counts(codes: np.ndarray) -> list[tuple[int, int]]:
    values, counts = np.unique(codes, return_counts=True)
    return list(zip(values.tolist(), counts.tolist(), strict=True))


def _table(schema: pa.Schema, columns: dict[str, pa.Array]) -> pa.Table:
    """The columns in the schema's order and types (dictionary-encoded text decoded)."""
    arrays = [columns[field.name] for field in schema]
    arrays = [a.cast(f.type) if a.type != f.type else a for a, f in zip(arrays, schema, strict=True)]
    return pa.Table.from_arrays(arrays, schema=schema)


def _quarantined(
    schema: pa.Schema,
    batch: RawBatch,
    rows: Canonical,
    ctx: rules.Context,
    reason: np.ndarray,
    earlier: np.ndarray,
    common: dict[str, pa.Array],
    tally: _Tally,
) -> pa.Table:
    """The rejected rows with reason code, reason text and the raw record; trip_key is null where the
    values could not be read. Reason and raw record are text a warehouse stores (`ingestion/text.py`)."""
    picked = np.flatnonzero(reason != rules.ACCEPTED)
    index = pa.array(picked, pa.int64())
    codes = pa.array(np.array(rules.RULE_CODES, dtype=object)[reason[picked]], pa.string())
    texts = rules.reason_texts(rows, ctx, picked, reason, earlier)
    unreadable = pc.equal(codes, "unparseable")
    if tally.first_unreadable is None and pc.any(unreadable).as_py():
        first = pc.index(unreadable, True).as_py()
        tally.first_unreadable = f"row {rows.source_row[picked[first]]}: {texts[first].as_py()}"
    keys = common["trip_key"].take(index)
    columns = {
        **{name: array.take(index) for name, array in common.items()},
        **{name: rows.columns[name].take(index) for name in ("pickup_at", "dropoff_at") if name in rows.columns},
        "trip_key": pc.if_else(unreadable, pa.scalar(None, pa.string()), keys),
        "reason_code": codes,
        "reason": bounded_texts(texts),
        "raw_record": bounded_records(batch.records(picked)),
    }
    for name in ("pickup_location_id", "dropoff_location_id"):
        columns[name] = rows.columns[name].take(index) if name in rows.columns else pa.nulls(len(picked), pa.int32())
    return _table(schema, columns)


def _reconcile(inspection: Inspection, sha256: str, tally: _Tally, files: list[list[str]]) -> dict:
    raw = inspection.raw
    quarantine, accepted = files
    outside = tally.reasons.get("pickup_outside_file_month", 0)
    rules.check_file_month(raw.path, raw.year, raw.month, tally.rows_read, outside)
    unreadable = tally.reasons.get("unparseable", 0)
    if tally.rows_read and unreadable / tally.rows_read > UNREADABLE_SHARE:
        raise BadFileError(
            raw.path,
            f"{unreadable:,} of {tally.rows_read:,} rows cannot be read ({tally.first_unreadable}):"
            " the layout is not one ingestion/contract/ knows",
        )
    if inspection.rows_in_footer is not None and inspection.rows_in_footer != tally.rows_read:
        raise ReconciliationError(
            f"{raw.name}: the footer promises {inspection.rows_in_footer} rows, {tally.rows_read} were read"
        )
    return manifest.build_manifest(
        raw,
        sha256,
        tally.rows_read,
        lake.count_rows(accepted),
        lake.count_rows(quarantine),
        tally.reasons,
        tally.warnings,
        source_version=raw.version_id,
        delivered_at=inspection.delivered_at,
        lake_table=inspection.mapping.dataset.table,
    )
