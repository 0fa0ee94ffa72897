"""A raw file as a stream of Arrow batches, each row with its 1-based position in the file.

Parquet: the file's own columns and types, row group by row group. CSV (and gzip-compressed CSV):
every field as text. TLC's CSVs have quirks this handles: CRLF or LF, a blank line after the header,
a BOM, quoted fields, and rows ending in extra empty fields (2016-H2, green 2013-08..2015-06). Rows
are read with Arrow's CSV parser; a file whose rows do not all have the same number of fields (a cut
last line, a stray comma) is read again record by record with Python's CSV parser, so every row keeps
its position and the odd ones are flagged (`shape_ok` false) instead of stopping the file. Record
boundaries always come from a CSV parser, never from counting lines: a quoted field may hold a
newline. Blank lines are not rows.

Failures of the file itself (corrupt data page, bad gzip stream, bytes that are not UTF-8) raise
`BadFileError` with one line naming the file and the problem.
"""

from __future__ import annotations

import csv
import io
import json
import queue
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ingestion import storage
from ingestion.errors import BadFileError
from ingestion.json_text import json_objects
from ingestion.raw_files import CSV_HEAD_BYTES, Inspection

PARQUET_BATCH_ROWS = 262_144
CSV_BLOCK_BYTES = 16 << 20
EXTRA_PREFIX = "_extra_field_"


@dataclass
class RawBatch:
    """Rows of one raw file as read."""

    columns: dict[str, pa.Array]  # raw column name (as in the file) -> values
    source_row: np.ndarray  # int64, 1-based data-row position in the file
    shape_ok: np.ndarray | None  # CSV: false where a line has the wrong number of fields; None: all fine
    records: Callable[[np.ndarray], pa.Array]  # raw_record JSON of the given row positions in the batch

    @property
    def num_rows(self) -> int:
        return len(self.source_row)


class IrregularRows(Exception):
    """A CSV row has another number of fields than the others: read the file again `by_line`."""


def read_batches(inspection: Inspection, by_line: bool = False) -> Iterator[RawBatch]:
    """Every row of the file, in order. Raises BadFileError if the file breaks while being read, and
    IrregularRows (CSV, not `by_line`) at the first row of another width: the caller drops what it
    did with the earlier batches and reads again with `by_line=True`."""
    if not inspection.raw.is_csv:
        yield from _parquet_batches(inspection)
    elif by_line:
        yield from _csv_by_line(inspection, _header_and_width(inspection)[0])
    else:
        yield from _csv_batches(inspection)


def read_ahead(batches: Iterator[RawBatch], depth: int = 1) -> Iterator[RawBatch]:
    """`batches`, each read on a thread of its own while the caller works on the previous one (Parquet
    decoding and CSV parsing release the GIL, so this uses a core the caller leaves idle). At most
    `depth` batches wait. The reader's exceptions reach the caller where they happened in the
    stream; a caller that stops early stops the reader."""
    done = object()
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
            put(done)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            put(exc)
        finally:
            close = getattr(batches, "close", None)
            if close is not None and stop.is_set():
                close()

    reader = threading.Thread(target=read, name="read ahead", daemon=True)
    reader.start()
    try:
        while (item := handoff.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


# ---------- Parquet


def _json_records(table: pa.Table | pa.RecordBatch) -> Callable[[np.ndarray], pa.Array]:
    def records(rows: np.ndarray) -> pa.Array:
        index = pa.array(rows, pa.int64())
        return json_objects(
            {name: column.take(index) for name, column in zip(table.schema.names, table.columns, strict=True)}
        )

    return records


def _parquet_batches(inspection: Inspection) -> Iterator[RawBatch]:
    path = inspection.raw.path
    start = 1
    try:
        with storage.open_binary(path, inspection.raw.version_id) as handle:
            # Text columns come as dictionaries: casts then work on their few distinct values.
            texts = [
                f.name for f in pq.read_schema(handle) if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
            ]
            handle.seek(0)
            parquet = pq.ParquetFile(handle, read_dictionary=texts)
            for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, use_threads=True):
                rows = np.arange(start, start + batch.num_rows, dtype=np.int64)
                start += batch.num_rows
                columns = dict(zip(batch.schema.names, batch.columns, strict=True))
                yield RawBatch(columns, rows, None, _json_records(batch))
    except (pa.ArrowException, OSError) as exc:
        raise BadFileError(path, f"corrupt Parquet data at row {start} or after ({_one_line(exc)})") from exc


# ---------- CSV


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _input_stream(inspection: Inspection) -> pa.NativeFile:
    handle = storage.open_binary(inspection.raw.path, inspection.raw.version_id)
    stream = pa.PythonFile(handle, mode="r")
    if inspection.raw.fmt == "csv.gz":
        return pa.CompressedInputStream(stream, "gzip")
    return stream


def _header_and_width(inspection: Inspection) -> tuple[list[str], int]:
    """The header's names and the most common number of fields of the first data lines."""
    with _input_stream(inspection) as stream:
        head = stream.read(CSV_HEAD_BYTES).decode("utf-8-sig", errors="replace")
    records = [values for values in csv.reader(io.StringIO(head, newline="")) if "".join(values).strip()]
    header = [name.strip() for name in records[0]]
    complete = records[1:-1] if len(records) > 2 else records[1:]  # the last may be cut by the 64 KiB limit
    widths = Counter(len(values) for values in complete)
    width = widths.most_common(1)[0][0] if widths else len(header)
    return header, max(width, len(header))


def _text_error(inspection: Inspection, exc: BaseException) -> BadFileError:
    text = _one_line(exc)
    if isinstance(exc, UnicodeDecodeError) or "UTF8" in text or "utf8" in text or "UTF-8" in text:
        return BadFileError(inspection.raw.path, f"not UTF-8 text ({_first_bad_byte(inspection)})")
    if isinstance(exc, zlib.error | EOFError) or "gzip" in text.lower() or "zlib" in text.lower():
        return BadFileError(inspection.raw.path, f"corrupt gzip data ({text})")
    return BadFileError(inspection.raw.path, f"unreadable CSV ({text})")


def _first_bad_byte(inspection: Inspection) -> str:
    """Where the first byte that is not UTF-8 is (decompressed offset for .csv.gz)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with _input_stream(inspection) as stream:
        while chunk := stream.read(8 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return f"byte 0x{chunk[exc.start]:02x} at offset {offset + exc.start}; re-export the file as UTF-8"
            offset += len(chunk)
    return "re-export the file as UTF-8"


def _csv_batches(inspection: Inspection) -> Iterator[RawBatch]:
    header, width = _header_and_width(inspection)
    extras = [f"{EXTRA_PREFIX}{i}" for i in range(1, width - len(header) + 1)]
    invalid: list[str] = []
    try:
        yield from _csv_regular(inspection, header, extras, invalid)
    except (pa.ArrowException, OSError, EOFError, zlib.error) as exc:
        if not invalid:
            raise _text_error(inspection, exc) from exc
    if invalid:
        raise IrregularRows(invalid[0])


def _csv_regular(inspection: Inspection, header: list[str], extras: list[str], invalid: list[str]):
    """Rows through Arrow's CSV parser, all as text; any row of another width is noted in `invalid`
    (and makes the caller read the file record by record instead)."""
    names = [*header, *extras]

    def on_invalid(row) -> str:
        invalid.append(row.text)
        return "skip"

    with _input_stream(inspection) as stream:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                column_names=_unique(names), skip_rows=1, block_size=CSV_BLOCK_BYTES, use_threads=True
            ),
            # newlines_in_values: a block boundary is never put inside a quoted field that holds a newline
            parse_options=pacsv.ParseOptions(
                invalid_row_handler=on_invalid, ignore_empty_lines=True, newlines_in_values=True
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in _unique(names)},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        start = 1
        for batch in reader:
            if invalid:
                raise IrregularRows(invalid[0])
            rows = np.arange(start, start + batch.num_rows, dtype=np.int64)
            start += batch.num_rows
            arrays = dict(zip(header, batch.columns[: len(header)], strict=True))
            shape_ok = None
            if extras:
                empty = [pc.equal(pc.utf8_trim_whitespace(column), "") for column in batch.columns[len(header) :]]
                ok = np.asarray(pc.and_(*empty) if len(empty) > 1 else empty[0], dtype=bool)
                shape_ok = None if ok.all() else ok
            yield RawBatch(arrays, rows, shape_ok, _csv_records(header, batch.columns))


def _unique(names: list[str]) -> list[str]:
    """Arrow needs distinct column names; a repeated header name gets a suffix (the mapping refuses it)."""
    seen: Counter = Counter()
    out = []
    for name in names:
        seen[name] += 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


def _csv_records(header: list[str], columns: list[pa.Array]) -> Callable[[np.ndarray], pa.Array]:
    """The fields as text under their header names; extra non-empty fields under `_extra_fields`."""

    def records(rows: np.ndarray) -> pa.Array:
        index = pa.array(rows, pa.int64())
        objects = json_objects(dict(zip(header, (column.take(index) for column in columns), strict=False)))
        extras = [column.take(index) for column in columns[len(header) :]]
        if not extras:
            return objects
        values = [[v for v in row if v] for row in zip(*(e.to_pylist() for e in extras), strict=True)]
        tails = pa.array([',"_extra_fields":' + json.dumps(v) + "}" if v else "}" for v in values], pa.string())
        return pc.binary_join_element_wise(pc.utf8_slice_codeunits(objects, 0, -1), tails, "")

    return records


class _Taken:
    """The text lines a `csv.reader` pulls, kept until taken: the raw text of the record it just read
    (Python's reader asks for exactly the lines of one record, a quoted newline included)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._taken: list[str] = []

    def __iter__(self) -> _Taken:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self._taken.append(line)
        return line

    def take(self) -> str:
        text = "".join(self._taken)
        self._taken.clear()
        return text.rstrip("\r\n")


def _csv_by_line(inspection: Inspection, header: list[str]) -> Iterator[RawBatch]:
    """Every record through Python's CSV parser, split into fields here: rows of any width keep their
    place, and a quoted field holding a newline stays one field of one record (record boundaries come
    from the parser, never from counting lines). Blank lines are not rows."""
    width = len(header)
    start = 1
    with _input_stream(inspection) as stream:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        lines = _Taken(iter(text))
        reader = csv.reader(lines)
        texts: list[str] = []
        fields: list[list[str]] = []
        size = 0
        header_seen = False
        try:
            for values in reader:
                raw = lines.take()
                if not raw.strip():
                    continue
                if not header_seen:  # the header record
                    header_seen = True
                    continue
                texts.append(raw)
                fields.append(values)
                size += len(raw)
                if size >= CSV_BLOCK_BYTES:
                    yield _split_lines(texts, fields, header, width, start)
                    start += len(texts)
                    texts, fields, size = [], [], 0
            if texts:
                yield _split_lines(texts, fields, header, width, start)
        except (pa.ArrowException, OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as exc:
            raise _text_error(inspection, exc) from exc
        finally:
            text.detach()  # the stream is closed by its own `with`, not by the wrapper's finaliser


def _split_lines(texts: list[str], fields: list[list[str]], header: list[str], width: int, start: int) -> RawBatch:
    """One batch of parsed records (`texts`: each record's raw text, `fields`: its values)."""
    counts = np.array([len(f) for f in fields], dtype=np.int64)
    shape_ok = counts == width
    wider = np.flatnonzero(counts > width)
    for i in wider:  # extra fields are fine when they are all empty
        shape_ok[i] = not any(value.strip() for value in fields[i][width:])
    columns = {
        name: pa.array([f[j] if j < len(f) else None for f in fields], pa.string()) for j, name in enumerate(header)
    }
    rows = np.arange(start, start + len(texts), dtype=np.int64)

    def records(picked: np.ndarray) -> pa.Array:
        out = []
        for i in picked:
            values = fields[int(i)]
            record: dict = dict(zip(header, values, strict=False))
            if len(values) > width:
                record["_extra_fields"] = values[width:]
            if len(values) != width:
                record["_line"] = texts[int(i)]
            out.append(json.dumps(record, ensure_ascii=False))
        return pa.array(out, pa.string())

    return RawBatch(columns, rows, None if shape_ok.all() else shape_ok, records)
