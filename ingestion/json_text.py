"""Rows as JSON objects, built column-wise in Arrow: the quarantine's `raw_record` without a Python
loop per row (a file whose rows are mostly bad would otherwise spend minutes in `json.dumps`).

Text is escaped as JSON requires (backslash, quote, \\n, \\r, \\t); the rare value holding another
control character, and the rare column of a nested type, go through `json.dumps` instead. Numbers
stay numbers; timestamps, dates and non-finite floats become strings; nulls are JSON null.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

_NULL = pa.scalar("null", pa.string())
_OTHER_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))


def _quoted(text: pa.Array) -> pa.Array:
    for plain, escaped in _ESCAPES:
        text = pc.replace_substring(text, plain, escaped)
    return pc.binary_join_element_wise('"', text, '"', "")


def _text_values(array: pa.Array) -> pa.Array:
    text = array.cast(pa.string())
    quoted = _quoted(text)
    odd = pc.fill_null(pc.match_substring_regex(text, _OTHER_CONTROL), False)
    if pc.any(odd).as_py():
        dumped = pa.array([json.dumps(v) if v is not None else None for v in text.to_pylist()], pa.string())
        quoted = pc.if_else(odd, dumped, quoted)
    return quoted


def _values(array: pa.Array) -> pa.Array:
    """One JSON value per element, never null (JSON null instead)."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        return _values(array.dictionary_decode())
    if pa.types.is_null(kind):
        return pa.array(["null"] * len(array), pa.string())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        out = _text_values(array)
    elif pa.types.is_boolean(kind):
        out = pc.if_else(array, "true", "false")
    elif pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        out = array.cast(pa.string())
    elif pa.types.is_floating(kind):
        finite = pc.is_finite(array)
        text = array.cast(pa.string())
        out = pc.if_else(finite, text, pc.binary_join_element_wise('"', text, '"', ""))  # nan, inf, -inf
    elif pa.types.is_temporal(kind):  # digits, '-', ':', '.', ' ' and 'T' only: nothing to escape
        out = pc.binary_join_element_wise('"', array.cast(pa.string()), '"', "")
    else:  # nested or exotic types: rare in TLC files
        out = pa.array([json.dumps(v, default=str) for v in array.to_pylist()], pa.string())
    return pc.fill_null(out, _NULL)


def json_objects(columns: Mapping[str, pa.Array]) -> pa.Array:
    """`{"<name>": <value>, ...}` per row, keys in the mapping's order."""
    parts: list = []
    for position, (name, array) in enumerate(columns.items()):
        parts.append(("{" if position == 0 else ",") + json.dumps(name) + ":")
        parts.append(_values(array))
    if not parts:
        raise ValueError("no columns")
    parts.append("}")
    return pc.binary_join_element_wise(*parts, "")
