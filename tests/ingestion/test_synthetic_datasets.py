"""The synthetic generator for the four datasets: exact expectations through the ingestion core, the
layouts the contract maps, determinism, and values that look like TLC's.

Files go through `ingestion.file_ingest.ingest_file` (the work of one Spark task, without Spark).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ingestion import synthetic
from ingestion.contract import dataset
from ingestion.job import ingest_inspected
from ingestion.raw_files import inspect_file
from ingestion.results import INGESTED
from ingestion.rules import rules_for

ROWS, CHUNK = 3_000, 1_100  # three chunks of unequal size: plans split across chunk boundaries
LAYOUTS = [
    ("yellow", 2024, 1),
    ("green", 2024, 1),
    ("fhv", 2024, 1),  # large_string bases, int64 zones and SR_Flag
    ("fhv", 2022, 6),  # string bases, double zones, SR_Flag of Arrow type null
    ("fhvhv", 2024, 1),  # large_string text, int32 zones
    ("fhvhv", 2022, 6),  # string text, int64 zones, no airport fee yet
    ("fhvhv", 2025, 2),  # + cbd_congestion_fee
]
FORMATS = ("parquet", "csv", "csv.gz")


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _generate(folder, service, year, month, fmt="parquet", **kwargs) -> tuple[dict, str]:
    options = {"rows": ROWS, "seed": 11, "bad_share": 0.05, "chunk_rows": CHUNK, **kwargs}
    expected = synthetic.generate_month(folder, service, year, month, fmt=fmt, **options)
    return expected, str(folder / expected["source_file"])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("service", "year", "month"), LAYOUTS, ids=[f"{s}-{y}-{m:02d}" for s, y, m in LAYOUTS])
def test_ingestion_finds_exactly_what_was_planted(tmp_path, service, year, month, fmt):
    expected, path = _generate(tmp_path / "raw", service, year, month, fmt)
    result = ingest_inspected(inspect_file(path), str(tmp_path / "lake"), str(tmp_path / "quarantine"))
    assert result.status == INGESTED, result.problem
    manifest = result.manifest
    assert manifest["rows_read"] == expected["rows"] == ROWS
    assert manifest["rows_accepted"] == expected["rows_accepted"]
    assert manifest["quarantined_by_reason"] == expected["quarantined_by_reason"]
    assert manifest["warnings_by_code"] == expected["warnings_by_code"]
    # the expectation is not vacuous: every rule of the dataset is planted, and warnings where the layout can hold one
    assert set(expected["quarantined_by_reason"]) == set(rules_for(dataset(service)))
    assert len(expected["warnings_by_code"]) == len(synthetic.warning_codes(service, year, month))
    assert json.loads((tmp_path / "raw" / f"{expected['source_file']}.expected.json").read_text()) == expected


def test_for_hire_rules_are_the_datasets_own():
    assert synthetic.plan_anomalies(900, 0.01, "fhv") == {
        "unparseable": 2,
        "pickup_outside_file_month": 2,
        "dropoff_before_pickup": 2,
        "implausible_duration": 2,
        "unknown_location": 1,
    }
    fhvhv = synthetic.plan_anomalies(900, 0.01, "fhvhv")
    assert {"trip_time_mismatch", "negative_amount", "implausible_distance", "duplicate_row"} <= set(fhvhv)
    assert synthetic.warning_codes("fhv", 2022, 6) == ()  # an all-null SR_Flag column holds no code


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("service", ["yellow", "green", "fhv", "fhvhv"])
def test_file_columns_are_the_contracts(tmp_path, service, fmt):
    expected, path = _generate(tmp_path, service, 2025, 3, fmt, rows=400, chunk_rows=400)
    mapping = inspect_file(path).mapping  # refuses unknown, foreign, ambiguous or missing columns
    mapped = [raw for sources in mapping.sources.values() for raw in sources]
    assert sorted(mapped) == sorted(mapping.raw_columns)
    assert list(mapping.raw_columns) == synthetic.tlc_schema(service, 2025, 3).names
    if fmt == "parquet":
        assert pq.read_schema(path) == synthetic.tlc_schema(service, 2025, 3)


@pytest.mark.parametrize(("service", "fmt"), [("fhv", "parquet"), ("fhvhv", "parquet"), ("fhvhv", "csv.gz")])
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, service, fmt):
    names = []
    for folder, seed in (("a", 5), ("b", 5), ("c", 6)):
        expected, _ = _generate(tmp_path / folder, service, 2024, 2, fmt, seed=seed)
        names.append(expected["source_file"])
    name = names[0]
    assert _sha(tmp_path / "a" / name) == _sha(tmp_path / "b" / name) != _sha(tmp_path / "c" / name)
    assert _sha(tmp_path / "a" / f"{name}.expected.json") == _sha(tmp_path / "b" / f"{name}.expected.json")


def _column(table, name) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False)


def _seconds(later, earlier) -> np.ndarray:
    return (later - earlier).astype("timedelta64[s]").astype("int64")


def test_fhvhv_values_look_like_tlc(tmp_path):
    _, path = _generate(tmp_path, "fhvhv", 2021, 3, rows=40_000, bad_share=0.0, chunk_rows=15_000)
    table = pq.read_table(path)
    license_ = _column(table, "hvfhs_license_num")
    share = {code: float(np.mean(license_ == code)) for code in ("HV0003", "HV0005", "HV0004")}
    assert 0.69 < share["HV0003"] < 0.75 and 0.24 < share["HV0005"] < 0.29 and 0.005 < share["HV0004"] < 0.03
    uber = license_ == "HV0003"
    assert np.all(_column(table, "originating_base_num")[uber] == _column(table, "dispatching_base_num")[uber])
    assert table.column("originating_base_num").null_count == table.column("on_scene_datetime").null_count
    assert table.column("on_scene_datetime").null_count == int((~uber).sum())  # Lyft and Via report no arrival
    assert set(_column(table, "dispatching_base_num")[license_ == "HV0005"]) == {"B02510"}

    request, pickup = _column(table, "request_datetime"), _column(table, "pickup_datetime")
    on_scene = _column(table, "on_scene_datetime")
    assert np.all(request[uber] <= on_scene[uber]) and np.all(on_scene[uber] <= pickup[uber])
    span = _seconds(_column(table, "dropoff_datetime"), pickup)
    assert np.abs(_column(table, "trip_time") - span).max() <= 2
    fare = _column(table, "base_passenger_fare")
    assert np.abs(_column(table, "sales_tax") - fare * 0.08875).max() <= 0.006
    assert np.abs(_column(table, "bcf") - fare * 0.025).max() <= 0.006
    assert 0.7 < float(np.mean(_column(table, "driver_pay") / fare)) < 0.8
    assert 2.0 < float(np.median(_column(table, "trip_miles"))) < 4.0
    assert set(_column(table, "shared_request_flag")) == {"N", "Y"}
    assert set(_column(table, "access_a_ride_flag")) == {"N", " "}  # Uber leaves it blank
    assert table.column("airport_fee").null_count == table.num_rows  # no airport fee before 2022
    hours = pc.hour(table.column("pickup_datetime")).to_numpy()
    assert (hours == 18).sum() > 3 * (hours == 4).sum()


def test_fhvhv_today_is_uber_and_lyft_from_their_consolidated_bases(tmp_path):
    _, path = _generate(tmp_path, "fhvhv", 2024, 1, rows=20_000, bad_share=0.0, chunk_rows=20_000)
    table = pq.read_table(path)
    assert set(_column(table, "hvfhs_license_num")) == {"HV0003", "HV0005"}
    bases = pc.value_counts(table.column("dispatching_base_num")).to_pylist()
    top = sorted(bases, key=lambda item: -item["counts"])[:2]
    assert {item["values"] for item in top} == {"B03404", "B03406"}
    assert {0.0, 2.5} <= set(np.unique(_column(table, "airport_fee"))) <= {0.0, 2.5, 5.0}  # $2.50 per airport end


def test_fhv_values_look_like_tlc(tmp_path):
    _, path = _generate(tmp_path, "fhv", 2024, 1, rows=20_000, bad_share=0.0, chunk_rows=20_000)
    table = pq.read_table(path)
    for zone in ("PUlocationID", "DOlocationID"):
        assert 0.05 < table.column(zone).null_count / table.num_rows < 0.3  # often not reported
    assert table.column("SR_Flag").null_count > 0.99 * table.num_rows
    assert set(pc.unique(table.column("SR_Flag").drop_null()).to_pylist()) == {1}
    pickup = _column(table, "pickup_datetime")
    on_five = np.mean(pickup.astype("int64") % 300_000_000 == 0)
    assert 0.35 < on_five < 0.5  # pre-booked rides start on the booked five minutes
    reported = pc.is_valid(table.column("dropOff_datetime")).to_numpy()
    assert 0.99 < reported.mean() < 1.0
    assert np.all(_column(table, "dropOff_datetime")[reported] >= pickup[reported])
    assert len(pc.unique(table.column("dispatching_base_num"))) > 100


def test_cli_accepts_every_dataset_and_gzip(tmp_path, capsys):
    code = synthetic.main(
        ["--out", str(tmp_path), "--months", "2024-01", "--rows", "300", "--service", "all", "--format", "csv.gz"]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert [e["source_file"] for e in printed] == [
        f"{service}_tripdata_2024-01.csv.gz" for service in ("yellow", "green", "fhv", "fhvhv")
    ]
    assert (tmp_path / "fhvhv_tripdata_2024-01.csv.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert not list(tmp_path.glob("*.partial"))
    with pytest.raises(SystemExit):
        synthetic.main(["--out", str(tmp_path), "--months", "2024-01", "--service", "taxi"])
