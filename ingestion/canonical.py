"""Raw values -> the contract's typed columns, in Arrow, one batch at a time.

Each field is cast from whatever its raw column holds (CSV text, or Parquet ints, doubles, decimals,
naive or zone-aware timestamps) to the field's logical type. A present value that cannot be cast
becomes null and sets the field's bit in `failed` (the row is then `unparseable`); an absent column
is null for every row. Text is trimmed and '' counts as absent. Counts and codes accept integral
doubles (1.0 -> 1) and fail on fractions; amounts are rounded half-up to cents and fail beyond
decimal(12,2); timestamps carrying a zone become NYC wall-clock time; codes of the 2009-2014
layouts spelled in text (`CSH`, `VTS`, `1` for a store-and-forward flag) map to today's codes
(ingestion/contract/codes.py), and a text code found in no table is kept aside as `unmapped` (a
data-quality warning, never a failed value). Text the warehouses cannot store (a NUL character, more
bytes than Redshift's VARCHAR holds: `ingestion/text.py`) fails too, and is marked in `unstorable`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.contract import logical_type
from ingestion.contract.datasets import Field
from ingestion.contract.types import AMOUNT_PRECISION
from ingestion.mapping import ColumnMapping
from ingestion.raw_batches import RawBatch
from ingestion.text import max_value_bytes, unstorable

NYC = "America/New_York"
# Tried in order after ISO-8601 text; TLC's CSV exports used these.
TIMESTAMP_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%Y-%m-%d %H:%M")
_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_AMOUNT_LIMIT = 10.0 ** (AMOUNT_PRECISION - 2)  # decimal(12,2) holds |x| < 10^10
_NOT_STORABLE = " holds a NUL character or more than {:,} bytes: no warehouse stores it"
SHAPE_BIT = 63  # bit of `failed` set when a CSV line has the wrong number of fields


@dataclass
class Canonical:
    """One batch in the contract's columns (field order), plus what could not be read."""

    columns: dict[str, pa.Array]
    failed: np.ndarray  # uint64 per row: bit i <=> field i failed to cast; SHAPE_BIT: wrong field count
    unmapped: dict[str, pa.Array]  # code field -> the text of codes no table knows (null elsewhere)
    source_row: np.ndarray
    unstorable: np.ndarray | None = None  # uint64 per row: bit i <=> field i is text no warehouse stores
    derived: dict = dataclasses.field(default_factory=dict)  # values the rules compute once per batch (rules.py)

    @property
    def num_rows(self) -> int:
        return len(self.source_row)


def plain(array: pa.Array) -> pa.Array:
    """The array without dictionary encoding."""
    return array.dictionary_decode() if pa.types.is_dictionary(array.type) else array


def _is_text(array: pa.Array) -> bool:
    return pa.types.is_string(array.type) or pa.types.is_large_string(array.type)


def _text(array: pa.Array) -> pa.Array:
    """Trimmed text, '' as null."""
    if pa.types.is_large_string(array.type):
        array = array.cast(pa.string())
    trimmed = pc.utf8_trim_whitespace(array)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _valid(array: pa.Array) -> np.ndarray:
    return np.asarray(array.is_valid(), dtype=bool) if array.null_count else np.ones(len(array), dtype=bool)


def _parse_double(text: pa.Array) -> pa.Array:
    """Text -> float64; what does not read as a number is null."""
    try:
        return pc.cast(text, pa.float64())
    except pa.ArrowInvalid:
        numeric = pc.match_substring_regex(text, _NUMBER)
        return pc.cast(pc.if_else(numeric, text, pa.scalar(None, pa.string())), pa.float64())


def _as_double(array: pa.Array) -> pa.Array:
    if _is_text(array):
        return _parse_double(_text(array))
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.float64())
    if pa.types.is_boolean(array.type) or pa.types.is_timestamp(array.type) or pa.types.is_date(array.type):
        return pa.nulls(len(array), pa.float64())  # not a number at all: failed where present
    return pc.cast(array, pa.float64(), safe=False)


def _doubles(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(the values as float64, which of them are present and finite), for the numeric casts below."""
    values = pc.cast(array, pa.float64()) if pa.types.is_integer(array.type) else _as_double(array)
    doubles = values.to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        return doubles, np.isfinite(doubles) & _valid(values)


def _integers(array: pa.Array, target: pa.DataType) -> pa.Array:
    """Whole numbers that fit `target`; fractions, out-of-range and non-numbers are null."""
    if pa.types.is_integer(array.type):
        wide = pc.cast(array, pa.int64())
    else:
        doubles, ok = _doubles(array)
        with np.errstate(invalid="ignore"):
            whole = ok & (np.floor(doubles) == doubles) & (np.abs(doubles) < 2.0**62)
        ints = np.where(whole, doubles, 0).astype(np.int64)
        wide = pa.array(ints, pa.int64(), mask=~whole)
    bound = 2**31 if target == pa.int32() else 2**62
    fits = pc.and_(pc.greater(wide, -bound), pc.less(wide, bound))
    return pc.cast(pc.if_else(fits, wide, pa.scalar(None, pa.int64())), target)


def _timestamps(array: pa.Array) -> pa.Array:
    if pa.types.is_timestamp(array.type):
        if array.type.tz is not None:  # an instant: NYC wall-clock time is what TLC means
            array = pc.local_timestamp(array.cast(pa.timestamp(array.type.unit, tz=NYC)))
        return array.cast(pa.timestamp("us"), safe=False)
    if pa.types.is_date(array.type):
        return array.cast(pa.timestamp("us"))
    if not _is_text(array):
        return pa.nulls(len(array), pa.timestamp("us"))
    text = _text(array)
    try:
        return pc.cast(text, pa.timestamp("us"))
    except pa.ArrowInvalid:
        pass
    parsed = [pc.strptime(text, "%Y-%m-%d %H:%M:%S", "us", error_is_null=True)]
    parsed += [pc.strptime(text, fmt, "us", error_is_null=True) for fmt in TIMESTAMP_FORMATS]
    return pc.coalesce(*parsed)


def _decimal_from_cents(cents: np.ndarray, valid: np.ndarray, data_type: pa.DataType) -> pa.Array:
    """A decimal128 array whose unscaled values are `cents` (two's-complement 128-bit little-endian)."""
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63
    validity = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    nulls = int((~valid).sum())
    return pa.Array.from_buffers(data_type, len(cents), [validity, pa.py_buffer(words)], null_count=nulls)


def _amounts(array: pa.Array, data_type: pa.DataType) -> pa.Array:
    """Half-up to cents: exact for every value with at most two decimals (all real fares)."""
    if pa.types.is_decimal(array.type):
        # ties away from zero, like the double path below; a value that rounds past decimal(12,2) is null
        rounded = _decimal_fits(pc.round(array, 2, round_mode="half_towards_infinity"), data_type)
        return pc.cast(rounded, pa.decimal128(38, 2)).cast(data_type, safe=False)
    doubles, ok = _doubles(array)
    with np.errstate(invalid="ignore"):
        ok &= np.abs(doubles) < _AMOUNT_LIMIT
        magnitude = np.floor(np.abs(np.where(ok, doubles, 0.0)) * 100 + 0.5 + 1e-6)
        ok &= magnitude < 10.0**AMOUNT_PRECISION  # 9999999999.995 rounds up past decimal(12,2)
    cents = np.copysign(np.where(ok, magnitude, 0.0), np.where(ok, doubles, 0.0)).astype(np.int64)
    return _decimal_from_cents(cents, ok, data_type)


def _decimal_fits(array: pa.Array, data_type: pa.DataType) -> pa.Array:
    """Decimal sources beyond decimal(12,2) are null (failed), not wrapped."""
    if not pa.types.is_decimal(array.type):
        return array
    limit = pa.scalar(_AMOUNT_LIMIT, pa.float64())
    fits = pc.less(pc.abs(pc.cast(array, pa.float64())), limit)
    return pc.if_else(fits, array, pa.scalar(None, array.type))


def _code_text(array: pa.Array) -> pa.Array:
    """A coded column as upper-case text ('1' for 1.0)."""
    if _is_text(array):
        return pc.utf8_upper(_text(array))
    if pa.types.is_floating(array.type) or pa.types.is_integer(array.type):
        return pc.cast(_integers(array, pa.int64()), pa.string())
    return pc.cast(array, pa.string())


def _map_legacy(text: pa.Array, field: Field) -> tuple[pa.Array, pa.Array]:
    """(text codes replaced by today's code where a table knows them, the rest unchanged)."""
    legacy = field.codes.legacy_map() if field.codes else {}
    if not legacy:
        return text, text
    spellings = pa.array(list(legacy))
    targets = pa.array([str(v) for v in legacy.values()])
    index = pc.index_in(text, value_set=spellings)
    mapped = pc.take(targets, index)
    return pc.coalesce(mapped, text), mapped


Cast = tuple[pa.Array, np.ndarray, pa.Array | None, np.ndarray]


def _cast_dictionary(field: Field, raw: pa.DictionaryArray) -> Cast:
    """A dictionary-encoded column (Parquet text read as a dictionary) cast on its few distinct values,
    then spread to the rows. Text fields stay dictionary-encoded (null where the value is)."""
    value, failed, unmapped, bad_text = _cast_field(field, raw.dictionary)
    indices = raw.indices

    def spread(mask: np.ndarray) -> np.ndarray:
        return np.asarray(pc.take(pa.array(mask), indices).fill_null(False), dtype=bool)

    failed, bad_text = spread(failed), spread(bad_text)
    unmapped = pc.take(unmapped, indices) if unmapped is not None else None
    if field.type != "string":
        return pc.take(value, indices), failed, unmapped, bad_text
    keep = pc.fill_null(pc.take(value.is_valid(), indices), False)
    return (
        pa.DictionaryArray.from_arrays(pc.if_else(keep, indices, pa.scalar(None, indices.type)), value),
        failed,
        unmapped,
        bad_text,
    )


def _storable(field: Field, text: pa.Array | None) -> tuple[pa.Array | None, np.ndarray]:
    """(`text` with null where a warehouse could not store the value, which values those were)."""
    if text is None:
        return None, np.zeros(0, dtype=bool)
    bad = unstorable(text, max_value_bytes(field.name if field.codes is not None else None))
    if bad.any():
        text = pc.if_else(pa.array(bad), pa.scalar(None, text.type), text)
    return text, bad


def _cast_field(field: Field, raw: pa.Array) -> Cast:
    """(value, failed mask, unmapped text codes or None, unstorable text mask)."""
    if pa.types.is_dictionary(raw.type):
        return _cast_dictionary(field, raw)
    target = logical_type(field.type).arrow
    present = _valid(_text(raw)) if _is_text(raw) else _valid(raw)
    unmapped = None
    if field.type == "timestamp":
        value = _timestamps(raw)
    elif field.type == "amount":
        value = _amounts(_decimal_fits(raw, target), target)
    elif field.type == "double":
        value = _as_double(raw)
        value = pc.if_else(pc.is_nan(value), pa.scalar(None, pa.float64()), value)
    elif field.type in ("int", "bigint") and field.codes is not None and _is_text(raw):
        text, _ = _map_legacy(pc.utf8_upper(_text(raw)), field)
        numeric = pc.match_substring_regex(text, _NUMBER)
        value = _integers(pc.if_else(numeric, text, pa.scalar(None, pa.string())), target)
        # text that is neither a number nor a known spelling: an unknown code, reported, not a failure
        unmapped = pc.if_else(pc.invert(numeric), text, pa.scalar(None, pa.string()))
        present = present & ~_valid(unmapped)
    elif field.type in ("int", "bigint"):
        value = _integers(raw, target)
    elif field.codes is not None:
        value, _ = _map_legacy(_code_text(raw), field)
    else:
        value = _text(raw) if _is_text(raw) else pc.cast(raw, pa.string())
    value = pc.cast(value, target)
    bad_text = np.zeros(len(raw), dtype=bool)
    if field.type == "string":
        value, bad_text = _storable(field, value)
    elif unmapped is not None:
        unmapped, bad_text = _storable(field, unmapped)
        present = present | bad_text
    failed = present & ~_valid(value)
    return value, failed, unmapped, bad_text


def to_canonical(batch: RawBatch, mapping: ColumnMapping) -> Canonical:
    """The batch in the contract's columns of its dataset (without trip_key/service/source_*)."""
    n = batch.num_rows
    failed = np.zeros(n, dtype=np.uint64)
    bad_texts = np.zeros(n, dtype=np.uint64)
    columns: dict[str, pa.Array] = {}
    unmapped: dict[str, pa.Array] = {}
    for bit, field in enumerate(mapping.dataset.fields):
        sources = mapping.sources.get(field.name, ())
        target = logical_type(field.type).arrow
        if not sources:
            columns[field.name] = pa.nulls(n, target)
            continue
        raw = batch.columns[sources[0]]
        if len(sources) > 1:  # coalesced aliases: the first non-empty one
            raw = pc.coalesce(*(_text(plain(batch.columns[s])) for s in sources))
        value, bad, codes, bad_text = _cast_field(field, raw)
        columns[field.name] = value
        failed[bad] |= np.uint64(1 << bit)
        bad_texts[bad_text] |= np.uint64(1 << bit)
        if codes is not None and codes.null_count < n:
            unmapped[field.name] = codes
    if mapping.zones_from_points:
        from ingestion.zones import assign_zones

        for zone, (longitude, latitude) in mapping.zones_from_points.items():
            zones = assign_zones(columns[longitude], columns[latitude])
            columns[zone] = pa.array(zones, pa.int32())
    if batch.shape_ok is not None:
        failed[~batch.shape_ok] |= np.uint64(1 << SHAPE_BIT)
    return Canonical(
        columns=columns, failed=failed, unmapped=unmapped, source_row=batch.source_row, unstorable=bad_texts
    )


def failure_labels(mapping: ColumnMapping, failed: int, unstorable_bits: int = 0) -> str:
    """What a row's `failed` bits mean: ``<field> (<raw column>)``, comma-separated; a field whose text
    no warehouse stores (`unstorable_bits`) says so."""
    labels = [
        f"{field.name} ({mapping.source_for(field.name)})"
        + (
            _NOT_STORABLE.format(max_value_bytes(field.name if field.codes else None))
            if unstorable_bits >> bit & 1
            else ""
        )
        for bit, field in enumerate(mapping.dataset.fields)
        if failed >> bit & 1
    ]
    if failed >> SHAPE_BIT & 1:
        labels.append("row has the wrong number of fields")
    return ", ".join(labels)
