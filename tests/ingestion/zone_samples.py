"""The real longitude/latitude-era TLC samples (tests/fixtures/tlc_samples/), read with the csv module:
the project's reader does not take these layouts, and they differ per era (Start_Lon in 2009,
pickup_longitude later, leading spaces in 2014 headers, Pickup_longitude in green files, green rows
with more fields than the header, a blank line after some headers)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "tlc_samples"
SAMPLE_FILES = (
    "yellow_tripdata_2009-01.csv",
    "yellow_tripdata_2010-01.csv",
    "yellow_tripdata_2011-01.csv",
    "yellow_tripdata_2012-01.csv",
    "yellow_tripdata_2014-01.csv",
    "yellow_tripdata_2015-07.csv",
    "green_tripdata_2013-08.csv",
    "green_tripdata_2014-01.csv",
    "green_tripdata_2015-01.csv",
)
# Header names (stripped, lower-cased) of the four coordinates, per era.
COORDINATE_COLUMNS = {
    "pickup_longitude": ("start_lon", "pickup_longitude"),
    "pickup_latitude": ("start_lat", "pickup_latitude"),
    "dropoff_longitude": ("end_lon", "dropoff_longitude"),
    "dropoff_latitude": ("end_lat", "dropoff_latitude"),
}
# A box around the five boroughs and Newark Airport, with a margin: a point outside it is no
# plausible taxi fix (it is a zero, a swapped or a corrupt coordinate).
PLAUSIBLE_LONGITUDE = (-74.35, -73.60)
PLAUSIBLE_LATITUDE = (40.40, 41.00)


def read_coordinates(path: Path) -> dict[str, pa.Array]:
    """The four coordinate columns of one sample file as float64 arrays (empty field -> null)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle) if any(field.strip() for field in row)]
    header = [name.strip().lower() for name in rows[0]]
    columns = {}
    for name, variants in COORDINATE_COLUMNS.items():
        (position,) = [header.index(variant) for variant in variants if variant in header]
        columns[name] = pa.array([float(row[position]) if row[position].strip() else None for row in rows[1:]],
                                 pa.float64())  # fmt: skip
    return columns


def is_plausible(longitude, latitude) -> np.ndarray:
    """Bool per point: inside the plausible box (null/NaN is not). Numpy or pyarrow arrays."""
    lon = pa.array(longitude, pa.float64()).to_numpy(zero_copy_only=False)
    lat = pa.array(latitude, pa.float64()).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):
        return (
            (lon >= PLAUSIBLE_LONGITUDE[0]) & (lon <= PLAUSIBLE_LONGITUDE[1])
            & (lat >= PLAUSIBLE_LATITUDE[0]) & (lat <= PLAUSIBLE_LATITUDE[1])
        )  # fmt: skip
