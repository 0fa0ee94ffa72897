"""One-off: the TLC taxi zone shapefile (state plane feet) -> ingestion/reference/taxi_zones.parquet (lon/lat).

    .venv/bin/python tools/convert_taxi_zones.py [--shapefile tests/fixtures/taxi_zones/taxi_zones.shp]
                                                 [--out-dir ingestion/reference]

Writes `taxi_zones.parquet` (LocationID int32, geometry WKB; one row per LocationID, the records of a
multi-record zone merged; sorted by LocationID) and `PROVENANCE.md` beside it. Run it again only when
the TLC publishes a new shapefile: copy that into tests/fixtures/taxi_zones/ first, since
tests/ingestion/test_zones_reference.py regenerates the shipped file from the fixture and compares.

Needs pyshp and pyproj, which the ingestion job itself does not (it reads the Parquet with pyarrow and
shapely only).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyproj
import shapefile
import shapely
from shapely.geometry import shape

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHAPEFILE = REPO_ROOT / "tests" / "fixtures" / "taxi_zones" / "taxi_zones.shp"
DEFAULT_OUT_DIR = REPO_ROOT / "ingestion" / "reference"
LOOKUP = REPO_ROOT / "dbt_project" / "seeds" / "taxi_zone_lookup.csv"
PARQUET_NAME = "taxi_zones.parquet"
SOURCE = "toddwschneider/nyc-taxi-data @ c65ad8332a : shapefiles/taxi_zones/ (the TLC's taxi zone shapefile)"
# Geographic NAD83 by the exact inverse of the state plane projection. NAD83 -> WGS84 is taken as
# the null transformation EPSG:1188 "NAD83 to WGS 84 (1)": it is what PROJ itself picks without
# the NOAA grids, and pinning it keeps the output the same on every machine whatever grids it has.
# The real NAD83(2011) - ITRF2014 offset in Manhattan is ~1.05 m (PROJ, EPSG:6318 -> EPSG:9000),
# far below the GPS error of a taxi meter.
TARGET_CRS = "EPSG:4269"
US_FOOT_M = 1200 / 3937


def source_crs(shp_path: Path) -> pyproj.CRS:
    return pyproj.CRS.from_wkt(shp_path.with_suffix(".prj").read_text())


def to_lonlat(shp_path: Path) -> pyproj.Transformer:
    """The exact inverse projection state plane feet -> lon/lat degrees (x = longitude)."""
    transformer = pyproj.Transformer.from_crs(source_crs(shp_path), TARGET_CRS, always_xy=True)
    if transformer.accuracy != 0.0:  # a datum shift crept in: the output would depend on installed grids
        raise RuntimeError(f"expected an exact conversion, got {transformer.description!r}")
    return transformer


def read_state_plane(shp_path: Path) -> dict[int, shapely.Geometry]:
    """LocationID -> the union of its records' polygons, in the shapefile's own coordinates (feet)."""
    pieces: dict[int, list[shapely.Geometry]] = {}
    with shapefile.Reader(str(shp_path)) as reader:
        for record in reader.iterShapeRecords():
            geometry = shape(record.shape.__geo_interface__)
            if not geometry.is_valid:
                raise ValueError(f"LocationID {record.record['LocationID']}: {shapely.is_valid_reason(geometry)}")
            pieces.setdefault(int(record.record["LocationID"]), []).append(geometry)
    return {location_id: shapely.union_all(parts) for location_id, parts in sorted(pieces.items())}


def convert(shp_path: Path = DEFAULT_SHAPEFILE) -> pa.Table:
    """The shipped table, built in memory: LocationID int32, geometry (WKB, lon/lat), by LocationID."""
    transformer = to_lonlat(shp_path)
    zones = read_state_plane(shp_path)
    geometries = []
    for location_id, geometry in zones.items():
        lonlat = shapely.normalize(shapely.transform(geometry, transformer.transform, interleaved=False))
        if not lonlat.is_valid:
            raise ValueError(f"LocationID {location_id} is invalid in lon/lat: {shapely.is_valid_reason(lonlat)}")
        geometries.append(lonlat)
    metadata = {
        "source": SOURCE,
        "crs": "EPSG:4326 (WGS84 lon/lat; = NAD83 EPSG:4269 by the null transformation EPSG:1188)",
        "conversion": transformer.description,
        "tools": tool_versions(),
    }
    schema = pa.schema([("LocationID", pa.int32()), ("geometry", pa.binary())], metadata=metadata)
    return pa.table(
        {
            "LocationID": pa.array(list(zones), pa.int32()),
            "geometry": pa.array(shapely.to_wkb(np.array(geometries), byte_order=1), pa.binary()),
        },
        schema=schema,
    )


def max_edge_deviation_m(shp_path: Path = DEFAULT_SHAPEFILE) -> tuple[float, float]:
    """How far a straight lon/lat edge strays from the true (straight in state plane) edge, worst case
    over every edge of the shapefile: (deviation in metres, that edge's length in metres).

    The midpoint of each state plane edge is projected and compared with the midpoint of the lon/lat
    chord; for edges this short the curve is a parabola, so that is its largest offset."""
    transformer = to_lonlat(shp_path)
    starts, ends = [], []
    for geometry in read_state_plane(shp_path).values():
        for ring in shapely.get_rings(shapely.get_parts(geometry)):
            coords = shapely.get_coordinates(ring)
            starts.append(coords[:-1])
            ends.append(coords[1:])
    start, end = np.vstack(starts), np.vstack(ends)
    lon0, lat0 = transformer.transform(start[:, 0], start[:, 1])
    lon1, lat1 = transformer.transform(end[:, 0], end[:, 1])
    lon_mid, lat_mid = transformer.transform((start[:, 0] + end[:, 0]) / 2, (start[:, 1] + end[:, 1]) / 2)
    _, _, deviation = pyproj.Geod(ellps="GRS80").inv(lon_mid, lat_mid, (lon0 + lon1) / 2, (lat0 + lat1) / 2)
    worst = int(np.argmax(deviation))
    return float(deviation[worst]), float(np.hypot(*(end[worst] - start[worst])) * US_FOOT_M)


def lookup_ids() -> list[int]:
    with LOOKUP.open(newline="") as handle:
        return [int(row["LocationID"]) for row in csv.DictReader(handle)]


def tool_versions() -> str:
    return (
        f"pyshp {shapefile.__version__}, pyproj {pyproj.__version__} (PROJ {pyproj.proj_version_str}), "
        f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), pyarrow {pa.__version__}"
    )


def provenance(table: pa.Table, shp_path: Path, deviation: tuple[float, float]) -> str:
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    per_km2 = deviation[0] * 100 / (deviation[1] / 1000) ** 2
    missing = sorted(set(lookup_ids()) - set(table["LocationID"].to_pylist()))
    vertices = int(shapely.get_num_coordinates(shapely.from_wkb(table["geometry"].to_numpy(False))).sum())
    return f"""# Taxi zone polygons shipped with the ingestion job

`{PARQUET_NAME}`: one row per TLC LocationID with a polygon ({table.num_rows} rows, {vertices:,} vertices):
`LocationID` int32, `geometry` WKB (Polygon or MultiPolygon; the records of a zone in several records
are merged). Read by `ingestion/zones.py`. Generated by `tools/convert_taxi_zones.py`; do not edit.

- Source: {meta["source"]},
  copied to `tests/fixtures/taxi_zones/` (`{shp_path.name}` and its siblings).
- Coordinates: {meta["crs"]}.
  The source is NAD83 / New York Long Island State Plane, US survey feet (EPSG:2263); conversion:
  "{meta["conversion"]}", exact, no grid, so the same on every machine.
  Taking NAD83 as WGS84 shifts points by about 1 m here (NAD83(2011) vs ITRF2014 in Manhattan: 1.05 m).
- Edges: an edge straight in state plane is a slight curve in lon/lat; the shipped geometry keeps it
  straight in lon/lat. The largest resulting offset over all edges is {deviation[0] * 100:.1f} cm, on an
  edge of {deviation[1]:,.0f} m (it grows with the square of the length: {per_km2:.1f} cm per km^2 there).
  Not simplified: every source vertex is kept.
- Zones of `dbt_project/seeds/taxi_zone_lookup.csv` without a polygon: {", ".join(map(str, missing))}.
- Tools: {meta["tools"]}.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapefile", type=Path, default=DEFAULT_SHAPEFILE)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    args = parser.parse_args(argv)
    table = convert(args.shapefile)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / PARQUET_NAME
    pq.write_table(table, out, compression="zstd", compression_level=19)
    note = provenance(table, args.shapefile, max_edge_deviation_m(args.shapefile))
    (args.out_dir / "PROVENANCE.md").write_text(note)
    print(f"wrote {out} ({out.stat().st_size:,} bytes, {table.num_rows} zones) and PROVENANCE.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
