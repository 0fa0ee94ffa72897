"""What the job did with each input file: one typed record per file, for the runner to render.

`status`:
    ingested  data files written and committed by the driver, `manifest` (the receipt) written
    skipped   the lake already holds this exact file (same sha256): `manifest` is the stored one
    refused   the file as a whole cannot be ingested: `problem` (one line), nothing published
    failed    a bug stopped the file (e.g. counts that do not reconcile): `problem`, nothing published
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

INGESTED, SKIPPED, REFUSED, FAILED = "ingested", "skipped", "refused", "failed"


@dataclass
class FileResult:
    """One input file's outcome."""

    source_file: str
    source_path: str
    status: str
    manifest: dict | None = None
    problem: str | None = None
    rejection_report: str | None = None
    seconds: float = 0.0
    source_version: str | None = None  # the S3 object version read (and archived); None locally
    archived_to: str | None = None  # with an archive root: where the raw file went
    moved_to: str | None = None  # where the refused raw file was put (moved with an archive root, else copied)
    notes: list[str] = field(default_factory=list)
    data_files: dict[str, list[str]] | None = None  # table -> files the task wrote, until the driver commits

    @property
    def error(self) -> str:
        """``<file name>: <problem>``, the one line a user sees."""
        return f"{self.source_file}: {self.problem}"

    @property
    def ok(self) -> bool:
        return self.status in (INGESTED, SKIPPED)

    def count(self, key: str) -> int:
        """A manifest count (rows_read, rows_accepted, rows_quarantined), 0 without a manifest."""
        return int(self.manifest[key]) if self.manifest else 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FileResult:
        return cls(**data)


def summarize(results: list[FileResult]) -> dict:
    """The JSON summary the command line prints."""
    statuses = [r.status for r in results]
    return {
        "ok": all(r.ok for r in results),
        **{status: statuses.count(status) for status in (INGESTED, SKIPPED, REFUSED, FAILED)},
        "files": [r.to_dict() for r in results],
    }
