"""Every kind of bad file is refused with a one-line message naming the file and the problem."""

from __future__ import annotations

import datetime as dt
import json
import os

import pyarrow as pa
import pytest
from tlc_samples import write_csv, write_parquet, yellow_row

from ingestion import job, reader
from ingestion.errors import BadFileError, InputSetError
from ingestion.synthetic import tlc_schema

HEADER = ["VendorID", "tpep_pickup_datetime", "tpep_dropoff_datetime", "PULocationID", "DOLocationID", "fare_amount"]
ROW = ["1", "2024-01-02 10:00:00", "2024-01-02 10:10:00", "43", "151", "8.5"]


def _refusal(path) -> str:
    with pytest.raises(BadFileError) as info:
        reader.inspect_file(str(path))
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.fixture
def good_parquet(tmp_path):
    return write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", [yellow_row(i) for i in range(50)])


def test_missing_file(tmp_path):
    assert _refusal(tmp_path / "yellow_tripdata_2024-01.parquet") == (
        "yellow_tripdata_2024-01.parquet: file does not exist or is not readable"
    )


@pytest.mark.parametrize(
    "name",
    ["yellow_tripdata_2024-1.parquet", "fhv_tripdata_2024-01.parquet", "yellow_tripdata_2024-01.json", "trips.csv"],
)
def test_bad_names(tmp_path, name):
    (tmp_path / name).write_text("x")
    assert _refusal(tmp_path / name) == f"{name}: name does not match {{yellow|green}}_tripdata_YYYY-MM.(parquet|csv)"


def test_month_13_in_name(tmp_path):
    (tmp_path / "green_tripdata_2024-13.csv").write_text("x")
    assert "month 13 in the name is not 01..12" in _refusal(tmp_path / "green_tripdata_2024-13.csv")


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_empty_file(tmp_path, suffix):
    path = tmp_path / f"yellow_tripdata_2024-01.{suffix}"
    path.write_bytes(b"")
    assert _refusal(path) == f"yellow_tripdata_2024-01.{suffix}: file is empty (0 bytes)"


def test_header_only_csv(tmp_path):
    path = write_csv(tmp_path / "yellow_tripdata_2024-01.csv", HEADER, [])
    assert _refusal(path) == "yellow_tripdata_2024-01.csv: CSV has a header but no data rows"


def test_blank_csv(tmp_path):
    path = tmp_path / "yellow_tripdata_2024-01.csv"
    path.write_bytes(b"\r\n\r\n")
    assert _refusal(path) == "yellow_tripdata_2024-01.csv: CSV has no header line"


def test_parquet_with_schema_but_no_rows(tmp_path):
    path = write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", [], tlc_schema("yellow", 2024))
    assert _refusal(path) == "yellow_tripdata_2024-01.parquet: Parquet file has a schema but no rows"


def test_truncated_parquet(good_parquet):
    data = good_parquet.read_bytes()
    good_parquet.write_bytes(data[: len(data) // 2])
    assert _refusal(good_parquet) == "yellow_tripdata_2024-01.parquet: truncated or corrupt Parquet (no footer)"


def test_corrupt_footer_with_intact_magic(good_parquet):
    data = bytearray(good_parquet.read_bytes())
    footer_length = int.from_bytes(data[-8:-4], "little")
    start = len(data) - 8 - footer_length
    data[start : start + footer_length] = os.urandom(footer_length)
    good_parquet.write_bytes(bytes(data))
    assert _refusal(good_parquet).startswith("yellow_tripdata_2024-01.parquet: corrupt Parquet footer")


def test_parquet_named_csv(good_parquet, tmp_path):
    path = tmp_path / "yellow_tripdata_2024-02.csv"
    path.write_bytes(good_parquet.read_bytes())
    assert _refusal(path) == "yellow_tripdata_2024-02.csv: is a Parquet file named .csv"


def test_not_utf8_csv_in_the_header_block(tmp_path):
    path = tmp_path / "yellow_tripdata_2024-01.csv"
    head = ",".join(HEADER).encode() + b"\r\n1,Caf"
    path.write_bytes(head + "é".encode("latin-1") + b"\r\n")
    assert _refusal(path) == f"yellow_tripdata_2024-01.csv: not UTF-8 text (byte 0xe9 at offset {len(head)})"


def test_not_utf8_far_into_the_file_is_caught_by_the_fingerprint(tmp_path):
    path = write_csv(tmp_path / "yellow_tripdata_2024-01.csv", HEADER, [ROW] * 3000)
    with open(path, "ab") as handle:
        handle.write("1,Zoë\r\n".encode("latin-1"))
    inspection = reader.inspect_file(str(path))  # the first 64 KiB are fine
    with pytest.raises(BadFileError, match=r"not UTF-8 text \(byte 0xeb at offset \d+\); re-export"):
        reader.fingerprint(inspection)


def test_preflight_lists_every_problem_and_catches_duplicates(good_parquet, tmp_path):
    empty = tmp_path / "green_tripdata_2024-01.csv"
    empty.write_bytes(b"")
    other_dir = tmp_path / "again"
    other_dir.mkdir()
    twin = other_dir / good_parquet.name
    twin.write_bytes(good_parquet.read_bytes())
    csv_twin = write_csv(tmp_path / "yellow_tripdata_2024-01.csv", HEADER, [ROW])
    with pytest.raises(InputSetError) as info:
        reader.preflight([str(good_parquet), str(empty), str(twin), str(csv_twin)])
    assert info.value.problems == [
        "green_tripdata_2024-01.csv: file is empty (0 bytes)",
        f"yellow_tripdata_2024-01.parquet: duplicate input (yellow_tripdata_2024-01.parquet also from {good_parquet})",
        f"yellow_tripdata_2024-01.csv: duplicate input (yellow_trips/year=2024/month=01 also from {good_parquet})",
    ]
    assert isinstance(info.value, BadFileError)  # the runner catches BadFileError
    [ok] = reader.preflight([str(good_parquet)])
    assert ok.rows_in_footer == 50 and ok.raw.partition == "yellow_trips/year=2024/month=01"


def test_month_mismatch_few_rows_are_quarantined_most_rows_refuse_the_file(spark, tmp_path):
    stray = [yellow_row(i) for i in range(8)] + [
        yellow_row(
            100 + i,
            tpep_pickup_datetime=dt.datetime(2024, 2, 3, 10, i),
            tpep_dropoff_datetime=dt.datetime(2024, 2, 3, 11, i),
        )
        for i in range(2)
    ]
    few = write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", stray)
    # Same trips under February's name: 8 of 10 pickups are outside February -> mislabeled.
    many = tmp_path / "yellow_tripdata_2024-02.parquet"
    many.write_bytes(few.read_bytes())
    results = job.run_ingestion(spark, [str(few), str(many)], str(tmp_path / "lake"), str(tmp_path / "q"))
    assert results[0]["status"] == "ingested"
    assert results[0]["quarantined_by_reason"] == {"pickup_outside_file_month": 2}
    assert results[1]["status"] == "refused"
    assert results[1]["error"] == (
        "yellow_tripdata_2024-02.parquet: 8 of 10 pickups fall outside 2024-02: the file name's month looks wrong;"
        " rename the file to the month of its trips"
    )
    report = json.loads((tmp_path / "q" / "_rejected_files" / "yellow_tripdata_2024-02.parquet.error.json").read_text())
    assert report["source_path"] == str(many)
    assert not (tmp_path / "lake" / "yellow_trips" / "year=2024" / "month=02").exists()
    assert not list((tmp_path / "lake").rglob(".*"))  # staging was never started or was discarded


def test_directory_instead_of_file(tmp_path):
    (tmp_path / "yellow_tripdata_2024-01.parquet").mkdir()
    assert "does not exist or is not readable" in _refusal(tmp_path / "yellow_tripdata_2024-01.parquet")


def test_schema_of_helper_matches_tlc(tmp_path):
    # The helper writes TLC's dtypes: a regression here would make every layout test meaningless.
    schema = tlc_schema("yellow", 2024)
    assert schema.field("VendorID").type == pa.int32()
    assert schema.field("passenger_count").type == pa.int64()
    assert schema.field("tpep_pickup_datetime").type == pa.timestamp("us")


@pytest.mark.parametrize(
    ("magic", "problem"),
    [
        (b"\x1f\x8b\x08\x00", "is a gzip-compressed file named .csv; decompress it first"),
        (b"PK\x03\x04", "is a zip archive named .csv; extract the CSV from it first"),
    ],
)
def test_compressed_file_named_csv(tmp_path, magic, problem):
    path = tmp_path / "green_tripdata_2024-01.csv"
    path.write_bytes(magic + b"\x00" * 64)
    assert _refusal(path) == f"green_tripdata_2024-01.csv: {problem}"
