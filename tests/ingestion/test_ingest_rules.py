"""Every row rule: a row that trips it and one that only just passes, classified by real Spark."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from tlc_samples import write_parquet, yellow_row

from ingestion import reader, rules

T = dt.datetime

# case id -> (overrides of a clean row, expected reason_code or None). Row order = source_row.
CASES: dict[str, tuple[dict, str | None]] = {
    "clean": ({}, None),
    "unparseable_amount_overflow": ({"fare_amount": 1.0e11}, "unparseable"),
    "amount_just_fits": ({"fare_amount": 9_999_999_999.99, "total_amount": 9_999_999_999.99}, None),
    "pickup_missing": ({"tpep_pickup_datetime": None}, "unparseable"),
    "pickup_before_month": (
        {"tpep_pickup_datetime": T(2023, 12, 31, 23, 59, 59), "tpep_dropoff_datetime": T(2024, 1, 1, 0, 5)},
        "pickup_outside_file_month",
    ),
    "pickup_first_instant": (
        {"tpep_pickup_datetime": T(2024, 1, 1), "tpep_dropoff_datetime": T(2024, 1, 1, 0, 5)},
        None,
    ),
    "pickup_next_month": (
        {"tpep_pickup_datetime": T(2024, 2, 1), "tpep_dropoff_datetime": T(2024, 2, 1, 0, 5)},
        "pickup_outside_file_month",
    ),
    "pickup_last_second_dropoff_next_month": (
        {"tpep_pickup_datetime": T(2024, 1, 31, 23, 59, 59), "tpep_dropoff_datetime": T(2024, 2, 1, 0, 9)},
        None,
    ),
    "dropoff_one_second_early": (
        {"tpep_pickup_datetime": T(2024, 1, 5, 10), "tpep_dropoff_datetime": T(2024, 1, 5, 9, 59, 59)},
        "dropoff_before_pickup",
    ),
    "dropoff_equals_pickup": (
        {"tpep_pickup_datetime": T(2024, 1, 5, 11), "tpep_dropoff_datetime": T(2024, 1, 5, 11)},
        None,
    ),
    "duration_24h_plus_1s": (
        {"tpep_pickup_datetime": T(2024, 1, 6, 10), "tpep_dropoff_datetime": T(2024, 1, 7, 10, 0, 1)},
        "implausible_duration",
    ),
    "duration_exactly_24h": (
        {"tpep_pickup_datetime": T(2024, 1, 6, 11), "tpep_dropoff_datetime": T(2024, 1, 7, 11)},
        None,
    ),
    "distance_negative": ({"trip_distance": -0.01}, "implausible_distance"),
    "distance_over_500": ({"trip_distance": 500.01}, "implausible_distance"),
    "distance_exactly_500": ({"trip_distance": 500.0}, None),
    "distance_zero": ({"trip_distance": 0.0}, None),
    "negative_fare_cash": ({"fare_amount": -5.0, "total_amount": -5.0, "payment_type": 2}, "negative_amount"),
    "negative_total_card": ({"total_amount": -1.0, "payment_type": 1}, "negative_amount"),
    "negative_fare_dispute": ({"fare_amount": -5.0, "total_amount": -5.0, "payment_type": 4}, None),
    "negative_fare_no_charge": ({"fare_amount": -5.0, "total_amount": -5.0, "payment_type": 3}, None),
    "negative_fare_voided": ({"fare_amount": -5.0, "total_amount": -5.0, "payment_type": 6}, None),
    "negative_tip_only": ({"tip_amount": -1.0}, None),
    "pickup_zone_0": ({"PULocationID": 0}, "unknown_location"),
    "dropoff_zone_266": ({"DOLocationID": 266}, "unknown_location"),
    "pickup_zone_missing": ({"PULocationID": None}, "unknown_location"),
    "zone_265": ({"PULocationID": 265, "DOLocationID": 1}, None),
    "vendor_3": ({"VendorID": 3}, "unknown_vendor"),
    "vendor_missing": ({"VendorID": None}, "unknown_vendor"),
    "vendor_7": ({"VendorID": 7}, None),
    "vendor_6": ({"VendorID": 6}, None),
    "payment_type_7": ({"payment_type": 7}, "unknown_code"),
    "payment_type_0_flex": ({"payment_type": 0, "RatecodeID": None, "passenger_count": None}, None),
    "rate_code_7": ({"RatecodeID": 7}, "unknown_code"),
    "rate_code_99": ({"RatecodeID": 99}, None),
    "flag_x": ({"store_and_fwd_flag": "X"}, "unknown_code"),
    "flag_lower_y": ({"store_and_fwd_flag": "y"}, None),
    "dup_original": ({"tpep_pickup_datetime": T(2024, 1, 20, 7), "tpep_dropoff_datetime": T(2024, 1, 20, 7, 30)}, None),
    "dup_copy": (
        {"tpep_pickup_datetime": T(2024, 1, 20, 7), "tpep_dropoff_datetime": T(2024, 1, 20, 7, 30)},
        "duplicate_row",
    ),
    "dup_second_copy": (
        {"tpep_pickup_datetime": T(2024, 1, 20, 7), "tpep_dropoff_datetime": T(2024, 1, 20, 7, 30)},
        "duplicate_row",
    ),
    "near_duplicate_other_passengers": (
        {
            "tpep_pickup_datetime": T(2024, 1, 20, 7),
            "tpep_dropoff_datetime": T(2024, 1, 20, 7, 30),
            "passenger_count": 2,
        },
        None,
    ),
    "first_rule_wins": (
        {
            "tpep_pickup_datetime": T(2024, 1, 8, 10),
            "tpep_dropoff_datetime": T(2024, 1, 8, 9),
            "VendorID": 3,
            "PULocationID": 0,
        },
        "dropoff_before_pickup",
    ),
}


@pytest.fixture(scope="module")
def classified(spark, tmp_path_factory) -> dict[str, dict]:
    folder: Path = tmp_path_factory.mktemp("rules")
    rows = [yellow_row(i, **overrides) for i, (overrides, _) in enumerate(CASES.values())]
    path = write_parquet(folder / "yellow_tripdata_2024-01.parquet", rows)
    inspection = reader.inspect_file(str(path))
    frame = rules.classify(reader.read_raw(spark, inspection), 2024, 1)
    by_row = {r["source_row"]: r.asDict() for r in frame.select("source_row", "reason_code", "reason").collect()}
    return {case: by_row[i + 1] for i, case in enumerate(CASES)}


@pytest.mark.parametrize("case", list(CASES))
def test_rule_case(classified, case):
    expected = CASES[case][1]
    row = classified[case]
    assert row["reason_code"] == expected, row
    assert (row["reason"] is None) == (expected is None)


def test_every_rule_has_a_tripping_and_a_passing_case():
    tripped = {code for _, code in CASES.values() if code}
    assert tripped == set(rules.RULE_CODES)
    assert any(code is None for _, code in CASES.values())


def test_reason_text_names_the_values(classified):
    assert classified["dup_copy"]["reason"] == f"duplicate of source_row {list(CASES).index('dup_original') + 1}"
    assert "2023-12-31 23:59:59" in classified["pickup_before_month"]["reason"]
    assert "2024-01" in classified["pickup_before_month"]["reason"]
    assert "fare_amount" in classified["unparseable_amount_overflow"]["reason"]
    assert "payment_type=7" in classified["payment_type_7"]["reason"]
    assert "500.01" in classified["distance_over_500"]["reason"]


def test_rules_md_lists_exactly_the_codes_in_order():
    text = (Path(__file__).resolve().parents[2] / "ingestion" / "RULES.md").read_text()
    table_codes = re.findall(r"^\|\s*\d+\s*\|[^|]*\|\s*`([a-z_]+)`\s*\|", text, flags=re.MULTILINE)
    assert tuple(table_codes) == rules.RULE_CODES


def test_month_bounds_handle_december_and_leap_february():
    assert rules.month_bounds(2024, 12) == (T(2024, 12, 1), T(2025, 1, 1))
    assert rules.month_bounds(2024, 2)[1] - rules.month_bounds(2024, 2)[0] == dt.timedelta(days=29)


def test_mislabeled_file_is_refused_only_past_half():
    rules.check_file_month("yellow_tripdata_2024-01.parquet", 2024, 1, rows=10, outside=5)
    with pytest.raises(rules.BadFileError, match=r"6 of 10 pickups fall outside 2024-01"):
        rules.check_file_month("yellow_tripdata_2024-01.parquet", 2024, 1, rows=10, outside=6)
