"""Lake and quarantine partitions: written aside, then swapped in whole.

A partition (``<root>/<service>_trips/year=YYYY/month=MM/``) always holds exactly one source
file's rows. It is replaced in two steps so a crash never leaves half a month behind:

1. `stage_partition` writes the rows with Spark to a staging location no reader looks at;
2. `publish` swaps it in.

Local filesystem: staging is a hidden sibling directory (``.month=MM.staging-<id>``); the swap
renames the old partition aside, renames the new one in, then deletes the old one. A crash before
the swap leaves the previous partition untouched; a crash between the two renames leaves it in
``.month=MM.old-<id>``, which `recover` puts back. A rerun always converges.

S3 (no rename): staging is ``<root>/_staging/<partition>/<id>/``; the swap copies the new objects
in (Spark's part file names are unique per write), then deletes the previous objects, then the
staging prefix. A crash mid-swap can leave old and new objects side by side until the rerun
(which the manifest's missing/older sha256 triggers) replaces the partition again.
"""

from __future__ import annotations

import math
import os
import posixpath
from dataclasses import dataclass

import pyarrow.parquet as pq
from pyspark.sql import DataFrame

from ingestion import storage

ROWS_PER_FILE = 1_000_000
STAGING_PREFIX = "_staging"


@dataclass(frozen=True)
class StagedPartition:
    """Rows written aside, waiting for `publish` (or `discard`)."""

    root: str
    partition: str
    staging: str

    @property
    def final(self) -> str:
        """Where the partition lives once published."""
        return storage.join(self.root, self.partition)


def files_for(rows: int) -> int:
    """How many Parquet files a partition of `rows` rows gets (coalesce target, no shuffle)."""
    return max(1, math.ceil(rows / ROWS_PER_FILE))


def _staging_path(root: str, partition: str) -> str:
    token = storage.unique_suffix()
    if storage.is_s3(root):
        return storage.join(root, STAGING_PREFIX, partition, token)
    parent, leaf = posixpath.split(partition)
    return storage.join(root, parent, f".{leaf}.staging-{token}")


def _is_data_file(path: str) -> bool:
    name = storage.file_name(path)
    return name.startswith("part-") and name.endswith(".parquet")


def stage_partition(
    frame: DataFrame, root: str, partition: str, rows: int | None, shuffle: bool = False
) -> StagedPartition:
    """Write `frame` (already in its final column order) to a fresh staging location.

    Uses coalesce, not repartition: the rows are not shuffled before the write. Coalescing also
    runs everything upstream in that many tasks, which is right for the accepted rows (most of
    the file); for a small filtered subset (the quarantine) `shuffle=True` lets every core filter
    and moves only the few surviving rows. `rows` sets the number of files (`files_for`); when it
    is not known beforehand (None, with `shuffle`), one task writes them, cut every
    `ROWS_PER_FILE` rows. Leaves only ``part-*.parquet`` files (Spark's _SUCCESS and .crc side
    files are removed).
    """
    recover(root, partition)
    staged = StagedPartition(root=root, partition=partition, staging=_staging_path(root, partition))
    if rows is None and not shuffle:
        raise ValueError("stage_partition needs the row count unless shuffle=True")
    files = 1 if rows is None else files_for(rows)
    sized = frame.repartition(files) if shuffle else frame.coalesce(files)
    writer = sized.write.mode("overwrite")
    if rows is None:
        writer = writer.option("maxRecordsPerFile", ROWS_PER_FILE)
    writer.parquet(storage.spark_uri(staged.staging))
    for path in storage.list_files(staged.staging):
        if not _is_data_file(path):
            storage.delete_file(path)
    return staged


def count_rows(location: str) -> int:
    """Rows in the part files under a partition or staging location, from Parquet footers."""
    total = 0
    for path in storage.list_files(location):
        if _is_data_file(path):
            with storage.open_binary(path) as handle:
                total += pq.ParquetFile(handle).metadata.num_rows
    return total


def publish(staged: StagedPartition) -> None:
    """Swap the staged rows in as the partition, replacing whatever was there."""
    if storage.is_s3(staged.root):
        _swap_s3(staged.staging, staged.final)
    else:
        _swap_local(staged.staging, staged.final)


def discard(staged: StagedPartition) -> None:
    """Drop staged rows that will not be published (the previous partition stays)."""
    storage.delete_tree(staged.staging)


def _swap_local(staging: str, final: str) -> None:
    parent, leaf = os.path.split(final)
    aside = os.path.join(parent, f".{leaf}.old-{storage.unique_suffix()}")
    if os.path.isdir(final):
        os.rename(final, aside)
    os.rename(staging, final)
    storage.delete_tree(aside)


def _swap_s3(staging: str, final: str) -> None:
    previous = storage.list_files(final)
    incoming = [path for path in storage.list_files(staging) if _is_data_file(path)]
    names = {storage.file_name(path) for path in incoming}
    for path in incoming:
        storage.copy_file(path, storage.join(final, storage.file_name(path)))
    for path in previous:
        if storage.file_name(path) not in names:
            storage.delete_file(path)
    storage.delete_tree(staging)


def recover(root: str, partition: str) -> None:
    """Tidy what a crashed run left: restore a partition renamed aside, drop stale staging.

    Local only (S3 staging prefixes are unique per run and removed by the next publish/discard;
    a lifecycle rule on ``_staging/`` can expire strays).
    """
    if storage.is_s3(root):
        return
    final = storage.join(root, partition)
    parent, leaf = os.path.split(final)
    if not os.path.isdir(parent):
        return
    leftovers = sorted(name for name in os.listdir(parent) if name.startswith(f".{leaf}."))
    for name in leftovers:
        path = os.path.join(parent, name)
        if ".old-" in name and not os.path.isdir(final):
            os.rename(path, final)
        else:
            storage.delete_tree(path)
