"""A local lake copied to other folders, as a lake of its own.

An Iceberg table names its files by absolute path (metadata, manifest lists, manifests, data files), so
a copied folder still reads and writes the original's files. `relocate` copies every table's live files
to the new roots and rewrites each path on the way: the new manifests, manifest lists and metadata
name only the new location, and the copy is registered in the new roots' catalog. Snapshot ids,
sequence numbers and summaries are kept, so what a warehouse recorded of the original (its months'
snapshot ids) holds for the copy.

    python -m ingestion.lake_relocate --from-lake OLD/lake --from-quarantine OLD/quarantine \
        --to-lake NEW/lake --to-quarantine NEW/quarantine

Local lakes only (SQLite catalog); the side folders (`_manifests`, `_rejected_files`) are copied as they are.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import uuid

from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.manifest import ManifestEntryStatus, ManifestFile, write_manifest, write_manifest_list
from pyiceberg.serializers import ToOutputFile
from pyiceberg.table import Table, TableProperties

from ingestion import lake_lock, storage
from ingestion.contract import MANIFEST_DIR, REJECTED_DIR, iceberg_tables
from ingestion.lake_tables import LakeRoots, ensure_tables, local_path, open_catalog

# pyiceberg's DataFile and ManifestFile are Records whose fields are read-only by name: their positions
_FILE_PATH = 1  # DataFile.file_path
_MANIFEST_PATH, _MANIFEST_LENGTH = 0, 1  # ManifestFile.manifest_path, .manifest_length


def _mover(old: str, new: str):
    def move(path: str) -> str:
        if not path.startswith(old):
            raise ValueError(f"{path} is outside its table's location {old}")
        return new + path[len(old) :]

    return move


def _copy_table(table: Table, new_location: str) -> str:
    """The table's live files under `new_location`, every path rewritten; returns the new metadata file."""
    metadata, io = table.metadata, table.io
    move = _mover(table.location().rstrip("/"), new_location.rstrip("/"))
    codec = metadata.properties.get(
        TableProperties.WRITE_AVRO_COMPRESSION, TableProperties.WRITE_AVRO_COMPRESSION_DEFAULT
    )
    schemas = {schema.schema_id: schema for schema in metadata.schemas}
    manifests: dict[str, ManifestFile] = {}
    snapshots = []
    for snapshot in metadata.snapshots:
        rewritten = []
        for manifest in snapshot.manifests(io):
            if manifest.manifest_path not in manifests:
                manifests[manifest.manifest_path] = _copy_manifest(manifest, table, move, codec, schemas)
            rewritten.append(manifests[manifest.manifest_path])
        target = move(snapshot.manifest_list)
        os.makedirs(os.path.dirname(local_path(target)), exist_ok=True)
        with write_manifest_list(
            metadata.format_version,
            io.new_output(target),
            snapshot.snapshot_id,
            snapshot.parent_snapshot_id,
            snapshot.sequence_number,
            codec,
        ) as writer:
            writer.add_manifests(rewritten)
        snapshots.append(snapshot.model_copy(update={"manifest_list": target}))
    updated = metadata.model_copy(update={"location": new_location, "snapshots": snapshots, "metadata_log": []})
    path = f"{new_location.rstrip('/')}/metadata/00000-{uuid.uuid4()}.metadata.json"
    os.makedirs(os.path.dirname(local_path(path)), exist_ok=True)
    ToOutputFile.table_metadata(updated, io.new_output(path))
    return path


def _copy_manifest(manifest: ManifestFile, table: Table, move, codec: str, schemas) -> ManifestFile:
    io, metadata = table.io, table.metadata
    target = move(manifest.manifest_path)
    os.makedirs(os.path.dirname(local_path(target)), exist_ok=True)
    spec = metadata.specs()[manifest.partition_spec_id]
    writer = write_manifest(
        metadata.format_version, spec, metadata.schema(), io.new_output(target), manifest.added_snapshot_id, codec
    )
    with writer:
        for cached in manifest.fetch_manifest_entry(io, discard_deleted=False):
            entry = copy.deepcopy(cached)  # pyiceberg caches what it read: never change its objects
            old_path = entry.data_file.file_path
            entry.data_file[_FILE_PATH] = move(old_path)
            if entry.status != ManifestEntryStatus.DELETED:  # a deleted entry's file may be gone already
                os.makedirs(os.path.dirname(local_path(entry.data_file.file_path)), exist_ok=True)
                shutil.copyfile(local_path(old_path), local_path(entry.data_file.file_path))
            writer.add_entry(entry)
    copied = copy.deepcopy(manifest)
    copied[_MANIFEST_PATH] = target
    copied[_MANIFEST_LENGTH] = os.path.getsize(local_path(target))
    return copied


def relocate(source: LakeRoots, target: LakeRoots) -> None:
    """Copy the lake at `source` to `target` (see the module docstring), holding both (no upkeep may
    delete a file while it is copied)."""
    with lake_lock.holding(source.lake_root), lake_lock.holding(target.lake_root):
        _relocate(source, target)


def _relocate(source: LakeRoots, target: LakeRoots) -> None:
    old, new = open_catalog(source), open_catalog(target)
    ensure_tables(new, target, names=[])  # the namespace
    for spec in iceberg_tables():
        try:
            table = old.load_table((source.namespace, spec.name))
        except NoSuchTableError:
            continue
        new.register_table((target.namespace, spec.name), _copy_table(table, target.location(spec)))
    sides = (
        (source.lake_root, target.lake_root, MANIFEST_DIR),
        (source.quarantine_root, target.quarantine_root, REJECTED_DIR),
    )
    for root, other, side in sides:
        if os.path.isdir(storage.join(root, side)):
            shutil.copytree(storage.join(root, side), storage.join(other, side), dirs_exist_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingestion.lake_relocate", description=__doc__.split("\n")[0])
    for name in ("from-lake", "from-quarantine", "to-lake", "to-quarantine"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args(argv)
    relocate(LakeRoots(args.from_lake, args.from_quarantine), LakeRoots(args.to_lake, args.to_quarantine))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
