"""Throughput of ingestion.zones.assign_zones, for `make bench`.

    .venv/bin/python tests/bench/zones_bench.py [--points 3000000] [--reps 3]

`measure(points)` times one process's first call (loading the polygons and building the grid) and then
assign_zones on `points` points of two kinds: uniform over the zones' bounding box, and the real
distribution (every pickup and drop-off of tests/fixtures/tlc_samples/, drawn with replacement, with
~10 m of GPS-like jitter on the real fixes; the zeros stay zeros, as in the files). Timings are medians
over `reps` calls; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import shapely

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES_HELPER_DIR = REPO_ROOT / "tests" / "ingestion"
for extra in (REPO_ROOT, SAMPLES_HELPER_DIR):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from zone_samples import SAMPLE_FILES, SAMPLES_DIR, read_coordinates  # noqa: E402

from ingestion import zones  # noqa: E402

JITTER_DEGREES = 1e-4  # ~10 m


def real_sample_points() -> tuple[np.ndarray, np.ndarray]:
    lon, lat = [], []
    for name in SAMPLE_FILES:
        columns = read_coordinates(SAMPLES_DIR / name)
        for side in ("pickup", "dropoff"):
            lon.append(columns[f"{side}_longitude"].to_numpy(zero_copy_only=False))
            lat.append(columns[f"{side}_latitude"].to_numpy(zero_copy_only=False))
    return np.concatenate(lon), np.concatenate(lat)


def _time(lon: np.ndarray, lat: np.ndarray, reps: int) -> dict:
    seconds = []
    for _ in range(reps):
        start = time.perf_counter()
        result = zones.assign_zones(lon, lat)
        seconds.append(time.perf_counter() - start)
    index = zones._zone_index()
    with np.errstate(invalid="ignore"):
        column = np.floor((lon - index.origin_x) / zones.CELL)
        row = np.floor((lat - index.origin_y) / zones.CELL)
    on_grid = (column >= 0) & (column < index.columns) & (row >= 0) & (row < index.rows)
    cells = index.grid[row[on_grid].astype(np.intp) * index.columns + column[on_grid].astype(np.intp)]
    median = statistics.median(seconds)
    return {
        "seconds": round(median, 4),
        "points_per_s": round(len(lon) / median),
        "all_runs_s": [round(s, 4) for s in seconds],
        "exact_test_share": round(float((cells == 0).sum() / len(lon)), 4),  # points in cells a boundary crosses
        "share_in_zones_1_263": round(float((result <= 263).mean()), 4),
        "share_unknown_264": round(float((result == zones.UNKNOWN_ZONE).mean()), 4),
    }


def measure(points: int, reps: int = 3, seed: int = 42) -> dict:
    """Points per second of assign_zones on `points` uniform and `points` real-distribution points."""
    start = time.perf_counter()
    zones._zone_index()  # once per process: read the Parquet, build the STRtree and the grid
    load_s = time.perf_counter() - start

    rng = np.random.default_rng(seed)
    _, polygons = zones.zone_polygons()
    min_x, min_y, max_x, max_y = shapely.total_bounds(polygons)
    uniform = rng.uniform(min_x, max_x, points), rng.uniform(min_y, max_y, points)
    sample_lon, sample_lat = real_sample_points()
    pick = rng.integers(0, len(sample_lon), points)
    fix = (sample_lon[pick] != 0) & (sample_lat[pick] != 0) & ~np.isnan(sample_lon[pick])
    real_lon = sample_lon[pick] + np.where(fix, rng.normal(0, JITTER_DEGREES, points), 0)
    real_lat = sample_lat[pick] + np.where(fix, rng.normal(0, JITTER_DEGREES, points), 0)
    return {
        "points": points,
        "reps": reps,
        "load_and_grid_s": round(load_s, 3),
        "uniform_nyc_bbox": _time(*uniform, reps),
        "real_sample_distribution": _time(real_lon, real_lat, reps),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=3_000_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.points, args.reps), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
