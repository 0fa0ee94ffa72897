"""The synthetic generator: TLC layout, determinism, realism, and exact counts through the ingestion."""

from __future__ import annotations

import hashlib
import json

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from tlc_samples import ingest

from ingestion import synthetic
from ingestion.contract import dataset
from ingestion.rules import RULE_CODES, rules_for


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_layout_is_tlc_2024_and_2025(tmp_path):
    synthetic.generate_month(tmp_path, "yellow", 2024, 1, rows=100)
    synthetic.generate_month(tmp_path, "yellow", 2025, 1, rows=100)
    synthetic.generate_month(tmp_path, "green", 2024, 1, rows=100)
    assert pq.read_schema(tmp_path / "yellow_tripdata_2024-01.parquet") == synthetic.tlc_schema("yellow", 2024)
    schema_2025 = pq.read_schema(tmp_path / "yellow_tripdata_2025-01.parquet")
    assert schema_2025.names[-1] == "cbd_congestion_fee"
    green = pq.read_schema(tmp_path / "green_tripdata_2024-01.parquet")
    assert "lpep_pickup_datetime" in green.names and str(green.field("trip_type").type) == "double"


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for folder, seed in ((a, 3), (b, 3), (c, 4)):
        synthetic.generate_month(folder, "yellow", 2024, 2, rows=5000, seed=seed, chunk_rows=1500)
    name = "yellow_tripdata_2024-02.parquet"
    assert _sha(a / name) == _sha(b / name) != _sha(c / name)


def test_expected_json_is_written_beside_the_file(tmp_path):
    expected = synthetic.generate_month(tmp_path, "green", 2024, 3, rows=1000, bad_share=0.02)
    stored = json.loads((tmp_path / "green_tripdata_2024-03.parquet.expected.json").read_text())
    assert stored == expected
    assert stored["rows_quarantined"] == 20 == sum(stored["quarantined_by_reason"].values())
    assert set(stored["quarantined_by_reason"]) == set(rules_for(dataset("green")))
    assert set(RULE_CODES) - set(stored["quarantined_by_reason"]) == {"trip_time_mismatch"}  # HVFHV only
    assert stored["warnings_by_code"] == {"vendor_id=4": 1, "payment_type=9": 1}


def test_plan_spreads_remainder_over_the_first_codes():
    plan = synthetic.plan_anomalies(1000, 0.013)
    assert sum(plan.values()) == 13
    assert list(plan) == list(rules_for(dataset("yellow")))
    assert list(plan.values()) == [2, 2, 2, 2, 2, 1, 1, 1]
    assert synthetic.plan_warnings(1000, 0.013) == {"vendor_id": 1, "payment_type": 0}
    with pytest.raises(ValueError, match="do not fit"):
        synthetic.generate_month("/tmp/never-written", rows=5, plan={"unparseable": 5})


def test_distributions_look_like_tlc(tmp_path):
    synthetic.generate_month(tmp_path, "yellow", 2024, 4, rows=20000, bad_share=0.0)
    table = pq.read_table(tmp_path / "yellow_tripdata_2024-04.parquet")
    payment = table.column("payment_type")
    tips = table.column("tip_amount")
    card = pc.equal(payment, 1)
    assert pc.min(pc.filter(tips, pc.invert(card))).as_py() == 0.0  # tips only recorded on card
    assert pc.mean(pc.filter(tips, card)).as_py() > 1.0
    hours = pc.hour(table.column("tpep_pickup_datetime")).to_pylist()
    assert hours.count(18) > 3 * hours.count(4)  # evening rush vs. night
    distance = table.column("trip_distance")
    assert 1.0 < pc.approximate_median(distance).as_py() < 3.0 and pc.max(distance).as_py() <= 80
    zones = table.column("PULocationID")
    assert pc.min(zones).as_py() >= 1 and pc.max(zones).as_py() <= 265
    assert len(set(zones.to_pylist())) > 150
    flex = pc.equal(payment, 0)
    assert pc.all(pc.is_null(pc.filter(table.column("RatecodeID"), flex))).as_py()


@pytest.mark.parametrize(
    ("service", "fmt", "year"),
    [("green", "parquet", 2024), ("yellow", "csv", 2024), ("yellow", "parquet", 2025)],
)
def test_exact_quarantine_counts_through_the_ingestion(tmp_path, service, fmt, year):
    expected = synthetic.generate_month(
        tmp_path / "raw", service, year, 5, rows=1200, seed=11, bad_share=0.05, fmt=fmt, chunk_rows=500
    )
    done = ingest(tmp_path / "raw" / expected["source_file"], tmp_path)
    m = done.manifest
    assert m["rows_read"] == 1200
    assert m["rows_accepted"] == expected["rows_accepted"] == 1140
    assert m["quarantined_by_reason"] == expected["quarantined_by_reason"]
    assert m["warnings_by_code"] == expected["warnings_by_code"] == {"vendor_id=4": 3, "payment_type=9": 3}
    codes = done.quarantined()["reason_code"].to_pylist()
    assert {code: codes.count(code) for code in set(codes)} == expected["quarantined_by_reason"]


def test_cli_writes_requested_months(tmp_path, capsys):
    code = synthetic.main(
        ["--out", str(tmp_path), "--months", "2024-01,2024-02", "--rows", "300", "--service", "both", "--seed", "9"]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert [e["source_file"] for e in printed] == [
        "yellow_tripdata_2024-01.parquet",
        "yellow_tripdata_2024-02.parquet",
        "green_tripdata_2024-01.parquet",
        "green_tripdata_2024-02.parquet",
    ]
    assert pq.read_metadata(tmp_path / "green_tripdata_2024-02.parquet").num_rows == 300
    assert not list(tmp_path.glob("*.partial"))
