"""The Glue job's package: `ingestion/` as the zip the job's --extra-py-files names.

    python3 -m orchestration.aws.glue_package        # -> .local/build/ingestion.zip (infra's default path)

Every file of the package goes in, data too (the zone polygons, ingestion/reference/taxi_zones.parquet,
are read from inside the zip on the workers), byte-reproducible: sorted, fixed timestamps, no bytecode, so
Terraform's source hash changes only when the code does. The deploy rehearsal and the Glue 5.0 runtime test
build it with this module too.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "ingestion"
DEFAULT_OUTPUT = Path(".local") / "build" / "ingestion.zip"  # infra/modules/platform's ingestion_package_path
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold


def package_files(source_root: Path = REPO_ROOT) -> list[Path]:
    root = source_root / PACKAGE
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo")
    )


def build(output: Path, source_root: Path = REPO_ROOT) -> Path:
    """Write the package zip to `output` (replaced whole) and return it."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in package_files(source_root):
            entry = zipfile.ZipInfo(path.relative_to(source_root).as_posix(), date_time=_EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes())
    partial.replace(output)
    return output


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT / DEFAULT_OUTPUT
    print(build(target))
