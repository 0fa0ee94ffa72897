"""The shipped zone polygons (ingestion/reference/) are what tools/convert_taxi_zones.py makes of the
fixture shapefile (tests/fixtures/taxi_zones/), so the two cannot drift apart."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import shapely

REPO_ROOT = Path(__file__).resolve().parents[2]


def _load_converter():
    # by path: a bare `import tools` could find tests/orchestration/tools.py first on sys.path
    spec = importlib.util.spec_from_file_location("convert_taxi_zones", REPO_ROOT / "tools" / "convert_taxi_zones.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


convert_taxi_zones = _load_converter()
SHIPPED = REPO_ROOT / "ingestion" / "reference" / convert_taxi_zones.PARQUET_NAME
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "taxi_zones" / "taxi_zones.shp"
TOLERANCE_DEGREES = 1e-9  # ~0.1 mm: room for another PROJ/GEOS build's last-bit differences, no more


def test_shipped_polygons_equal_a_fresh_conversion_of_the_fixture_shapefile():
    fresh = convert_taxi_zones.convert(FIXTURE)
    shipped = pq.read_table(SHIPPED)
    assert shipped.schema.equals(fresh.schema)  # column names and types
    assert shipped["LocationID"].to_pylist() == fresh["LocationID"].to_pylist()
    ours = shapely.from_wkb(shipped["geometry"].to_numpy(zero_copy_only=False))
    theirs = shapely.from_wkb(fresh["geometry"].to_numpy(zero_copy_only=False))
    differs = ~shapely.equals_exact(ours, theirs, tolerance=TOLERANCE_DEGREES)
    assert not differs.any(), f"LocationIDs differ: {np.asarray(shipped['LocationID'])[differs].tolist()}"
    for key in (b"source", b"crs", b"conversion"):
        assert shipped.schema.metadata[key] == fresh.schema.metadata[key]


def test_shipped_polygons_are_valid_lonlat_and_small():
    shipped = pq.read_table(SHIPPED)
    polygons = shapely.from_wkb(shipped["geometry"].to_numpy(zero_copy_only=False))
    assert shapely.is_valid(polygons).all()
    assert set(shapely.get_type_id(polygons).tolist()) <= {3, 6}  # Polygon, MultiPolygon
    min_x, min_y, max_x, max_y = shapely.total_bounds(polygons)
    assert -74.3 < min_x < max_x < -73.6 and 40.4 < min_y < max_y < 41.0  # NYC + Newark Airport, in degrees
    assert SHIPPED.stat().st_size < 2 * 1024 * 1024


def test_straight_lonlat_edges_stay_within_two_centimetres_of_the_state_plane_ones():
    # ingestion/zones.py and reference/PROVENANCE.md state the bound (1.5 cm); this recomputes it.
    deviation_m, edge_length_m = convert_taxi_zones.max_edge_deviation_m(FIXTURE)
    assert deviation_m < 0.02, (deviation_m, edge_length_m)


def test_provenance_note_matches_a_fresh_conversion(tmp_path):
    convert_taxi_zones.main(["--shapefile", str(FIXTURE), "--out-dir", str(tmp_path)])

    def without_tool_versions(path: Path) -> list[str]:
        return [line for line in path.read_text().splitlines() if not line.startswith("- Tools:")]

    committed = without_tool_versions(SHIPPED.with_name("PROVENANCE.md"))
    assert without_tool_versions(tmp_path / "PROVENANCE.md") == committed
