"""Which raw column of a file feeds each canonical field (ingestion/contract/datasets.py has the names).

Raw names are compared case- and whitespace-insensitively (BOM included). A file is refused, with
every problem named in one line, when a column is unknown, two columns claim one field (unless the
field coalesces them), a column belongs to another dataset, or a required field is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ingestion.contract import Dataset
from ingestion.contract import dataset as dataset_named
from ingestion.contract.datasets import DATASETS
from ingestion.errors import BadFileError


def normalise(name: str) -> str:
    """The comparable form of a raw column name."""
    return name.replace("\ufeff", "").strip().lower()


@dataclass(frozen=True)
class ColumnMapping:
    """The raw columns (exact spelling in the file) behind each canonical field of one file."""

    dataset: Dataset
    raw_columns: tuple[str, ...]
    sources: dict[str, tuple[str, ...]]  # field -> raw columns, in the field's alias order
    zones_from_points: dict[str, tuple[str, str]]  # zone field -> (longitude, latitude) fields

    @property
    def missing_revenue(self) -> tuple[str, ...]:
        """The dataset's revenue fields (type `amount`) when the file carries none of them: its trips
        load with NULL revenue, which the run must say. Empty when it carries one, or the dataset has
        none (fhv)."""
        amounts = tuple(f.name for f in self.dataset.fields if f.type == "amount")
        return () if any(name in self.sources for name in amounts) else amounts

    def source_for(self, field: str) -> str | None:
        """The (first) raw column of `field`, or None when this layout lacks it."""
        found = self.sources.get(field)
        return found[0] if found else None


def _markers() -> dict[str, str]:
    return {marker: item.service for item in DATASETS for marker in item.markers}


def map_columns(file_name: str, service: str, raw_columns: Sequence[str]) -> ColumnMapping:
    """Map a file's raw column names to its dataset's fields; BadFileError naming every problem."""
    item = dataset_named(service)
    by_alias = {alias: field for field in item.fields for alias in field.aliases}
    found: dict[str, list[tuple[int, str]]] = {}
    unknown: list[str] = []
    foreign: list[str] = []
    markers = _markers()
    for raw in raw_columns:
        key = normalise(raw)
        owner = next((markers[m] for m in markers if key.startswith(m)), None)
        if owner is not None and owner != service:
            foreign.append(f"{raw} ({owner})")
            continue
        field = by_alias.get(key)
        if field is None:
            unknown.append(raw)
        else:
            found.setdefault(field.name, []).append((field.aliases.index(key), raw))

    ambiguous = [
        "/".join(raw for _, raw in claims)
        for name, claims in found.items()
        if len(claims) > 1 and not item.field(name).coalesce
    ]
    sources = {name: tuple(raw for _, raw in sorted(claims)) for name, claims in found.items()}
    zones = {
        zone: points
        for zone, points in item.zones_from_points
        if zone not in sources and all(p in sources for p in points)
    }
    missing = [
        " or ".join("+".join(option) for option in requirement)
        for requirement in item.requirements
        if not any(all(name in sources for name in option) for option in requirement)
    ]

    problems: list[str] = []
    if foreign:
        problems.append(f"columns of another dataset than {service}: {', '.join(foreign)}")
    if unknown:
        problems.append(f"unknown columns {', '.join(unknown)} (add them to ingestion/contract/datasets.py)")
    if ambiguous:
        problems.append(f"ambiguous columns {', '.join(ambiguous)}")
    if missing:
        problems.append(f"missing required columns {', '.join(missing)}")
    if problems:
        raise BadFileError(file_name, "cannot map columns: " + "; ".join(problems))
    return ColumnMapping(dataset=item, raw_columns=tuple(raw_columns), sources=sources, zones_from_points=zones)
