"""Every row rule, per dataset: a row that trips it and one that only just passes, in one real file
through `ingest_file`; codes the reference tables lack keep their trip and are counted as warnings."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from tlc_samples import (
    FHV_SCHEMA,
    FHVHV_SCHEMA,
    csv_bytes,
    fhv_row,
    fhvhv_row,
    green_row,
    ingest,
    write_parquet,
    yellow_row,
)

from ingestion import rules
from ingestion.contract import dataset
from ingestion.synthetic import tlc_schema

T = dt.datetime
SAME_TRIP = {"tpep_pickup_datetime": T(2024, 1, 20, 7), "tpep_dropoff_datetime": T(2024, 1, 20, 7, 30)}

# case id -> (overrides of a clean yellow row, expected reason_code or None). Row order = source_row.
CASES: dict[str, tuple[dict, str | None]] = {
    "clean": ({}, None),
    "unparseable_amount_overflow": ({"fare_amount": 1.0e11}, "unparseable"),
    "amount_just_fits": ({"fare_amount": 9_999_999_999.99, "total_amount": 9_999_999_999.99}, None),
    "pickup_missing": ({"tpep_pickup_datetime": None}, "unparseable"),
    "dropoff_missing": ({"tpep_dropoff_datetime": None}, "unparseable"),
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
    "negative_fare_unknown_payment": (
        {"fare_amount": -5.0, "total_amount": -5.0, "payment_type": 9},
        "negative_amount",
    ),
    "negative_fare_dispute": ({"fare_amount": -5.0, "total_amount": -5.0, "payment_type": 4}, None),
    "negative_fare_no_charge": ({"fare_amount": -5.0, "total_amount": -5.0, "payment_type": 3}, None),
    "negative_fare_voided": ({"fare_amount": -5.0, "total_amount": -5.0, "payment_type": 6}, None),
    "negative_tip_only": ({"tip_amount": -1.0}, None),
    "pickup_zone_0": ({"PULocationID": 0}, "unknown_location"),
    "dropoff_zone_266": ({"DOLocationID": 266}, "unknown_location"),
    # a missing zone is not an error (RULES.md rule 8): the marts map it to the unknown member
    "pickup_zone_missing": ({"PULocationID": None}, None),
    "dropoff_zone_missing": ({"DOLocationID": None}, None),
    "zone_265": ({"PULocationID": 265, "DOLocationID": 1}, None),
    "zone_264": ({"PULocationID": 264, "DOLocationID": 264}, None),
    # Codes the reference tables lack: the trip is kept (warning), whatever the code.
    "vendor_3_dds": ({"VendorID": 3}, None),
    "vendor_4": ({"VendorID": 4}, None),
    "vendor_missing": ({"VendorID": None}, None),
    "vendor_7": ({"VendorID": 7}, None),
    "vendor_6": ({"VendorID": 6}, None),
    "payment_type_9": ({"payment_type": 9}, None),
    "payment_type_0_flex": ({"payment_type": 0, "RatecodeID": None, "passenger_count": None}, None),
    "rate_code_7": ({"RatecodeID": 7}, None),
    "rate_code_99": ({"RatecodeID": 99}, None),
    "flag_x": ({"store_and_fwd_flag": "X"}, None),
    "flag_lower_y": ({"store_and_fwd_flag": "y"}, None),
    "dup_original": (SAME_TRIP, None),
    "dup_copy": (SAME_TRIP, "duplicate_row"),
    "dup_second_copy": (SAME_TRIP, "duplicate_row"),
    "near_duplicate_other_passengers": ({**SAME_TRIP, "passenger_count": 2}, None),
    "first_rule_wins": (
        {
            "tpep_pickup_datetime": T(2024, 1, 8, 10),
            "tpep_dropoff_datetime": T(2024, 1, 8, 9),
            "trip_distance": 900.0,
            "VendorID": 4,
            "PULocationID": 0,
        },
        "dropoff_before_pickup",
    ),
}
WARNINGS = {"vendor_id=4": 1, "payment_type=9": 1, "rate_code_id=7": 1, "store_and_fwd_flag=X": 1}


def _by_case(done, cases) -> dict[str, dict]:
    """case -> its row: the accepted one (reason None) or the quarantined one, by source_row."""
    rows = {row["source_row"]: {**row, "reason_code": None, "reason": None} for row in done.rows()}
    rows |= {row["source_row"]: row for row in done.quarantined().to_pylist()}
    assert sorted(rows) == list(range(1, len(cases) + 1))
    return {case: rows[i + 1] for i, case in enumerate(cases)}


@pytest.fixture(scope="module")
def yellow(tmp_path_factory):
    folder: Path = tmp_path_factory.mktemp("rules")
    rows = [yellow_row(i, **overrides) for i, (overrides, _) in enumerate(CASES.values())]
    done = ingest(write_parquet(folder / "yellow_tripdata_2024-01.parquet", rows), folder)
    return done, _by_case(done, CASES)


@pytest.mark.parametrize("case", list(CASES))
def test_rule_case(yellow, case):
    expected = CASES[case][1]
    row = yellow[1][case]
    assert row["reason_code"] == expected, row
    assert (row["reason"] is None) == (expected is None)


def test_quarantine_counts_and_warnings_of_the_file(yellow):
    done, _ = yellow
    expected = [code for _, code in CASES.values() if code]
    assert done.manifest["quarantined_by_reason"] == {code: expected.count(code) for code in set(expected)}
    # warnings count accepted rows only: the quarantined vendor 4 of first_rule_wins is not one
    assert done.manifest["warnings_by_code"] == WARNINGS


def test_unknown_codes_are_kept_as_read_in_the_lake(yellow):
    rows = yellow[1]
    assert rows["vendor_4"]["vendor_id"] == 4 and rows["vendor_missing"]["vendor_id"] is None
    assert rows["payment_type_9"]["payment_type"] == 9 and rows["rate_code_7"]["rate_code_id"] == 7
    assert rows["flag_x"]["store_and_fwd_flag"] == "X" and rows["flag_lower_y"]["store_and_fwd_flag"] == "Y"


def test_reason_text_names_the_values(yellow):
    rows = yellow[1]
    assert rows["dup_copy"]["reason"] == f"duplicate of source_row {list(CASES).index('dup_original') + 1}"
    assert rows["dup_second_copy"]["reason"] == rows["dup_copy"]["reason"]
    assert rows["pickup_before_month"]["reason"] == "pickup 2023-12-31 23:59:59 is outside 2024-01"
    assert rows["unparseable_amount_overflow"]["reason"] == "could not parse: fare_amount (fare_amount)"
    assert rows["distance_over_500"]["reason"] == "trip_distance 500.01 miles"
    assert rows["duration_24h_plus_1s"]["reason"] == "trip lasts 24.0 h (> 24 h)"
    assert rows["negative_fare_cash"]["reason"] == "fare_amount -5.00, total_amount -5.00 with payment_type 2"
    assert rows["pickup_zone_0"]["reason"] == "PULocationID 0, DOLocationID 236 (zones are 1..265)"
    assert rows["dropoff_one_second_early"]["reason"] == (
        "dropoff 2024-01-05 09:59:59 is before pickup 2024-01-05 10:00:00"
    )
    assert rows["dup_copy"]["trip_key"] == rows["dup_original"]["trip_key"]  # the quarantine keeps the key


def test_vendor_4_and_unknown_codes_keep_their_trips_as_warnings(tmp_path):
    # Issue 12, defect 2: real 2018-2020 yellow trips carry VendorID 4; payment type, rate code,
    # store-and-forward and (green) trip type codes missing from the reference data must not drop a trip.
    yellow_rows = [yellow_row(i, VendorID=4) for i in range(3)] + [
        yellow_row(10, payment_type=9),
        yellow_row(11, RatecodeID=7),
        yellow_row(12, store_and_fwd_flag="X"),
        yellow_row(13, VendorID=4, payment_type=9),
        yellow_row(14),
    ]
    done = ingest(write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", yellow_rows), tmp_path / "y")
    assert done.manifest["rows_accepted"] == 8 and done.manifest["quarantined_by_reason"] == {}
    assert done.manifest["warnings_by_code"] == {
        "vendor_id=4": 4,
        "payment_type=9": 2,
        "rate_code_id=7": 1,
        "store_and_fwd_flag=X": 1,
    }
    assert done.accepted()["vendor_id"].to_pylist() == [4, 4, 4, 2, 2, 2, 4, 2]

    green_rows = [green_row(0, trip_type=3.0), green_row(1, VendorID=4, trip_type=2.0), green_row(2)]
    path = write_parquet(tmp_path / "green_tripdata_2024-01.parquet", green_rows, tlc_schema("green", 2024))
    done = ingest(path, tmp_path / "g")
    assert done.manifest["rows_accepted"] == 3
    assert done.manifest["warnings_by_code"] == {"trip_type=3": 1, "vendor_id=4": 1}

    # 2009-2014 text codes: known spellings map to today's codes, unknown text is a warning
    header = ["vendor_id", "pickup_datetime", "dropoff_datetime", "passenger_count", "trip_distance",
              "pickup_longitude", "pickup_latitude", "rate_code", "store_and_fwd_flag", "dropoff_longitude",
              "dropoff_latitude", "payment_type", "fare_amount", "surcharge", "mta_tax", "tip_amount",
              "tolls_amount", "total_amount"]  # fmt: skip
    point = ["-73.985130", "40.758896"]
    rows = [["VTS", f"2010-01-0{d} 10:00:00", f"2010-01-0{d} 10:10:00", "1", "1.5", *point, "1", "0", *point,
             payment, "6.1", "0", "0.5", "0", "0", "6.6"]
            for d, payment in ((1, "CAS"), (2, "Cre"), (3, "No Charge"), (4, "Dis"), (5, "SOMETHING"))]  # fmt: skip
    rows[4][0] = "XYZ"  # a vendor spelling no table knows
    (tmp_path / "yellow_tripdata_2010-01.csv").write_bytes(csv_bytes(header, rows))
    done = ingest(tmp_path / "yellow_tripdata_2010-01.csv", tmp_path / "t")
    assert done.manifest["rows_accepted"] == 5
    assert done.accepted()["payment_type"].to_pylist() == [2, 1, 3, 4, None]
    assert done.accepted()["vendor_id"].to_pylist() == [2, 2, 2, 2, None]
    assert done.manifest["warnings_by_code"] == {"payment_type=SOMETHING": 1, "vendor_id=XYZ": 1}


# ---------- the for-hire datasets

FHVHV_CASES: dict[str, tuple[dict, str | None]] = {
    "clean": ({}, None),
    "trip_time_matches_within_an_hour": ({"trip_time": 900 + 3600}, None),
    "trip_time_off_by_more_than_an_hour": ({"trip_time": 900 + 3601}, "trip_time_mismatch"),
    "trip_time_negative": ({"trip_time": -1}, "trip_time_mismatch"),
    "trip_time_missing": ({"trip_time": None}, None),
    "miles_negative": ({"trip_miles": -0.1}, "implausible_distance"),
    "negative_base_fare": ({"base_passenger_fare": -3.0}, "negative_amount"),
    "negative_driver_pay": ({"driver_pay": -3.0}, None),  # adjustments: driver pay is not a passenger amount
    "zone_0": ({"PULocationID": 0}, "unknown_location"),
    "zone_missing": ({"DOLocationID": None}, None),
    "unknown_license": ({"hvfhs_license_num": "HV0009"}, None),
    "flag_x": ({"shared_request_flag": "X"}, None),
    "duplicate_a": ({"dispatching_base_num": "B02510"}, None),
    "duplicate_b": ({"dispatching_base_num": "B02510"}, "duplicate_row"),
}


def test_fhvhv_rules(tmp_path):
    rows = [
        fhvhv_row(i if "duplicate" not in case else 99, **o) for i, (case, (o, _)) in enumerate(FHVHV_CASES.items())
    ]
    done = ingest(write_parquet(tmp_path / "fhvhv_tripdata_2024-01.parquet", rows, FHVHV_SCHEMA), tmp_path)
    got = _by_case(done, FHVHV_CASES)
    assert {case: got[case]["reason_code"] for case in FHVHV_CASES} == {c: r for c, (_, r) in FHVHV_CASES.items()}
    assert (
        got["trip_time_off_by_more_than_an_hour"]["reason"]
        == "trip_time 4501 s against 900 s between pickup and dropoff"
    )
    assert got["negative_base_fare"]["reason"] == "negative base_passenger_fare -3.00"
    assert done.manifest["warnings_by_code"] == {"hvfhs_license_num=HV0009": 1, "shared_request_flag=X": 1}


def test_fhv_rows_are_never_duplicates_and_have_no_distance_or_amount_rules(tmp_path):
    rows = [
        fhv_row(0),
        fhv_row(0),  # identical: a second dispatch of the same base in the same minute, a trip of its own
        fhv_row(2, PUlocationID=None, DOlocationID=None),  # FHV zones are often unknown
        fhv_row(3, dropOff_datetime=None),  # no drop-off before 2017: not required
        fhv_row(4, PUlocationID=266.0),
        fhv_row(5, pickup_datetime=T(2024, 2, 1, 0, 1), dropOff_datetime=T(2024, 2, 1, 0, 20)),
        fhv_row(6, SR_Flag=2),
    ]
    done = ingest(write_parquet(tmp_path / "fhv_tripdata_2024-01.parquet", rows, FHV_SCHEMA), tmp_path)
    assert done.reasons() == {5: "unknown_location", 6: "pickup_outside_file_month"}
    keys = done.accepted()["trip_key"].to_pylist()
    assert len(keys) == 5 and len(set(keys)) == 5
    assert done.manifest["warnings_by_code"] == {"sr_flag=2": 1}
    assert rules.rules_for(dataset("fhv")) == (
        "unparseable",
        "pickup_outside_file_month",
        "dropoff_before_pickup",
        "implausible_duration",
        "unknown_location",
    )


def test_every_rule_has_a_tripping_and_a_passing_case():
    tripped = {code for _, code in CASES.values() if code} | {code for _, code in FHVHV_CASES.values() if code}
    assert tripped == set(rules.RULE_CODES)
    assert any(code is None for _, code in CASES.values())
    assert set(rules.rules_for(dataset("yellow"))) == set(rules.RULE_CODES) - {"trip_time_mismatch"}


def test_rules_md_lists_exactly_the_codes_in_order():
    text = (Path(__file__).resolve().parents[2] / "ingestion" / "RULES.md").read_text()
    table_codes = re.findall(r"^\|\s*\d+\s*\|[^|]*\|\s*`([a-z_]+)`\s*\|", text, flags=re.MULTILINE)
    assert tuple(table_codes) == rules.RULE_CODES


def test_month_bounds_handle_december_and_leap_february():
    assert rules.month_bounds(2024, 12) == (T(2024, 12, 1), T(2025, 1, 1))
    assert rules.month_bounds(2024, 2)[1] - rules.month_bounds(2024, 2)[0] == dt.timedelta(days=29)


@pytest.mark.parametrize(("outside", "status"), [(5, "ingested"), (6, "refused")])
def test_mislabeled_file_is_refused_only_past_half(tmp_path, outside, status):
    feb = {"tpep_pickup_datetime": T(2024, 2, 3, 10), "tpep_dropoff_datetime": T(2024, 2, 3, 10, 30)}
    rows = [yellow_row(i, **(feb if i < outside else {})) for i in range(10)]
    for i in range(outside):  # distinct February trips
        rows[i]["trip_distance"] = 1.0 + i
    done = ingest(write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", rows), tmp_path)
    assert done.result.status == status
    if status == "ingested":
        assert done.manifest["quarantined_by_reason"] == {"pickup_outside_file_month": 5}
    else:
        assert done.result.problem == (
            "6 of 10 pickups fall outside 2024-01: the file name's month looks wrong;"
            " rename the file to the month of its trips"
        )
        assert done.accepted() is None and done.quarantined() is None
