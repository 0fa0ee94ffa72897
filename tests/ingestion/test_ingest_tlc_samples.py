"""Real TLC files of every layout (tests/fixtures/tlc_samples/) through the ingestion: each reconciles
exactly, keeps its real trips, and the 2009-2016 points land in taxi zones. The raw side of every check
is read here with the csv module, independently of the project's readers."""

from __future__ import annotations

import csv
from collections import Counter
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from tlc_samples import SAMPLES_DIR, ingest, sample

from ingestion.contract import FILE_NAME
from ingestion.zones import OUTSIDE_NYC_ZONE, UNKNOWN_ZONE

SAMPLES = sorted(p.name for p in SAMPLES_DIR.iterdir() if FILE_NAME.match(p.name))
MIN_ACCEPTED_SHARE = 0.95  # yellow and green: real trips are kept
MIN_SHARE_IN_A_ZONE = 0.90  # of the trips whose two points are fixes
# Quarantined rows of the samples besides the cut last line of the FHV/HVFHV ones, and why.
EXPECTED_QUARANTINE = {
    # 2019-01-01 00:02:29 -> 2019-01-02 00:25:30 and 00:01:33 -> 00:18:16 the next day: over 24 hours
    "fhv_tripdata_2019-01.csv": {15: "implausible_duration", 16: "implausible_duration"},
}


def raw_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """(header, data rows) as the csv module reads them; blank lines are not rows."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle) if any(field.strip() for field in row)]
    return [name.strip() for name in rows[0]], rows[1:]


def rows_in(path: Path) -> int:
    return pq.read_metadata(path).num_rows if path.suffix == ".parquet" else len(raw_rows(path)[1])


def test_every_dataset_and_era_has_a_sample():
    assert {FILE_NAME.match(name)["service"] for name in SAMPLES} == {"yellow", "green", "fhv", "fhvhv"}
    assert len(SAMPLES) == 23, SAMPLES


@pytest.mark.parametrize("name", SAMPLES)
def test_every_real_sample_ingests_reconciled_and_keeps_its_trips(name, tmp_path):
    path = sample(name)
    done = ingest(path, tmp_path)  # checks read = accepted + quarantined against the written footers
    m = done.manifest
    assert m["rows_read"] == rows_in(path)
    covered = done.accepted()["source_row"].to_pylist() + done.quarantined()["source_row"].to_pylist()
    assert sorted(covered) == list(range(1, m["rows_read"] + 1))
    reasons = done.reasons()
    service = m["service"]
    print(f"{name}: {m['rows_read']} read, {m['rows_accepted']} accepted, {m['quarantined_by_reason']}")
    if service in ("yellow", "green"):
        assert m["rows_accepted"] >= MIN_ACCEPTED_SHARE * m["rows_read"], m["quarantined_by_reason"]
        assert "unparseable" not in m["quarantined_by_reason"]
    else:  # 1 KiB samples: exactly the cut last line is unreadable
        last = m["rows_read"]
        assert reasons == {**EXPECTED_QUARANTINE.get(name, {}), last: "unparseable"}
        cut = done.quarantined_row(last)
        assert cut["reason"].endswith("row has the wrong number of fields")
        assert cut["raw_record"]["_line"] == path.read_bytes().decode().splitlines()[-1].rstrip("\r")
    for row, reason in EXPECTED_QUARANTINE.get(name, {}).items():
        assert reasons[row] == reason


@pytest.mark.parametrize("name", ["fhv_tripdata_2015-01.csv", "fhv_tripdata_2016-06.csv"])
def test_identical_fhv_rows_are_separate_trips(name, tmp_path):
    # 2015-2016 FHV rows are (base, pickup minute, zone): two dispatches of one base in one minute
    # look the same and are two trips, never duplicates.
    _, rows = raw_rows(sample(name))
    repeated = sum(n - 1 for n in Counter(tuple(row) for row in rows[:-1]).values())
    assert repeated >= 2
    done = ingest(sample(name), tmp_path)
    assert done.manifest["rows_accepted"] == len(rows) - 1
    assert "duplicate_row" not in done.manifest["quarantined_by_reason"]
    keys = done.accepted()["trip_key"].to_pylist()
    assert len(set(keys)) == len(keys)


COORDINATE_ERA = [n for n in SAMPLES if n[:1] in "yg" and n.split("_")[-1][:7] <= "2016-06"]
COLUMNS = {  # lake column -> raw header names per era (lower-cased)
    "pickup_longitude": ("start_lon", "pickup_longitude"),
    "pickup_latitude": ("start_lat", "pickup_latitude"),
    "dropoff_longitude": ("end_lon", "dropoff_longitude"),
    "dropoff_latitude": ("end_lat", "dropoff_latitude"),
}


def _raw_points(path: Path) -> dict[str, np.ndarray]:
    header, rows = raw_rows(path)
    lower = [h.lower() for h in header]
    out = {}
    for column, names in COLUMNS.items():
        (index,) = [lower.index(n) for n in names if n in lower]
        out[column] = np.array([float(row[index]) if row[index].strip() else np.nan for row in rows])
    return out


@pytest.mark.parametrize("name", COORDINATE_ERA)
def test_coordinate_era_trips_land_in_zones(name, tmp_path):
    assert len(COORDINATE_ERA) == 9
    done = ingest(sample(name), tmp_path)
    lake = done.accepted()
    rows = np.array(lake["source_row"].to_pylist()) - 1
    raw = _raw_points(sample(name))
    for column, values in raw.items():  # the original points are kept in the lake, to redo the assignment
        np.testing.assert_array_equal(lake[column].to_numpy(zero_copy_only=False), values[rows])
    zones = {side: lake[f"{side}_location_id"].to_numpy() for side in ("pickup", "dropoff")}
    fixed = np.ones(len(rows), dtype=bool)
    for side in ("pickup", "dropoff"):
        lon, lat = raw[f"{side}_longitude"][rows], raw[f"{side}_latitude"][rows]
        no_fix = np.isnan(lon) | np.isnan(lat) | (lon == 0) | (lat == 0)
        np.testing.assert_array_equal(zones[side] == UNKNOWN_ZONE, no_fix)
        fixed &= ~no_fix
    in_zones = fixed & (zones["pickup"] <= 263) & (zones["dropoff"] <= 263)
    print(f"{name}: {in_zones.sum()} of {fixed.sum()} trips with two fixes in zones 1..263 ({len(rows)} trips)")
    if name == "green_tripdata_2013-08.csv":
        # the first days of green taxis: the meters mostly had no fix (0, 0), four points are in Las Vegas
        assert ((zones["pickup"] == UNKNOWN_ZONE) & (zones["dropoff"] == UNKNOWN_ZONE)).sum() == 92
        assert ((zones["pickup"] == OUTSIDE_NYC_ZONE) & (zones["dropoff"] == OUTSIDE_NYC_ZONE)).sum() == 4
        assert in_zones.sum() == 2
    else:
        assert fixed.sum() >= 0.8 * len(rows)
        assert in_zones.sum() >= MIN_SHARE_IN_A_ZONE * fixed.sum()


# ---------- issue 12, defect 1: rows with more fields than the header

EXTRA_FIELDS = {  # file -> (header columns, fields per data row), as TLC published them
    "yellow_tripdata_2016-07.csv": (17, 19),
    "yellow_tripdata_2016-12.csv": (17, 19),
    "green_tripdata_2016-07.csv": (19, 21),
    "green_tripdata_2015-01.csv": (21, 23),
    "green_tripdata_2017-01.csv": (19, 19),  # from 2017 the rows match the header again
}


@pytest.mark.parametrize("name", list(EXTRA_FIELDS))
def test_csv_rows_with_extra_empty_trailing_fields_are_accepted(name, tmp_path):
    header, rows = raw_rows(sample(name))
    assert (len(header), *{len(row) for row in rows}) == EXTRA_FIELDS[name]
    assert not any(field.strip() for row in rows for field in row[len(header) :])
    done = ingest(sample(name), tmp_path)
    assert done.manifest["rows_accepted"] == done.manifest["rows_read"] == len(rows)
    assert done.manifest["quarantined_by_reason"] == {}
    total = [h.lower() for h in header].index("total_amount")
    assert done.accepted()["total_amount"].to_pylist() == [Decimal(row[total]) for row in rows]


def _with_extra_value(name: str, target: Path, row: int, short_row: int | None) -> Path:
    """The sample with a value in the first extra field of data row `row` (and `short_row` cut short)."""
    lines = sample(name).read_bytes().split(b"\r\n")
    data = [i for i, line in enumerate(lines) if line.strip()][1:]
    fields = lines[data[row - 1]].split(b",")
    header_width = EXTRA_FIELDS[name][0]
    fields[header_width] = b"7"
    lines[data[row - 1]] = b",".join(fields)
    if short_row:
        lines[data[short_row - 1]] = b",".join(lines[data[short_row - 1]].split(b",")[:6])
    target.write_bytes(b"\r\n".join(lines))
    return target


@pytest.mark.parametrize("name", ["yellow_tripdata_2016-07.csv", "green_tripdata_2016-07.csv"])
@pytest.mark.parametrize("short_row", [None, 40], ids=["arrow_parser", "line_by_line"])
def test_csv_row_with_extra_non_empty_fields_is_unparseable(name, short_row, tmp_path):
    path = _with_extra_value(name, tmp_path / name, row=5, short_row=short_row)
    done = ingest(path, tmp_path)
    expected = {5: "unparseable", **({short_row: "unparseable"} if short_row else {})}
    assert done.reasons() == expected
    assert done.manifest["rows_accepted"] == len(raw_rows(sample(name))[1]) - len(expected)
    row = done.quarantined_row(5)
    assert row["reason"] == "could not parse: row has the wrong number of fields"
    assert row["raw_record"]["_extra_fields"][0] == "7"
