"""Where bytes live: local paths and ``s3://bucket/key`` URIs behind one small set of functions.

Spark reads and writes both kinds itself; this module is for what the driver does around it:
looking at a raw file before Spark does (size, first bytes, Parquet footer, sha256), writing the
manifests and rejection reports, listing / moving / deleting objects for the partition swap, and
archiving (or quarantining) the raw file once the job is done with it.
"""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from typing import IO, Any

S3_SCHEMES = ("s3://", "s3a://", "s3n://")


def is_s3(uri: str) -> bool:
    """True for s3://, s3a:// and s3n:// URIs."""
    return uri.startswith(S3_SCHEMES)


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


# ---------- inspection of raw files


def stat_size(uri: str) -> int | None:
    """Size in bytes, or None when the file does not exist."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            return int(s3_client().head_object(Bucket=bucket, Key=key)["ContentLength"])
        except Exception as exc:  # botocore ClientError: 404 / 403 / no such bucket
            text = str(exc)
            if "404" in text or "Not Found" in text or "NoSuchBucket" in text:
                return None
            if "403" in text or "Forbidden" in text or "AccessDenied" in text:
                raise PermissionError(uri) from exc
            raise
    if not os.path.isfile(uri):
        return None
    return os.path.getsize(uri)


class _S3RangeReader(io.RawIOBase):
    """Seekable read-only view of one S3 object via ranged GETs (enough for a Parquet footer)."""

    def __init__(self, uri: str, size: int) -> None:
        self._bucket, self._key = split_s3(uri)
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
        body = self._client.get_object(Bucket=self._bucket, Key=self._key, Range=f"bytes={self._pos}-{end}")[
            "Body"
        ].read()
        buffer[: len(body)] = body
        self._pos += len(body)
        return len(body)


def open_binary(uri: str) -> IO[bytes]:
    """Open a raw file for reading: seekable, buffered, local or S3."""
    if is_s3(uri):
        size = stat_size(uri)
        if size is None:
            raise FileNotFoundError(uri)
        return io.BufferedReader(_S3RangeReader(uri, size), buffer_size=1 << 20)
    return open(uri, "rb")


def iter_chunks(uri: str, chunk_size: int = 8 << 20) -> Iterator[bytes]:
    """Stream the whole file in chunks (for hashing), without holding it in memory."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        body = s3_client().get_object(Bucket=bucket, Key=key)["Body"]
        while chunk := body.read(chunk_size):
            yield chunk
        return
    with open(uri, "rb") as handle:
        while chunk := handle.read(chunk_size):
            yield chunk


# ---------- small text objects: manifests, rejection reports


def read_text(uri: str) -> str | None:
    """The object's text, or None when it does not exist."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        client = s3_client()
        try:
            return client.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        except client.exceptions.NoSuchKey:
            return None
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


def delete_file(uri: str) -> None:
    """Remove one file/object if present."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        s3_client().delete_object(Bucket=bucket, Key=key)
    elif os.path.isfile(uri):
        os.remove(uri)


# ---------- prefixes (directories) for the partition swap


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


def delete_tree(prefix: str) -> None:
    """Remove a directory / every object under an S3 prefix; absent is fine."""
    if is_s3(prefix):
        bucket, _ = split_s3(prefix)
        client = s3_client()
        keys = [split_s3(uri)[1] for uri in list_files(prefix)]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        return
    shutil.rmtree(prefix, ignore_errors=True)


def copy_file(source: str, target: str) -> None:
    """Copy one file: server-side between two S3 URIs, or between two local paths.

    Locally the copy is written aside and renamed in, so the target is never seen half-written.
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
    s3_client().copy_object(
        Bucket=target_bucket,
        Key=target_key,
        CopySource={"Bucket": source_bucket, "Key": source_key},
    )


def unique_suffix() -> str:
    """A short random token for staging / aside names."""
    return uuid.uuid4().hex[:12]
