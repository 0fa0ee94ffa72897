"""Read one raw TLC file into the canonical schema, after checking the file as a whole.

Two layers:

* file-level checks that need no Spark job (`inspect_file`, `preflight`, `fingerprint`): name,
  existence, emptiness, Parquet footer / CSV header, column mapping, UTF-8. Each failure is a
  `BadFileError` with a one-line message such as
  ``yellow_tripdata_2024-01.parquet: truncated or corrupt Parquet (no footer)``.
* `read_raw`: a lazy DataFrame with the canonical columns plus ``source_file``, ``source_row``
  (1-based position of the data row in the file, stable across reruns), ``_raw`` (struct of the
  original columns; `raw_record_column` turns it into the ``raw_record`` JSON) and
  ``_unparseable`` (names of columns whose value failed to cast).
"""

from __future__ import annotations

import codecs
import csv
import functools
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark import SparkContext
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DataType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampNTZType,
    TimestampType,
)

from ingestion import storage
from ingestion.errors import BadFileError, InputSetError
from ingestion.schema import (
    AMOUNT,
    AMOUNT_KIND,
    DOUBLE_KIND,
    FAILED_MASK,
    FLAG_KIND,
    INT_KIND,
    KEY_HASHES,
    TIMESTAMP_KIND,
    TRIP_KEY_COLUMNS,
    VALUE_COLUMNS,
    ColumnMapping,
    map_columns,
)

FILE_NAME = re.compile(r"^(?P<service>yellow|green)_tripdata_(?P<year>\d{4})-(?P<month>\d{2})\.(?P<fmt>parquet|csv)$")
PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
CSV_HEAD_BYTES = 64 * 1024
CORRUPT_RECORD = "_corrupt_record"
RAW_STRUCT = "_raw"
# Extra formats seen in TLC CSV exports; ISO-like text is handled by a plain cast first.
CSV_TIMESTAMP_FORMATS = ("MM/dd/yyyy hh:mm:ss a", "MM/dd/yyyy HH:mm:ss", "MM/dd/yyyy HH:mm")


@dataclass(frozen=True)
class RawFile:
    """What a raw file's name promises: service, month and format."""

    path: str
    name: str
    service: str
    year: int
    month: int
    fmt: str

    @property
    def partition(self) -> str:
        """Relative partition path shared by the lake and the quarantine."""
        return f"{self.service}_trips/year={self.year:04d}/month={self.month:02d}"


@dataclass(frozen=True)
class Inspection:
    """What the cheap, Spark-free look at a file found; `read_raw` builds on it."""

    raw: RawFile
    size: int
    mapping: ColumnMapping
    rows_in_footer: int | None  # Parquet only: the row count the footer promises


def parse_raw_file(path: str) -> RawFile:
    """Parse `{yellow|green}_tripdata_YYYY-MM.(parquet|csv)`; BadFileError otherwise."""
    name = storage.file_name(path)
    match = FILE_NAME.match(name)
    if not match:
        raise BadFileError(path, "name does not match {yellow|green}_tripdata_YYYY-MM.(parquet|csv)")
    month = int(match["month"])
    if not 1 <= month <= 12:
        raise BadFileError(path, f"month {match['month']} in the name is not 01..12")
    return RawFile(
        path=path,
        name=name,
        service=match["service"],
        year=int(match["year"]),
        month=month,
        fmt=match["fmt"],
    )


def _parquet_columns(raw: RawFile, size: int) -> tuple[list[str], int]:
    with storage.open_binary(raw.path) as handle:
        handle.seek(max(0, size - 4))
        if size < 12 or handle.read(4) != PARQUET_MAGIC:
            raise BadFileError(raw.path, "truncated or corrupt Parquet (no footer)")
        handle.seek(0)
        try:
            metadata = pq.ParquetFile(handle).metadata
        except (pa.ArrowException, OSError) as exc:
            raise BadFileError(raw.path, f"corrupt Parquet footer ({exc})") from exc
    if metadata.num_rows == 0:
        raise BadFileError(raw.path, "Parquet file has a schema but no rows")
    return list(metadata.schema.to_arrow_schema().names), metadata.num_rows


def _csv_columns(raw: RawFile) -> list[str]:
    with storage.open_binary(raw.path) as handle:
        head = handle.read(CSV_HEAD_BYTES)
    if head.startswith(PARQUET_MAGIC):
        raise BadFileError(raw.path, "is a Parquet file named .csv")
    if head.startswith(GZIP_MAGIC):
        raise BadFileError(raw.path, "is a gzip-compressed file named .csv; decompress it first")
    if head.startswith(ZIP_MAGIC):
        raise BadFileError(raw.path, "is a zip archive named .csv; extract the CSV from it first")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        cut_at_limit = len(head) == CSV_HEAD_BYTES and exc.reason == "unexpected end of data"
        if not cut_at_limit:  # a real bad byte, not a multi-byte character cut by the head limit
            raise BadFileError(
                raw.path, f"not UTF-8 text (byte 0x{head[exc.start]:02x} at offset {exc.start})"
            ) from exc
        text = head[: exc.start].decode("utf-8-sig")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise BadFileError(raw.path, "CSV has no header line")
    header = next(csv.reader(io.StringIO(lines[0])))
    if len(lines) < 2:
        raise BadFileError(raw.path, "CSV has a header but no data rows")
    return [name.strip() for name in header]


def inspect_file(path: str) -> Inspection:
    """All checks that need no Spark job: name, existence, size, footer/header, column mapping.

    Reads at most the Parquet footer or the first 64 KiB of a CSV. Raises BadFileError.
    """
    raw = parse_raw_file(path)
    try:
        size = storage.stat_size(path)
    except PermissionError as exc:
        raise BadFileError(path, "file is not readable (permission denied)") from exc
    if size is None:
        raise BadFileError(path, "file does not exist or is not readable")
    if size == 0:
        raise BadFileError(path, "file is empty (0 bytes)")
    try:
        if raw.fmt == "parquet":
            columns, rows = _parquet_columns(raw, size)
        else:
            columns, rows = _csv_columns(raw), None
    except PermissionError as exc:
        raise BadFileError(path, "file is not readable (permission denied)") from exc
    mapping = map_columns(raw.name, raw.service, columns)
    return Inspection(raw=raw, size=size, mapping=mapping, rows_in_footer=rows)


def preflight(paths: Sequence[str]) -> list[Inspection]:
    """Check a whole input set before anything is loaded; no Spark job runs.

    Refuses duplicates (same file name twice, or two files for the same service and month, which
    would write the same partition). Raises InputSetError listing every problem, one per file.
    """
    problems: list[str] = []
    inspections: list[Inspection] = []
    seen: dict[str, str] = {}
    for path in paths:
        try:
            inspection = inspect_file(path)
        except BadFileError as exc:
            problems.append(str(exc))
            continue
        for key in (inspection.raw.name, inspection.raw.partition):
            if key in seen:
                problems.append(f"{inspection.raw.name}: duplicate input ({key} also from {seen[key]})")
                break
        else:
            seen[inspection.raw.name] = path
            seen[inspection.raw.partition] = path
            inspections.append(inspection)
    if problems:
        raise InputSetError(problems)
    return inspections


def fingerprint(inspection: Inspection) -> str:
    """sha256 of the raw file in one streaming pass; for CSV also proves the bytes are UTF-8."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")() if inspection.raw.fmt == "csv" else None
    offset = 0
    for chunk in storage.iter_chunks(inspection.raw.path):
        digest.update(chunk)
        if decoder is not None:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                position = offset + exc.start
                raise BadFileError(
                    inspection.raw.path,
                    f"not UTF-8 text (byte 0x{chunk[exc.start]:02x} at offset {position}); re-export the file as UTF-8",
                ) from exc
        offset += len(chunk)
    if decoder is not None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise BadFileError(inspection.raw.path, "not UTF-8 text (truncated character at end)") from exc
    return digest.hexdigest()


# ---------- casting raw values to canonical columns


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _to_timestamp(source: Column, raw_type: DataType) -> Column:
    if isinstance(raw_type, TimestampType | TimestampNTZType):
        return source.cast("timestamp")
    if isinstance(raw_type, LongType):
        # Parquet INT64 TIMESTAMP(NANOS), read as long (spark.sql.legacy.parquet.nanosAsLong).
        return F.timestamp_micros(F.floor(source / 1000))
    text = source.cast("string")
    return F.coalesce(
        F.try_to_timestamp(text),
        *(F.try_to_timestamp(text, F.lit(fmt)) for fmt in CSV_TIMESTAMP_FORMATS),
    )


def canonical_column(raw: Column | None, raw_type: DataType | None, kind: str) -> tuple[Column, Column]:
    """(value, failed) for one canonical column.

    `value` is the raw value cast to the canonical type; `failed` is true when a present raw
    value could not be cast. Text is trimmed and '' counts as absent. Counts and codes accept
    integral doubles (1.0 -> 1) and fail on fractions; amounts fail when they do not fit
    decimal(12,2). Relies on non-ANSI casts (null on failure), which `configure_session` sets.
    """
    spark_type = {
        TIMESTAMP_KIND: "timestamp",
        INT_KIND: "int",
        DOUBLE_KIND: "double",
        AMOUNT_KIND: AMOUNT.simpleString(),
        FLAG_KIND: "string",
    }[kind]
    if raw is None or raw_type is None:
        return F.lit(None).cast(spark_type), F.lit(False)
    if isinstance(raw_type, StringType):
        source = F.trim(raw)
        present = F.coalesce(source != "", F.lit(False))
    else:
        source = raw
        present = raw.isNotNull()
    if kind == TIMESTAMP_KIND:
        value = _to_timestamp(source, raw_type)
    elif kind == FLAG_KIND:
        text = F.upper(source.cast("string"))
        value = F.when(text != "", text)
    elif kind == AMOUNT_KIND:
        value = _double_to_amount(source) if isinstance(raw_type, DoubleType) else source.cast(spark_type)
    else:
        as_double = source.cast("double")
        if kind == INT_KIND:
            fits = (as_double == F.floor(as_double)) & (F.abs(as_double) < 2**31)
            value = F.when(fits, as_double.cast("int"))
        else:
            value = F.when(~F.isnan(as_double), as_double)
    return value.cast(spark_type), present & value.isNull()


# decimal(12,2) holds |x| < 10^10.
_AMOUNT_LIMIT = 10.0**10


def _double_to_amount(source: Column) -> Column:
    """``cast(source as decimal(12,2))`` for a double column, same result, without the slow path for
    the usual value.

    Spark casts a double to decimal through its shortest decimal text (``Double.toString``), rounded
    half-up to 2 places: about 4x the cost of reading the column. When that text has at most 2
    decimals (every real fare), it is ``cents / 100`` exactly, with ``cents = rint(x * 100)``, and
    the test ``cents / 100 == x`` (IEEE division is correctly rounded) says exactly when this is
    so; the decimal is then built from ``cents`` as its unscaled value. Any other double (more
    decimals, NaN, infinities, out of range) takes the plain cast.
    """
    cents = F.rint(source * 100)
    exact = (F.abs(source) < _AMOUNT_LIMIT) & (cents / 100 == source)
    return F.when(exact, _amount_from_cents(cents.cast("long"))).otherwise(source.cast(AMOUNT.simpleString()))


def _amount_from_cents(cents: Column) -> Column:
    """decimal(12,2) whose unscaled value is `cents` (a long with |cents| < 10^12).

    Catalyst's ``MakeDecimal`` (what Spark itself uses for decimal sums) is not exposed in the
    Python API; on a Spark without it, exact decimal arithmetic gives the same value, slower.
    """
    jvm = SparkContext._jvm
    if _make_decimal_available():
        expressions = jvm.org.apache.spark.sql.catalyst.expressions
        expression = expressions.MakeDecimal(cents._jc.expr(), AMOUNT.precision, AMOUNT.scale, True)
        return Column(jvm.org.apache.spark.sql.Column(expression))
    return (cents.cast("decimal(18,0)") / 100).cast(AMOUNT.simpleString())


@functools.cache
def _make_decimal_available() -> bool:
    try:
        expressions = SparkContext._jvm.org.apache.spark.sql.catalyst.expressions
        expressions.MakeDecimal(SparkContext._jvm.org.apache.spark.sql.functions.lit(0).expr(), 12, 2, True)
    except Exception:  # noqa: BLE001 - py4j reports a missing class or constructor many ways
        return False
    return True


def read_raw(spark: SparkSession, inspection: Inspection) -> DataFrame:
    """Lazy DataFrame of the file in canonical form plus source_file, source_row, _raw and
    _unparseable. No data is read here except, for CSV, one pass counting rows per split."""
    return with_texts(read_canonical(spark, inspection), inspection)


def with_texts(rows: DataFrame, inspection: Inspection) -> DataFrame:
    """``trip_key`` (hex, first) and ``_unparseable`` (text, last) from the key's hashes and the
    failure bitmask: the job adds them only to rows it writes."""
    return rows.select(trip_key_column().alias("trip_key"), "*", unparseable_column(inspection).alias("_unparseable"))


def read_canonical(spark: SparkSession, inspection: Inspection) -> DataFrame:
    """`read_raw` without its text columns: the key as two hashes (`KEY_HASHES`), the failed casts
    as a bitmask (`FAILED_MASK`)."""
    raw = inspection.raw
    path = storage.spark_uri(raw.path)
    if raw.fmt == "parquet":
        frame = spark.read.parquet(path)
        original = list(frame.columns)
        frame = frame.withColumn("_row_index", F.col("_metadata.row_index") + 1)
        corrupt: Column = F.lit(False)
    else:
        original = list(inspection.mapping.raw_columns)
        schema = StructType(
            [StructField(name, StringType()) for name in original] + [StructField(CORRUPT_RECORD, StringType())]
        )
        frame = (
            spark.read.option("header", True)
            .option("enforceSchema", True)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", CORRUPT_RECORD)
            .option("encoding", "UTF-8")
            .schema(schema)
            .csv(path)
        )
        frame = _with_csv_row_index(frame)
        corrupt = F.col(CORRUPT_RECORD).isNotNull()
    return _to_canonical(frame, inspection, original, corrupt)


def _with_csv_row_index(frame: DataFrame) -> DataFrame:
    """Add _row_index (1-based data-row position) to a freshly read CSV DataFrame.

    Each Spark partition reads whole byte ranges (splits) of the file in order, so
    monotonically_increasing_id gives the position inside the partition; one small job counts
    rows per split, and ordering splits by their start offset turns that into a file position.
    Deterministic for a given file and split size, hence stable across reruns.
    """
    frame = (
        frame.withColumn("_split", F.expr("input_file_block_start()"))
        .withColumn("_pid", F.spark_partition_id().cast("long"))
        .withColumn("_mid", F.monotonically_increasing_id())
        .withColumn("_pos", F.col("_mid") - F.shiftleft(F.col("_pid"), 33))
    )
    splits = (
        frame.groupBy("_split")
        .agg(F.count(F.lit(1)).alias("n"), F.min("_pos").alias("first"))
        .orderBy("_split")
        .collect()
    )
    delta: dict[int, int] = {}
    offset = 0
    for split in splits:
        delta[split["_split"]] = offset - split["first"] + 1
        offset += split["n"]
    if not delta:
        return frame.withColumn("_row_index", F.col("_pos") + 1)
    mapping = F.create_map(*(F.lit(x) for pair in delta.items() for x in pair))
    return frame.withColumn("_row_index", mapping[F.col("_split")] + F.col("_pos"))


def _to_canonical(frame: DataFrame, inspection: Inspection, original: list[str], corrupt: Column) -> DataFrame:
    raw = inspection.raw
    types = {field.name: field.dataType for field in frame.schema.fields}
    values: list[Column] = []
    failures: list[Column] = []
    for name, kind in VALUE_COLUMNS:
        source = inspection.mapping.source_for(name)
        column = F.col(_quoted(source)) if source else None
        value, failed = canonical_column(column, types.get(source) if source else None, kind)
        values.append(value.alias(name))
        failures.append(failed)
    failures.append(corrupt)
    raw_struct = F.struct(*(F.col(_quoted(name)) for name in original))
    canonical = frame.select(
        F.lit(raw.service).alias("service"),
        *values,
        F.lit(raw.name).alias("source_file"),
        F.col("_row_index").cast("long").alias("source_row"),
        raw_struct.alias(RAW_STRUCT),
        _bitmask(failures).alias(FAILED_MASK),
    )
    first, second = trip_key_hashes()
    return canonical.select("*", first.alias(KEY_HASHES[0]), second.alias(KEY_HASHES[1]))


def failure_labels(inspection: Inspection) -> list[str]:
    """What each bit of `FAILED_MASK` means: ``<canonical> (<raw column>)`` per value column, then
    the CSV field-count check."""
    labels = [f"{name} ({inspection.mapping.source_for(name)})" for name, _ in VALUE_COLUMNS]
    return [*labels, "row has the wrong number of fields"]


def _bitmask(flags: Sequence[Column]) -> Column:
    """An int with bit i set where flags[i] is true (at most 31 flags)."""
    return functools.reduce(
        lambda mask, bit: mask.bitwiseOR(bit),
        (F.when(flag, F.lit(1 << i)).otherwise(F.lit(0)) for i, flag in enumerate(flags)),
    )


def unparseable_column(inspection: Inspection) -> Column:
    """``_unparseable``: what failed to cast (`failure_labels` of the bits in `FAILED_MASK`),
    comma-separated; null when every value parsed. Only rows with a failure build text."""
    mask = F.col(FAILED_MASK)
    labels = failure_labels(inspection)
    parts = (F.when(mask.bitwiseAND(F.lit(1 << i)) != 0, F.lit(label)) for i, label in enumerate(labels))
    return F.when(mask != 0, F.concat_ws(", ", *parts))


# Prepended to the second hash's inputs, so it starts from another seed than the first.
_SECOND_HASH_SALT = "trip_key/2"


def trip_key_hashes() -> tuple[Column, Column]:
    """Two xxhash64 over ``service``, every canonical value and a bitmask of which of them are null.

    Values are hashed as typed (ints, epoch microseconds, decimals' unscaled longs, doubles' bits,
    UTF-8 text): no text formatting. xxhash64 skips nulls, so the null mask keeps ``(null, 5)`` and
    ``(5, null)`` apart. The second hash starts from another seed (a constant hashed first), so the
    two are independent: 128 bits, for which a collision among 10^9 rows has odds of ~10^-21.
    """
    values = [F.col(name) for name in TRIP_KEY_COLUMNS]
    nulls = _bitmask([value.isNull() for value in values])
    return F.xxhash64(nulls, *values), F.xxhash64(F.lit(_SECOND_HASH_SALT), nulls, *values)


def trip_key_column() -> Column:
    """trip_key: the two `trip_key_hashes` (columns `KEY_HASHES`) as 32 lower-case hex digits."""
    return F.lower(F.concat(*(F.lpad(F.hex(F.col(name)), 16, "0") for name in KEY_HASHES)))


def raw_record_column() -> Column:
    """``raw_record``: JSON of the original columns as read (nulls kept as JSON null).

    Costly per row, so the job computes it only for quarantined rows.
    """
    return F.to_json(F.col(RAW_STRUCT), {"ignoreNullFields": "false"}).alias("raw_record")
