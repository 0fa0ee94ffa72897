"""A raw TLC file as a whole: what its name promises, the cheap checks, and its fingerprint.

`inspect_file` reads at most the Parquet footer or the first 64 KiB of a CSV (decompressed for
`.csv.gz`): name, existence, size, format, header or schema, column mapping. `fingerprint` is the
one full read of the raw bytes before ingestion (sha256). Each failure is a `BadFileError` whose
message is one line, e.g. ``yellow_tripdata_2024-01.parquet: truncated or corrupt Parquet (no footer)``.
"""

from __future__ import annotations

import csv
import errno
import gzip
import hashlib
import io
import os
import stat
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion import storage
from ingestion.contract import FILE_NAME, FILE_NAME_HELP, partition_path
from ingestion.errors import BadFileError, InputSetError
from ingestion.mapping import ColumnMapping, map_columns

PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
CSV_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class RawFile:
    """What a raw file's name promises: dataset, month and format."""

    path: str
    name: str
    service: str
    year: int
    month: int
    fmt: str  # parquet | csv | csv.gz
    version_id: str | None = None  # the S3 object version read, archived and deleted (None: local/current)

    @property
    def partition(self) -> str:
        """Relative partition path shared by the lake and the quarantine."""
        return partition_path(self.service, self.year, self.month)

    @property
    def is_csv(self) -> bool:
        return self.fmt.startswith("csv")


@dataclass(frozen=True)
class Inspection:
    """What the cheap look at a file found; the readers build on it."""

    raw: RawFile
    size: int
    mapping: ColumnMapping
    rows_in_footer: int | None  # Parquet only: the row count the footer promises
    delivered_at: str = ""  # S3 LastModified of the version read, or the local mtime (ISO-8601 UTC)


def parse_raw_file(path: str, version_id: str | None = None) -> RawFile:
    """Parse the name (`ingestion.contract.FILE_NAME`); BadFileError otherwise."""
    name = storage.file_name(path)
    match = FILE_NAME.match(name)
    if not match:
        raise BadFileError(path, f"name does not match {FILE_NAME_HELP}")
    month = int(match["month"])
    if not 1 <= month <= 12:
        raise BadFileError(path, f"month {match['month']} in the name is not 01..12")
    return RawFile(path, name, match["service"], int(match["year"]), month, match["fmt"], version_id)


def local_file_problem(path: str) -> str | None:
    """Why a local path is not a regular file this process can read, in the words a refusal uses; None
    when it is one. The one place that names an odd file's true reason (the runner's folder listing and
    `inspect_file` both ask it): a FIFO is not "empty", a symbolic link loop is not "missing"."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop (following it leads back to a link on its path), not a file"
        if exc.errno == errno.ENOENT and os.path.islink(path):
            return f"broken symbolic link (its target {os.readlink(path)} does not exist)"
        if exc.errno == errno.ENOENT:
            return "file does not exist"
        if exc.errno == errno.EACCES:
            return "file is not readable (permission denied)"
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    if not os.access(path, os.R_OK):
        return "file is not readable (permission denied)"
    return None


def _parquet_columns(raw: RawFile, size: int) -> tuple[list[str], int]:
    with storage.open_binary(raw.path, raw.version_id) as handle:
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


def _csv_head(raw: RawFile) -> bytes:
    with storage.open_binary(raw.path, raw.version_id) as handle:
        head = handle.read(CSV_HEAD_BYTES)
        if raw.fmt != "csv.gz":
            if head.startswith(GZIP_MAGIC):
                raise BadFileError(raw.path, "is a gzip-compressed file named .csv; name it .csv.gz")
            return head
        if not head.startswith(GZIP_MAGIC):
            raise BadFileError(raw.path, "is named .csv.gz but is not gzip-compressed")
        handle.seek(0)
        try:
            return gzip.GzipFile(fileobj=handle).read(CSV_HEAD_BYTES)
        except (OSError, EOFError, zlib.error) as exc:
            raise BadFileError(raw.path, f"corrupt gzip data ({exc})") from exc


def _csv_columns(raw: RawFile) -> list[str]:
    head = _csv_head(raw)
    if head.startswith(PARQUET_MAGIC):
        raise BadFileError(raw.path, f"is a Parquet file named .{raw.fmt}")
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
    if len(lines) < 2:
        if len(head) == CSV_HEAD_BYTES and not text.endswith(("\n", "\r")):  # the one line was cut
            problem = f"CSV header line is longer than {CSV_HEAD_BYTES:,} bytes (no TLC layout's is)"
            raise BadFileError(raw.path, problem)
        raise BadFileError(raw.path, "CSV has a header but no data rows")
    return [name.strip() for name in next(csv.reader(io.StringIO(lines[0])))]


def inspect_file(path: str, version_id: str | None = None) -> Inspection:
    """All checks that need no full read: name, existence, size, footer/header, column mapping (of the
    given S3 object version, when there is one)."""
    raw = parse_raw_file(path, version_id)
    if not storage.is_s3(path) and (problem := local_file_problem(path)) is not None:
        raise BadFileError(path, problem)
    try:
        found = storage.stat(path, version_id)
        if found is None:
            raise BadFileError(path, "file does not exist or is not readable")
        size, delivered_at = found
        if size == 0:
            raise BadFileError(path, "file is empty (0 bytes)")
        if raw.is_csv:
            columns, rows = _csv_columns(raw), None
        else:
            columns, rows = _parquet_columns(raw, size)
    except PermissionError as exc:
        raise BadFileError(path, "file is not readable (permission denied)") from exc
    except IsADirectoryError as exc:
        raise BadFileError(path, "is a directory, not a file") from exc
    mapping = map_columns(raw.name, raw.service, columns)
    return Inspection(raw=raw, size=size, mapping=mapping, rows_in_footer=rows, delivered_at=delivered_at)


def check_unique(raws: Sequence[RawFile]) -> None:
    """Refuse an input set naming one file twice or two files for one dataset and month (they would
    write the same partition). InputSetError lists every problem, one per file."""
    problems: list[BadFileError] = []
    seen: dict[str, str] = {}
    for raw in raws:
        for key in (raw.name, raw.partition):
            if key in seen:
                problems.append(BadFileError(raw.path, f"duplicate input ({key} also from {seen[key]})"))
                break
        else:
            seen[raw.name] = raw.path
            seen[raw.partition] = raw.path
    if problems:
        raise InputSetError(problems)


def fingerprint(path: str, version_id: str | None = None) -> str:
    """sha256 of the raw bytes (of that S3 object version), in one streaming pass."""
    digest = hashlib.sha256()
    for chunk in storage.iter_chunks(path, version_id=version_id):
        digest.update(chunk)
    return digest.hexdigest()
