"""assign_zones on real longitude/latitude-era TLC rows (tests/fixtures/tlc_samples/): trips whose two
points are plausible NYC fixes land in real zones, and the rows' junk gets the rule's answer."""

from __future__ import annotations

import numpy as np
import pytest
from zone_samples import SAMPLE_FILES, SAMPLES_DIR, is_plausible, read_coordinates

from ingestion.zones import OUTSIDE_NYC_ZONE, UNKNOWN_ZONE, assign_zones

MIN_SHARE_IN_A_ZONE = 0.90


def zones_of(columns):
    pickup = assign_zones(columns["pickup_longitude"], columns["pickup_latitude"])
    dropoff = assign_zones(columns["dropoff_longitude"], columns["dropoff_latitude"])
    return pickup, dropoff


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_plausible_trips_land_in_real_zones(name):
    columns = read_coordinates(SAMPLES_DIR / name)
    pickup, dropoff = zones_of(columns)
    plausible = is_plausible(columns["pickup_longitude"], columns["pickup_latitude"]) & is_plausible(
        columns["dropoff_longitude"], columns["dropoff_latitude"]
    )
    in_zones = plausible & (pickup <= 263) & (dropoff <= 263)
    share = in_zones.sum() / plausible.sum()
    print(f"{name}: {in_zones.sum()} of {plausible.sum()} plausible trips ({share:.1%}) in zones 1..263; "
          f"{len(pickup)} trips in the file")  # fmt: skip
    assert plausible.sum() >= 2
    assert share >= MIN_SHARE_IN_A_ZONE


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_missing_and_far_away_points_get_the_rule_zones(name):
    columns = read_coordinates(SAMPLES_DIR / name)
    for side, zones in zip(("pickup", "dropoff"), zones_of(columns), strict=True):
        lon = columns[f"{side}_longitude"].to_numpy(zero_copy_only=False)
        lat = columns[f"{side}_latitude"].to_numpy(zero_copy_only=False)
        no_fix = np.isnan(lon) | np.isnan(lat) | (lon == 0) | (lat == 0)
        np.testing.assert_array_equal(zones == UNKNOWN_ZONE, no_fix)
        far = ~no_fix & ~is_plausible(lon, lat)  # e.g. Las Vegas in green 2013-08
        assert (zones[far] == OUTSIDE_NYC_ZONE).all()
