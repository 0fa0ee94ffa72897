"""Text the warehouses can store, and text a person can read on one line.

Storing: a lake text value holds no NUL character and at most `MAX_TEXT_BYTES` UTF-8 bytes
(`ingestion/contract/types.py`: Redshift's VARCHAR maximum; PostgreSQL's COPY refuses a NUL). A
coded column's value must also fit its warning key ``column=value`` (the manifests' `warnings_by_code`,
the warehouse's `rpt_unknown_codes.warning_key`). A row whose value breaks this is quarantined
(`canonical`, rule `unparseable` in ingestion/RULES.md); the quarantine's own text (`raw_record`,
`reason`) is made to fit instead (`bounded_records`, `bounded_texts`).

Showing: `shown` escapes what is not printable (a newline, a NUL) and cuts a value to `MAX_SHOWN_CHARS`
characters, naming its full size, for every message and summary line that quotes a value from a file.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.contract.types import MAX_TEXT_BYTES

NUL = "\x00"
MAX_SHOWN_CHARS = 80
# a whole message (a refusal's problem, a failed run's cause) may quote several values: longer, still one line
MAX_MESSAGE_CHARS = 1000


def max_value_bytes(coded_column: str | None = None) -> int:
    """The longest storable value: of any text column, or of a coded column (whose `column=value` must fit)."""
    return MAX_TEXT_BYTES if coded_column is None else MAX_TEXT_BYTES - len(f"{coded_column}=".encode())


def unstorable(array: pa.Array, limit: int = MAX_TEXT_BYTES) -> np.ndarray:
    """Which text values (null: none) hold a NUL or are longer than `limit` UTF-8 bytes."""
    if pa.types.is_large_string(array.type):
        array = array.cast(pa.string())
    bad = pc.or_(pc.greater(pc.binary_length(array), limit), pc.match_substring(array, NUL))
    return np.asarray(pc.fill_null(bad, False), dtype=bool)


def _bounded_record(record: str) -> str:
    """A JSON object over MAX_TEXT_BYTES as a JSON object that fits: its size and its head as text."""
    size = len(record.encode())
    head_bytes = MAX_TEXT_BYTES
    while True:
        head = record.encode()[:head_bytes].decode("utf-8", errors="ignore")
        out = json.dumps({"_truncated_from_bytes": size, "_head": head}, ensure_ascii=False)
        excess = len(out.encode()) - MAX_TEXT_BYTES
        if excess <= 0:
            return out
        head_bytes -= excess


def bounded_records(records: pa.Array) -> pa.Array:
    """Quarantine `raw_record`s that fit: one over MAX_TEXT_BYTES becomes
    ``{"_truncated_from_bytes": <its size>, "_head": "<its first bytes>"}`` (JSON escapes any NUL)."""
    over = np.asarray(pc.fill_null(pc.greater(pc.binary_length(records), MAX_TEXT_BYTES), False), dtype=bool)
    if not over.any():
        return records
    values = records.to_pylist()
    for i in np.flatnonzero(over):
        values[i] = _bounded_record(values[i])
    return pa.array(values, pa.string())


def bounded_texts(texts: pa.Array) -> pa.Array:
    """Quarantine `reason`s that fit: no NUL, and cut (with a note) past MAX_TEXT_BYTES."""
    bad = unstorable(texts)
    if not bad.any():
        return texts
    values = texts.to_pylist()
    for i in np.flatnonzero(bad):
        values[i] = shown(values[i], MAX_TEXT_BYTES // 8)
    return pa.array(values, pa.string())


def _escaped(char: str) -> str:
    return char if char.isprintable() else char.encode("unicode_escape").decode("ascii")


def shown(value: object, limit: int = MAX_SHOWN_CHARS) -> str:
    """`value` as text for one line: non-printable characters escaped (``\\n``, ``\\x00``), at most
    `limit` characters of it, then `... (<n> bytes)` when it was longer."""
    text = str(value)
    escaped = "".join(_escaped(char) for char in text[: limit + 1])
    if len(escaped) <= limit and len(text) <= limit:
        return escaped
    return f"{escaped[:limit]}... ({len(text.encode('utf-8', errors='replace')):,} bytes)"
