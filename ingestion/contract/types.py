"""The logical column types of the lake and what each becomes in every system that stores it.

One row per type: the Arrow type the job writes, the Iceberg type of the lake tables (what the Glue
Data Catalog holds and Spectrum and Athena read), the PostgreSQL type the local raw layer uses.
Nothing else spells a column type.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

AMOUNT_PRECISION, AMOUNT_SCALE = 12, 2
# The longest text value the lake passes on, in UTF-8 bytes: Redshift's VARCHAR maximum (PostgreSQL's
# text holds more). Neither warehouse stores the NUL character (U+0000) in text. ingestion/RULES.md
# says what happens to a value beyond either (`ingestion/text.py` enforces it); the warehouse's whole
# text type is `varchar(MAX_TEXT_BYTES)`.
MAX_TEXT_BYTES = 65535
WHOLE_TEXT_SQL = f"varchar({MAX_TEXT_BYTES})"


@dataclass(frozen=True)
class LogicalType:
    """A lake column type and its spelling per system."""

    name: str
    arrow: pa.DataType
    iceberg: str  # the Iceberg spec's primitive type name (pyiceberg parses it)
    postgres: str
    # The Arrow type whose binary COPY encoding the PostgreSQL column reads, when it is not `arrow`.
    postgres_copy: pa.DataType | None = None

    @property
    def copy_arrow(self) -> pa.DataType:
        return self.postgres_copy or self.arrow


_TYPES = (
    LogicalType("string", pa.string(), "string", "text"),
    # A 128-bit key: 32 hex digits in the lake (what Spectrum and Athena read as text), 16 bytes in the
    # local warehouse (a uuid: half the width of the text, per row of the raw layer and of the facts).
    LogicalType("key", pa.string(), "string", "uuid", pa.binary(16)),
    LogicalType("int", pa.int32(), "int", "integer"),
    LogicalType("bigint", pa.int64(), "long", "bigint"),
    LogicalType("double", pa.float64(), "double", "double precision"),
    LogicalType(
        "amount",
        pa.decimal128(AMOUNT_PRECISION, AMOUNT_SCALE),
        f"decimal({AMOUNT_PRECISION}, {AMOUNT_SCALE})",
        f"numeric({AMOUNT_PRECISION},{AMOUNT_SCALE})",
    ),
    # NYC wall-clock time, stored without a zone (what TLC records).
    LogicalType("timestamp", pa.timestamp("us"), "timestamp", "timestamp"),
)
TYPES: dict[str, LogicalType] = {t.name: t for t in _TYPES}


def logical_type(name: str) -> LogicalType:
    """The type called `name`; KeyError names the known ones."""
    try:
        return TYPES[name]
    except KeyError:
        raise KeyError(f"unknown logical type {name!r}; known: {', '.join(TYPES)}") from None
