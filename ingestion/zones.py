"""Longitude/latitude -> TLC taxi zone LocationID, for the files from before zone ids (yellow and green
up to 2016-06). A pure function over numpy/pyarrow arrays (no Spark), so a Spark task can call it on
Arrow batches, on Glue and locally alike.

    from ingestion.zones import assign_zones
    pickup_zone = assign_zones(batch["pickup_longitude"], batch["pickup_latitude"])  # numpy int32

Rules, per point:
- null, NaN or infinite in either coordinate, a zero in either (the meters' "no fix": (0, 0) in the
  real files), or not a place on Earth (|longitude| > 180 or |latitude| > 90): 264 (Unknown);
- inside or on the edge of a zone polygon: that zone's LocationID; on a border shared by several
  zones (or a vertex where they meet): the lowest of their LocationIDs, so the answer is the same on
  every run;
- anywhere else: 265 (Outside of NYC). That includes the rivers and the bay: the TLC polygons stop at
  the shoreline, so a point on a bridge's span or a GPS fix drifting onto the water is 265 too.

Geometry: `ingestion/reference/taxi_zones.parquet`, the TLC shapefile reprojected once from state plane
feet to lon/lat by tools/convert_taxi_zones.py (see reference/PROVENANCE.md). Its edges are straight
lines in lon/lat while the TLC's are straight in state plane; over NYC the two differ by the square of
the edge length times ~1.9 cm/km^2, and the longest edge is under 1 km, so no boundary moves by more
than 1.5 cm: far below the 5-10 m GPS error of a taxi meter. NAD83 taken as WGS84 adds ~1 m, likewise.

Speed: a grid of cells 2^-12 degree wide (~21 m x 27 m), built once per process (~0.5 s, 8 MB), holds
the answer for every cell that no zone boundary comes near (found exactly, once). Most points are
looked up in it (about 4 in 5 real pickup and drop-off fixes: taxis stop on the streets that zone
borders follow); the rest get the exact test:
STRtree bounding boxes, then shapely's prepared point-in-polygon. Both paths give the same answer by
construction; tests/ingestion/test_zones.py checks it against brute force. Figures: tests/bench/zones_bench.py.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

UNKNOWN_ZONE = 264
OUTSIDE_NYC_ZONE = 265
REFERENCE_PACKAGE = "ingestion"
REFERENCE_PATH = ("reference", "taxi_zones.parquet")

# A power of two, so cell edges are exact binary fractions and (x - origin) / CELL rounds only in the
# subtraction (~1e-16 degree). MARGIN, far above that rounding, keeps boundaries off "whole" cells.
CELL = 2.0**-12
MARGIN = 1e-9
_BOUNDARY_CELL = 0  # no LocationID is 0: the cell needs the exact test


@dataclass(frozen=True)
class ZoneIndex:
    location_ids: np.ndarray  # int32, one per polygon, ascending
    polygons: np.ndarray  # shapely Polygon/MultiPolygon, lon/lat
    tree: shapely.STRtree
    origin_x: float
    origin_y: float
    columns: int
    rows: int
    grid: np.ndarray  # uint16, rows * columns: a LocationID, 265, or _BOUNDARY_CELL


def zone_polygons() -> tuple[np.ndarray, np.ndarray]:
    """The shipped zone polygons: (LocationID int32 array, shapely geometry array), by LocationID."""
    index = _zone_index()
    return index.location_ids.copy(), index.polygons.copy()


def assign_zones(longitude, latitude) -> np.ndarray:
    """The TLC LocationID (int32) of each point, by the rules in this module's docstring.

    `longitude`/`latitude`: numpy arrays (any real dtype) or pyarrow (Chunked)Arrays, nulls allowed,
    of the same length."""
    lon = _as_float64(longitude, "longitude")
    lat = _as_float64(latitude, "latitude")
    if lon.shape != lat.shape:
        raise ValueError(f"longitude and latitude differ in length: {lon.shape[0]} vs {lat.shape[0]}")
    index = _zone_index()
    zones = np.full(lon.shape, OUTSIDE_NYC_ZONE, dtype=np.int32)
    with np.errstate(invalid="ignore"):
        column = np.floor((lon - index.origin_x) / CELL)
        row = np.floor((lat - index.origin_y) / CELL)
        on_grid = np.flatnonzero((column >= 0) & (column < index.columns) & (row >= 0) & (row < index.rows))
        unknown = ~(np.abs(lon) <= 180) | ~(np.abs(lat) <= 90) | (lon == 0) | (lat == 0)  # NaN fails <=
    cell = index.grid[row[on_grid].astype(np.intp) * index.columns + column[on_grid].astype(np.intp)]
    zones[on_grid] = cell
    exact = on_grid[cell == _BOUNDARY_CELL]
    if exact.size:
        zones[exact] = _exact_zones(index, lon[exact], lat[exact])
    zones[unknown] = UNKNOWN_ZONE
    return zones


def _exact_zones(index: ZoneIndex, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Point in polygon for each point, the lowest LocationID on a shared border, else 265."""
    return _point_in_polygons(index.tree, index.polygons, index.location_ids, lon, lat)


def _point_in_polygons(
    tree: shapely.STRtree, polygons: np.ndarray, location_ids: np.ndarray, lon: np.ndarray, lat: np.ndarray
) -> np.ndarray:
    zones = np.full(lon.shape, OUTSIDE_NYC_ZONE, dtype=np.int32)
    # Bounding-box candidates, then the prepared polygons' own test: several times faster than the
    # tree's predicate query, which does not use the prepared polygons for point input.
    point, polygon = tree.query(shapely.points(lon, lat))
    inside = shapely.intersects_xy(polygons[polygon], lon[point], lat[point])
    np.minimum.at(zones, point[inside], location_ids[polygon[inside]])
    return zones


def _as_float64(values, name: str) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)
                or pa.types.is_decimal(values.type) or pa.types.is_null(values.type)):  # fmt: skip
            raise TypeError(f"{name}: expected numbers, got a pyarrow {values.type} array")
        return values.cast(pa.float64()).to_numpy(zero_copy_only=False)  # nulls -> NaN
    array = np.asarray(values)
    if array.dtype.kind not in "fiu":
        raise TypeError(f"{name}: expected numbers, got a numpy {array.dtype} array")
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {array.shape}")
    return array.astype(np.float64, copy=False)


@functools.cache
def _zone_index() -> ZoneIndex:
    """Loads the shipped polygons (once per process; works from a zip on sys.path) and builds the grid."""
    resource = resources.files(REFERENCE_PACKAGE).joinpath(*REFERENCE_PATH)
    table = pq.read_table(pa.BufferReader(resource.read_bytes()))
    location_ids = table["LocationID"].to_numpy().astype(np.int32)
    polygons = shapely.from_wkb(table["geometry"].to_numpy(zero_copy_only=False))
    order = np.argsort(location_ids, kind="stable")
    location_ids, polygons = location_ids[order], polygons[order]
    shapely.prepare(polygons)
    tree = shapely.STRtree(polygons)

    min_x, min_y, max_x, max_y = shapely.total_bounds(polygons)
    origin_x = (np.floor(min_x / CELL) - 1) * CELL
    origin_y = (np.floor(min_y / CELL) - 1) * CELL
    columns = int(np.ceil((max_x - origin_x) / CELL)) + 2
    rows = int(np.ceil((max_y - origin_y) / CELL)) + 2
    boundary = _boundary_cells(polygons, origin_x, origin_y, columns, rows)
    grid = _whole_cell_zones(boundary, tree, polygons, location_ids, origin_x, origin_y, columns)
    return ZoneIndex(location_ids, polygons, tree, origin_x, origin_y, columns, rows, grid)


def _boundary_cells(polygons: np.ndarray, origin_x: float, origin_y: float, columns: int, rows: int) -> np.ndarray:
    """Flat bool mask of the cells that some zone boundary passes within MARGIN of."""
    # Edges cut to at most half a cell, so each one's bounding box spans at most 2 x 2 cells.
    rings = shapely.get_rings(shapely.get_parts(shapely.segmentize(polygons, CELL / 2)))
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same_ring = ring_of[1:] == ring_of[:-1]
    start, end = coords[:-1][same_ring], coords[1:][same_ring]
    low = np.minimum(start, end) - MARGIN
    high = np.maximum(start, end) + MARGIN
    col0 = np.floor((low[:, 0] - origin_x) / CELL).astype(np.intp)
    col1 = np.floor((high[:, 0] - origin_x) / CELL).astype(np.intp)
    row0 = np.floor((low[:, 1] - origin_y) / CELL).astype(np.intp)
    row1 = np.floor((high[:, 1] - origin_y) / CELL).astype(np.intp)
    boundary = np.zeros(rows * columns, dtype=bool)
    for d_col in range(int((col1 - col0).max()) + 1):
        for d_row in range(int((row1 - row0).max()) + 1):
            hit = (col0 + d_col <= col1) & (row0 + d_row <= row1)
            boundary[(row0[hit] + d_row) * columns + col0[hit] + d_col] = True
    return boundary


def _whole_cell_zones(
    boundary: np.ndarray,
    tree: shapely.STRtree,
    polygons: np.ndarray,
    location_ids: np.ndarray,
    origin_x: float,
    origin_y: float,
    columns: int,
) -> np.ndarray:
    """The answer for every cell no boundary comes near; _BOUNDARY_CELL for the others.

    A run of such cells along a row has no boundary in it, so it lies wholly in one zone or wholly
    outside all: one exact test at the centre of its first cell answers for the whole run."""
    whole = ~boundary
    run_start = whole.copy()
    run_start[1:] &= ~whole[:-1]
    run_start[::columns] = whole[::columns]  # a row's first cell starts a run
    starts = np.flatnonzero(run_start)
    centre_x = origin_x + (starts % columns + 0.5) * CELL
    centre_y = origin_y + (starts // columns + 0.5) * CELL
    answers = _point_in_polygons(tree, polygons, location_ids, centre_x, centre_y)
    run = np.cumsum(run_start) - 1
    grid = np.where(whole, answers[np.maximum(run, 0)], _BOUNDARY_CELL)
    return grid.astype(np.uint16)
