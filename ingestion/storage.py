"""Where bytes live: local paths and ``s3://bucket/key`` URIs behind one small set of functions.

Spark reads and writes both kinds itself; this module is for what the driver and the executors do
around it: looking at a raw file before Spark does (size, first bytes, Parquet footer, sha256),
writing Parquet data files from executor tasks with pyarrow (`open_output_stream`), writing the
receipts and rejection reports, listing and deleting the lake's unreferenced files, and archiving (or
quarantining) the raw file once the job is done with it.

A raw file's S3 object version can be pinned: `stat_size`, `open_binary`,
`iter_chunks`, `copy_file` and `delete_file` take ``version_id`` (None: the current version), and
`current_version` says which version is current, so a job reads, hashes, archives and deletes one
version even when the same key is uploaded again during its run.

Two S3 clients, each for what it does best:
- boto3 for metadata and raw-file operations (head, ranged reads, copy, delete, list). It is the only
  one that addresses object versions (pyarrow.fs has no version IDs), its managed copy handles objects
  over CopyObject's 5 GB limit, and its errors carry a structured code: a missing object or bucket and
  a refused request are told apart by ``error.response["Error"]["Code"]`` and the HTTP status, never
  by words in a message (pyarrow.fs raises a bare OSError whose only detail is its text).
- pyarrow.fs.S3FileSystem for `open_output_stream`: Parquet written straight from an executor task,
  uploaded in parts by Arrow's C++ client as it is written, without holding the file in Python. It sends
  no SSE header, so each bucket's default encryption (SSE-KMS with the platform's key) applies; the
  writer's role needs kms:GenerateDataKey and kms:Decrypt (multipart) on that key, which the Glue job's
  role has (infra/permissions.json).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import posixpath
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from typing import IO, Any

S3_SCHEMES = ("s3://", "s3a://", "s3n://")
# S3's error codes (the "Code" of an error response, https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html)
# by what they mean here. HeadObject has no body, so botocore gives its HTTP status as the code ("404",
# "403"); a HEAD on a missing bucket is a plain 404 too.
_MISSING_OBJECT_CODES = {"404", "NoSuchKey", "NoSuchVersion", "NotFound"}
_MISSING_BUCKET_CODES = {"NoSuchBucket"}
_DENIED_CODES = {"403", "AccessDenied", "AllAccessDisabled"}


def is_s3(uri: str) -> bool:
    """True for s3://, s3a:// and s3n:// URIs."""
    return uri.startswith(S3_SCHEMES)


def local_path(uri: str) -> str:
    """A ``file://`` URI (how Iceberg names local files) as a path; other URIs unchanged."""
    return uri[len("file://") :] if uri.startswith("file://") else uri


def join(root: str, *parts: str) -> str:
    """Join with '/' whatever the scheme; `root` may end with '/' or not."""
    return posixpath.join(root.rstrip("/") if root != "/" else root, *parts)


def file_name(uri: str) -> str:
    """Last path segment: the raw file's name without any directory."""
    return posixpath.basename(uri.rstrip("/"))


def split_s3(uri: str) -> tuple[str, str]:
    """'s3://bucket/a/b' -> ('bucket', 'a/b')."""
    rest = uri.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    return bucket, key


def s3_client() -> Any:
    """A boto3 S3 client (created per call: cheap, and it keeps moto-mocked tests independent)."""
    import boto3

    return boto3.client("s3")


def spark_uri(uri: str) -> str:
    """The URI to hand to Spark: absolute local paths stay paths, S3 URIs are kept as given."""
    return uri if is_s3(uri) else os.path.abspath(uri)


def _version(version_id: str | None) -> dict[str, str]:
    return {"VersionId": version_id} if version_id else {}


def s3_error_kind(exc: BaseException) -> str | None:
    """'missing' (object or version), 'no bucket', 'denied' or None (anything else, or not a botocore
    ClientError), from the error's code and HTTP status: the structured fields, never its message."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return None
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in _MISSING_BUCKET_CODES:
        return "no bucket"
    if code in _MISSING_OBJECT_CODES or status == 404:
        return "missing"
    if code in _DENIED_CODES or status == 403:
        return "denied"
    return None


def _raise_as_os_error(exc: BaseException, uri: str) -> None:
    """FileNotFoundError / PermissionError for S3's 'missing' / 'denied'; anything else is re-raised as is."""
    kind = s3_error_kind(exc)
    if kind in ("missing", "no bucket"):
        raise FileNotFoundError(uri) from exc
    if kind == "denied":
        raise PermissionError(uri) from exc
    raise exc


# ---------- inspection of raw files


def stat(uri: str, version_id: str | None = None) -> tuple[int, str] | None:
    """(size in bytes, when it was delivered: S3 LastModified or the local mtime, ISO-8601 UTC), or None
    when the file (or that version of it) does not exist.

    PermissionError when S3 refuses to say (without s3:ListBucket on the bucket S3 answers 403, not 404,
    for a missing key).
    """
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            head = s3_client().head_object(Bucket=bucket, Key=key, **_version(version_id))
        except Exception as exc:
            if s3_error_kind(exc) in ("missing", "no bucket"):
                return None
            _raise_as_os_error(exc, uri)
        return int(head["ContentLength"]), _iso_utc(head["LastModified"])
    if not os.path.isfile(uri):
        return None
    status = os.stat(uri)
    return status.st_size, _iso_utc(dt.datetime.fromtimestamp(status.st_mtime, dt.UTC))


def _iso_utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stat_size(uri: str, version_id: str | None = None) -> int | None:
    """Size in bytes, or None when the file (or that version of it) does not exist (see `stat`)."""
    found = stat(uri, version_id)
    return found[0] if found else None


def current_version(uri: str) -> str | None:
    """The version ID of the object's current version (None: unversioned bucket, or a local file).

    FileNotFoundError when there is none. A job given no version pins this one before reading.
    """
    if not is_s3(uri):
        if not os.path.isfile(uri):
            raise FileNotFoundError(uri)
        return None
    bucket, key = split_s3(uri)
    try:
        version = s3_client().head_object(Bucket=bucket, Key=key).get("VersionId")
    except Exception as exc:
        _raise_as_os_error(exc, uri)
    return None if version in (None, "null") else version


class _S3RangeReader(io.RawIOBase):
    """Seekable read-only view of one S3 object (version) via ranged GETs (enough for a Parquet footer)."""

    def __init__(self, uri: str, size: int, version_id: str | None = None) -> None:
        self._uri = uri
        self._bucket, self._key = split_s3(uri)
        self._version = _version(version_id)
        self._size = size
        self._pos = 0
        self._client = s3_client()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self._size:
            return 0
        end = min(self._size, self._pos + len(buffer)) - 1
        try:
            response = self._client.get_object(
                Bucket=self._bucket, Key=self._key, Range=f"bytes={self._pos}-{end}", **self._version
            )
        except Exception as exc:
            _raise_as_os_error(exc, self._uri)
        body = response["Body"].read()
        buffer[: len(body)] = body
        self._pos += len(body)
        return len(body)


def open_binary(uri: str, version_id: str | None = None) -> IO[bytes]:
    """Open a raw file for reading: seekable, buffered, local or S3 (that version, if given)."""
    if is_s3(uri):
        size = stat_size(uri, version_id)
        if size is None:
            raise FileNotFoundError(uri)
        return io.BufferedReader(_S3RangeReader(uri, size, version_id), buffer_size=1 << 20)
    return open(uri, "rb")


def iter_chunks(uri: str, chunk_size: int = 8 << 20, version_id: str | None = None) -> Iterator[bytes]:
    """Stream the whole file (that version, if given) in chunks, for hashing, without holding it in memory."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            body = s3_client().get_object(Bucket=bucket, Key=key, **_version(version_id))["Body"]
        except Exception as exc:
            _raise_as_os_error(exc, uri)
        while chunk := body.read(chunk_size):
            yield chunk
        return
    with open(uri, "rb") as handle:
        while chunk := handle.read(chunk_size):
            yield chunk


# ---------- writing from executors


def _arrow_s3() -> Any:
    """pyarrow's S3 filesystem, in the region (and at the endpoint) boto3 would use."""
    import boto3
    from pyarrow import fs

    session = boto3.session.Session()
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    options: dict[str, Any] = {"region": session.region_name or "us-east-1"}
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        options.update(endpoint_override=host, scheme=scheme)
    return fs.S3FileSystem(**options)


def open_output_stream(uri: str) -> Any:
    """A pyarrow output stream (``pyarrow.NativeFile``) writing `uri` whole, for ``pq.ParquetWriter``.

    S3: a multipart upload by Arrow; the object appears only when the stream is closed (an abandoned
    upload leaves nothing, and the buckets' lifecycle aborts it after 7 days). Local: written beside the
    target and renamed in on close, so a reader never sees half a file; an exception inside the ``with``
    leaves no file.
    """
    if is_s3(uri):
        bucket, key = split_s3(uri)
        return _arrow_s3().open_output_stream(f"{bucket}/{key}")
    return _LocalAtomicOutput(uri)


class _LocalAtomicOutput:
    """A local pyarrow output stream that becomes `path` only when closed without an error."""

    def __init__(self, path: str) -> None:
        from pyarrow import fs

        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        os.close(fd)
        self._path = path
        self._stream = fs.LocalFileSystem().open_output_stream(self._tmp)

    def __getattr__(self, name: str) -> Any:  # write, tell, ... of the NativeFile
        return getattr(self._stream, name)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    @property
    def closed(self) -> bool:
        return self._stream.closed

    def close(self) -> None:
        if not self._stream.closed:
            self._stream.close()
            os.replace(self._tmp, self._path)

    def abort(self) -> None:
        if not self._stream.closed:
            self._stream.close()
        if os.path.exists(self._tmp):
            os.remove(self._tmp)


# ---------- small text objects: manifests, rejection reports


def read_text(uri: str) -> str | None:
    """The object's text, or None when it does not exist."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        except Exception as exc:
            if s3_error_kind(exc) == "missing":
                return None
            _raise_as_os_error(exc, uri)
    if not os.path.isfile(uri):
        return None
    with open(uri, encoding="utf-8") as handle:
        return handle.read()


def write_text(uri: str, text: str) -> None:
    """Write a small text object whole: readers see the old or the new content, never half."""
    write_bytes(uri, text.encode("utf-8"))


def write_bytes(uri: str, data: bytes) -> None:
    """Write an object whole (locally: aside, then renamed in)."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        s3_client().put_object(Bucket=bucket, Key=key, Body=data)
        return
    directory = os.path.dirname(os.path.abspath(uri))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, uri)


def delete_file(uri: str, version_id: str | None = None) -> None:
    """Remove one file/object if present.

    With a version on S3, exactly that version is deleted (s3:DeleteObjectVersion): a newer upload of
    the same key stays current. Without one, S3 adds a delete marker and keeps the data as a
    noncurrent version.
    """
    if is_s3(uri):
        bucket, key = split_s3(uri)
        s3_client().delete_object(Bucket=bucket, Key=key, **_version(version_id))
    elif os.path.isfile(uri):
        os.remove(uri)


# ---------- prefixes (directories): the lake's upkeep lists them


def list_files(prefix: str) -> list[str]:
    """All files under a directory / S3 prefix, as full URIs, sorted."""
    if is_s3(prefix):
        bucket, key = split_s3(prefix)
        key = key.rstrip("/") + "/"
        paginator = s3_client().get_paginator("list_objects_v2")
        found = [
            f"s3://{bucket}/{obj['Key']}"
            for page in paginator.paginate(Bucket=bucket, Prefix=key)
            for obj in page.get("Contents", [])
        ]
        return sorted(found)
    if not os.path.isdir(prefix):
        return []
    return sorted(os.path.join(directory, name) for directory, _, names in os.walk(prefix) for name in names)


def list_files_with_times(prefix: str) -> list[tuple[str, dt.datetime]]:
    """Every file under a directory / S3 prefix with when it was last written (UTC), sorted by path."""
    if is_s3(prefix):
        bucket, key = split_s3(prefix)
        key = key.rstrip("/") + "/"
        paginator = s3_client().get_paginator("list_objects_v2")
        return sorted(
            (f"s3://{bucket}/{obj['Key']}", obj["LastModified"].astimezone(dt.UTC))
            for page in paginator.paginate(Bucket=bucket, Prefix=key)
            for obj in page.get("Contents", [])
        )
    found = []
    for path in list_files(prefix):
        try:
            found.append((path, dt.datetime.fromtimestamp(os.path.getmtime(path), dt.UTC)))
        except FileNotFoundError:  # gone since the listing
            continue
    return found


def copy_file(source: str, target: str, source_version_id: str | None = None) -> None:
    """Copy one file: server-side between two S3 URIs (that version of the source, if given), or
    between two local paths.

    Locally the copy is written aside and renamed in, so the target is never seen half-written. On S3
    boto3's managed copy is used: one CopyObject up to its 5 GB limit, a multipart copy beyond.
    """
    if not is_s3(source) and not is_s3(target):
        directory = os.path.dirname(os.path.abspath(target))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            shutil.copymode(source, tmp)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        return
    if not (is_s3(source) and is_s3(target)):
        raise ValueError(f"copy_file copies S3 to S3 or local to local, not {source} -> {target}")
    source_bucket, source_key = split_s3(source)
    target_bucket, target_key = split_s3(target)
    try:
        s3_client().copy(
            {"Bucket": source_bucket, "Key": source_key, **_version(source_version_id)}, target_bucket, target_key
        )
    except Exception as exc:
        _raise_as_os_error(exc, source)


def unique_suffix() -> str:
    """A short random token for staging / aside names."""
    return uuid.uuid4().hex[:12]
