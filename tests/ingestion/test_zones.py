"""ingestion.zones.assign_zones on the shipped TLC polygons: landmarks, the 264/265 rules, borders, the
grid shortcut against brute force, input types, and loading from a zip as the Glue job does."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import shapely

from ingestion.zones import CELL, OUTSIDE_NYC_ZONE, UNKNOWN_ZONE, assign_zones, zone_polygons
from orchestration.aws import glue_package

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOKUP = REPO_ROOT / "dbt_project" / "seeds" / "taxi_zone_lookup.csv"


def zone_ids(name: str) -> set[int]:
    """The LocationIDs of a zone name in the project's zone table (the seed). Some names have several:
    Corona is 56 and 57, the islands 103 to 105 (the TLC shapefile files all their land under 56/103)."""
    with LOOKUP.open(newline="") as handle:
        return {int(row["LocationID"]) for row in csv.DictReader(handle) if row["Zone"] == name}


def zone_id(name: str) -> int:
    (location_id,) = zone_ids(name)
    return location_id


def brute_force(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Every point against every polygon, closed (boundary included); the lowest LocationID wins."""
    ids, polygons = zone_polygons()
    zones = np.full(lon.shape, OUTSIDE_NYC_ZONE, dtype=np.int32)
    for location_id, polygon in zip(ids, polygons, strict=True):
        inside = shapely.intersects_xy(polygon, lon, lat)
        zones[inside & (zones > location_id)] = location_id
    return zones


LANDMARKS = [  # (what, longitude, latitude, zone name in taxi_zone_lookup.csv)
    ("Times Square", -73.9855, 40.7580, "Times Sq/Theatre District"),
    ("JFK Terminal 4", -73.7822, 40.6441, "JFK Airport"),
    ("LaGuardia Terminal B", -73.8720, 40.7740, "LaGuardia Airport"),
    ("Central Park, Great Lawn", -73.9665, 40.7813, "Central Park"),
    ("Empire State Building", -73.9857, 40.7484, "Midtown South"),
    ("Newark Airport terminals (in New Jersey, but a TLC zone)", -74.1745, 40.6895, "Newark Airport"),
    ("Statue of Liberty", -74.0445, 40.6892, "Governor's Island/Ellis Island/Liberty Island"),
    ("Yankee Stadium", -73.9262, 40.8296, "West Concourse"),
    ("St. George ferry terminal", -74.0736, 40.6437, "Saint George/New Brighton"),
    ("Flushing, Main St", -73.8303, 40.7596, "Flushing"),
]


@pytest.mark.parametrize(("what", "lon", "lat", "zone"), LANDMARKS, ids=[row[0] for row in LANDMARKS])
def test_landmarks_land_in_their_zone(what, lon, lat, zone):
    (zone_of_point,) = assign_zones(np.array([lon]), np.array([lat])).tolist()
    assert zone_of_point in zone_ids(zone)


def test_outside_unknown_and_missing_points():
    points = [  # (longitude, latitude, expected)
        (-74.0431, 40.7178, OUTSIDE_NYC_ZONE),  # Jersey City City Hall
        (-73.8988, 40.9312, OUTSIDE_NYC_ZONE),  # Yonkers
        (-74.0110, 40.7600, OUTSIDE_NYC_ZONE),  # the Hudson, mid-river: polygons stop at the shore
        (-115.1791, 36.1371, OUTSIDE_NYC_ZONE),  # Las Vegas (real rows of green_tripdata_2013-08)
        (0.0, 0.0, UNKNOWN_ZONE),
        (-73.9855, 0.0, UNKNOWN_ZONE),  # half a fix is no fix
        (0.0, 40.7580, UNKNOWN_ZONE),
        (float("nan"), 40.7580, UNKNOWN_ZONE),
        (-73.9855, float("inf"), UNKNOWN_ZONE),
        (-73.9855, 407.580, UNKNOWN_ZONE),  # not a place on Earth
        (-739.855, 40.7580, UNKNOWN_ZONE),
    ]
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    assert assign_zones(lon, lat).tolist() == [p[2] for p in points]


def test_pyarrow_arrays_with_nulls_and_chunks():
    times_square = zone_id("Times Sq/Theatre District")
    lon = pa.chunked_array([[-73.9855, None], [0.0, -73.9855, None]], pa.float64())
    lat = pa.chunked_array([[40.7580, 40.7580], [0.0, None, None]], pa.float64())
    zones = assign_zones(lon, lat)
    assert zones.dtype == np.int32
    assert zones.tolist() == [times_square, UNKNOWN_ZONE, UNKNOWN_ZONE, UNKNOWN_ZONE, UNKNOWN_ZONE]
    # float32 (as some TLC files store coordinates), decimals and an all-null column
    assert assign_zones(pa.array([-73.9855], pa.float32()), pa.array([40.758], pa.float32())).tolist() == [times_square]
    decimal = pa.array(["-73.985500", "40.758000"]).cast(pa.decimal128(9, 6))
    assert assign_zones(decimal[:1], decimal[1:]).tolist() == [times_square]
    assert assign_zones(pa.nulls(2), pa.nulls(2)).tolist() == [UNKNOWN_ZONE, UNKNOWN_ZONE]
    assert assign_zones(np.array([], dtype=np.float64), pa.array([], pa.float64())).tolist() == []


def test_bad_inputs_are_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="differ in length: 2 vs 1"):
        assign_zones(np.array([-73.9, -73.9]), np.array([40.7]))
    with pytest.raises(TypeError, match="latitude: expected numbers, got a pyarrow string array"):
        assign_zones(pa.array([-73.9]), pa.array(["40.7"]))
    with pytest.raises(ValueError, match="longitude: expected a 1-D array"):
        assign_zones(np.zeros((2, 2)), np.zeros((2, 2)))


def test_every_zone_polygon_maps_its_representative_point_back_to_itself():
    ids, polygons = zone_polygons()
    assert len(ids) == 260 and set(range(1, 264)) - set(ids.tolist()) == {57, 104, 105}
    inner = shapely.point_on_surface(polygons)
    assert assign_zones(shapely.get_x(inner), shapely.get_y(inner)).tolist() == ids.tolist()
    # and every separate part of a multi-part zone (56 Corona, 103 the islands) too
    parts, owner = shapely.get_parts(polygons, return_index=True)
    inner = shapely.point_on_surface(parts)
    assert assign_zones(shapely.get_x(inner), shapely.get_y(inner)).tolist() == ids[owner].tolist()


def test_a_point_on_a_shared_border_gets_the_lowest_zone_id():
    ids, polygons = zone_polygons()
    midtown, times_square = zone_id("Midtown Center"), zone_id("Times Sq/Theatre District")
    a, b = polygons[ids == midtown][0], polygons[ids == times_square][0]
    shared = shapely.get_coordinates(shapely.intersection(a.boundary, b.boundary))
    others = polygons[(ids != midtown) & (ids != times_square)]
    on_a_third = np.array([shapely.intersects_xy(others, x, y).any() for x, y in shared])
    shared = shared[~on_a_third]  # a corner where a third zone meets goes to the lowest of the three
    assert len(shared) >= 2  # they share an edge
    assert set(assign_zones(shared[:, 0], shared[:, 1]).tolist()) == {min(midtown, times_square)}
    # every vertex of every zone lies on a boundary: never "outside", and always the lowest id covering it
    coords = shapely.get_coordinates(polygons)
    zones = assign_zones(coords[:, 0], coords[:, 1])
    assert not (zones == OUTSIDE_NYC_ZONE).any()
    np.testing.assert_array_equal(zones, brute_force(coords[:, 0], coords[:, 1]))


def boundary_crossings_of_cell_edges(polygons: np.ndarray) -> np.ndarray:
    """(x, y) where zone boundaries cross the grid's cell edges (multiples of CELL): such points lie in
    the cells a boundary only clips, the cells the grid could wrongly take for whole."""
    rings = shapely.get_rings(shapely.get_parts(polygons))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    start, end = coords[:-1][same], coords[1:][same]
    found = []
    for axis in (0, 1):
        low, high = np.minimum(start[:, axis], end[:, axis]), np.maximum(start[:, axis], end[:, axis])
        first, last = np.ceil(low / CELL).astype(int), np.floor(high / CELL).astype(int)
        for step in range(int((last - first).max()) + 1):
            edge = (first + step <= last) & (low < high)
            line = (first[edge] + step) * CELL
            t = (line - start[edge, axis]) / (end[edge, axis] - start[edge, axis])
            point = start[edge] + t[:, None] * (end[edge] - start[edge])
            point[:, axis] = line
            found.append(point)
    return np.vstack(found)


def test_the_grid_shortcut_gives_the_exact_answer():
    """The cell grid answers most points without a polygon test; it must agree with brute force
    everywhere: random points, points where boundaries cross cell edges, points on the boundaries
    every half cell, points a hair's breadth off vertices, points exactly on cell edges."""
    _, polygons = zone_polygons()
    min_x, min_y, max_x, max_y = shapely.total_bounds(polygons)
    rng = np.random.default_rng(20240601)
    random_lon = rng.uniform(min_x - 0.01, max_x + 0.01, 100_000)
    random_lat = rng.uniform(min_y - 0.01, max_y + 0.01, 100_000)
    on_boundaries = np.vstack(
        [boundary_crossings_of_cell_edges(polygons), shapely.get_coordinates(shapely.segmentize(polygons, CELL / 2))]
    )
    vertices = shapely.get_coordinates(polygons)
    vertices = vertices[rng.choice(len(vertices), 30_000, replace=False)]
    near = vertices + rng.choice([-1, 1], vertices.shape) * 10.0 ** rng.uniform(-10, -5, vertices.shape)
    on_cell_edges_lon = np.floor(random_lon[:30_000] / CELL) * CELL
    on_cell_edges_lat = np.floor(random_lat[:30_000] / CELL) * CELL
    lon = np.concatenate([random_lon, on_boundaries[:, 0], near[:, 0], on_cell_edges_lon, random_lon[:30_000]])
    lat = np.concatenate([random_lat, on_boundaries[:, 1], near[:, 1], random_lat[:30_000], on_cell_edges_lat])
    zones = assign_zones(lon, lat)
    np.testing.assert_array_equal(zones, brute_force(lon, lat))
    assert (zones < OUTSIDE_NYC_ZONE).sum() > 50_000  # the sample really tests inside points


def test_loads_the_polygons_from_a_zip_as_the_glue_job_ships_the_package(tmp_path):
    # built as README.md / infra/README.md tell (python3 -m orchestration.aws.glue_package)
    archive = glue_package.build(tmp_path / "ingestion.zip")
    script = (
        "import numpy as np, ingestion.zones as z\n"
        "assert z.__file__.startswith(sys.argv[1]), z.__file__\n"
        "print(z.assign_zones(np.array([-73.9855, 0.0, -74.0431]), np.array([40.7580, 0.0, 40.7178])).tolist())\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"} | {"PYTHONPATH": str(archive)}
    proc = subprocess.run(
        [sys.executable, "-c", "import sys\n" + script, str(archive)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == str([zone_id("Times Sq/Theatre District"), UNKNOWN_ZONE, OUTSIDE_NYC_ZONE])
