"""Every kind of bad file is refused with a one-line message naming the file and the problem: at
inspection (`raw_files.inspect_file`, what the job's plan runs) or while it is ingested
(`ingest_file`: status refused, a report in `_rejected_files`, nothing published)."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tlc_samples import ingest, write_csv, write_parquet, yellow_row

from ingestion import job, raw_files
from ingestion.errors import BadFileError, InputSetError
from ingestion.synthetic import tlc_schema

HEADER = ["VendorID", "tpep_pickup_datetime", "tpep_dropoff_datetime", "PULocationID", "DOLocationID", "fare_amount"]
ROW = ["1", "2024-01-02 10:00:00", "2024-01-02 10:10:00", "43", "151", "8.5"]


def _refusal(path) -> str:
    with pytest.raises(BadFileError) as info:
        raw_files.inspect_file(str(path))
    message = str(info.value)
    assert "\n" not in message
    return message


def _nothing_published(done) -> None:
    """A refused file: its report in _rejected_files, no part file, no manifest, no staging left."""
    assert done.result.status == "refused"
    assert "\n" not in done.result.problem
    report = json.loads((done.quarantine / "_rejected_files" / f"{done.result.source_file}.error.json").read_text())
    assert report["problem"] == done.result.problem and report["source_file"] == done.result.source_file
    assert not list(done.lake.rglob("*.parquet")) and not list(done.quarantine.rglob("*.parquet"))
    assert not (done.lake / "_manifests").exists()
    assert not list(done.lake.rglob(".*")) and not list(done.quarantine.rglob(".*"))


@pytest.fixture
def good_parquet(tmp_path):
    return write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", [yellow_row(i) for i in range(50)])


def test_missing_file(tmp_path):
    assert _refusal(tmp_path / "yellow_tripdata_2024-01.parquet") == (
        "yellow_tripdata_2024-01.parquet: file does not exist"
    )


@pytest.mark.parametrize(
    "name",
    [
        "yellow_tripdata_2024-1.parquet",
        "uber_tripdata_2024-01.parquet",
        "yellow_tripdata_2024-01.json",
        "yellow_tripdata_2024-01.csv.zip",
        "trips.csv",
    ],
)
def test_bad_names(tmp_path, name):
    (tmp_path / name).write_text("x")
    assert _refusal(tmp_path / name) == (
        f"{name}: name does not match {{yellow|green|fhv|fhvhv}}_tripdata_YYYY-MM.{{parquet,csv,csv.gz}}"
    )


def test_month_13_in_name(tmp_path):
    (tmp_path / "green_tripdata_2024-13.csv").write_text("x")
    assert "month 13 in the name is not 01..12" in _refusal(tmp_path / "green_tripdata_2024-13.csv")


@pytest.mark.parametrize("suffix", ["parquet", "csv", "csv.gz"])
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
    assert _refusal(good_parquet).startswith("yellow_tripdata_2024-01.parquet: corrupt Parquet footer (")


def _corrupt_data_page(path, column: str) -> None:
    """Overwrite 64 bytes in the middle of `column`'s chunk; the footer stays intact."""
    chunk = pq.ParquetFile(path).metadata.row_group(0)
    [meta] = [chunk.column(i) for i in range(chunk.num_columns) if chunk.column(i).path_in_schema == column]
    start = meta.dictionary_page_offset if meta.has_dictionary_page else meta.data_page_offset
    middle = start + meta.total_compressed_size // 2
    data = bytearray(path.read_bytes())
    data[middle : middle + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))


def test_corrupt_parquet_data_page_is_refused_with_one_line(tmp_path):
    # Issue 12, defect 4: the footer is intact, so inspection passes; the data page is not.
    rows = [yellow_row(i, trip_distance=1 + i / 7, fare_amount=5 + i / 3) for i in range(3000)]
    path = write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", rows, compression="gzip")
    _corrupt_data_page(path, "fare_amount")
    inspection = raw_files.inspect_file(str(path))
    assert inspection.rows_in_footer == 3000
    done = ingest(path, tmp_path)
    _nothing_published(done)
    assert done.result.error.startswith("yellow_tripdata_2024-01.parquet: corrupt Parquet data")
    assert len(done.result.error) < 400
    assert not list(done.lake.rglob("month=01"))


def test_parquet_named_csv(good_parquet, tmp_path):
    path = tmp_path / "yellow_tripdata_2024-02.csv"
    path.write_bytes(good_parquet.read_bytes())
    assert _refusal(path) == "yellow_tripdata_2024-02.csv: is a Parquet file named .csv"


def test_not_utf8_csv_in_the_header_block(tmp_path):
    path = tmp_path / "yellow_tripdata_2024-01.csv"
    head = ",".join(HEADER).encode() + b"\r\n1,Caf"
    path.write_bytes(head + "é".encode("latin-1") + b"\r\n")
    assert _refusal(path) == f"yellow_tripdata_2024-01.csv: not UTF-8 text (byte 0xe9 at offset {len(head)})"


def test_not_utf8_far_into_the_file_is_refused_while_ingesting(tmp_path):
    rows = [[*ROW[:3], "43", "151", f"{8 + i / 100:.2f}"] for i in range(3000)]
    path = write_csv(tmp_path / "yellow_tripdata_2024-01.csv", HEADER, rows)
    size = path.stat().st_size
    with open(path, "ab") as handle:
        handle.write("1,2024-01-03 10:00:00,2024-01-03 10:10:00,43,151,Zoë\r\n".encode("latin-1"))
    raw_files.inspect_file(str(path))  # the first 64 KiB are fine
    done = ingest(path, tmp_path)
    _nothing_published(done)
    offset = size + len("1,2024-01-03 10:00:00,2024-01-03 10:10:00,43,151,Zo")
    assert done.result.problem == f"not UTF-8 text (byte 0xeb at offset {offset}; re-export the file as UTF-8)"


def test_plan_refuses_duplicates_before_anything_and_bad_files_one_by_one(good_parquet, tmp_path):
    empty = tmp_path / "green_tripdata_2024-01.csv"
    empty.write_bytes(b"")
    other_dir = tmp_path / "again"
    other_dir.mkdir()
    twin = other_dir / good_parquet.name
    twin.write_bytes(good_parquet.read_bytes())
    csv_twin = write_csv(tmp_path / "yellow_tripdata_2024-01.csv", HEADER, [ROW])
    lake, quarantine = str(tmp_path / "lake"), str(tmp_path / "q")
    with pytest.raises(InputSetError) as info:
        job.plan([str(good_parquet), str(empty), str(twin), str(csv_twin)], lake, quarantine)
    assert info.value.problems == [
        f"yellow_tripdata_2024-01.parquet: duplicate input (yellow_tripdata_2024-01.parquet also from {good_parquet})",
        f"yellow_tripdata_2024-01.csv: duplicate input (yellow_trips/year=2024/month=01 also from {good_parquet})",
    ]
    assert isinstance(info.value, BadFileError)  # the runner catches BadFileError
    assert not (tmp_path / "q").exists()  # nothing written, not even the empty file's report

    planned = job.plan([str(empty), str(good_parquet)], lake, quarantine)
    [refused] = planned.refused
    assert refused.error == "green_tripdata_2024-01.csv: file is empty (0 bytes)"
    assert json.loads(open(refused.rejection_report).read())["problem"] == "file is empty (0 bytes)"
    [ok] = planned.to_ingest
    assert ok.inspection.rows_in_footer == 50 and ok.inspection.raw.partition == "yellow_trips/year=2024/month=01"
    assert ok.sha256 == raw_files.fingerprint(str(good_parquet))


def _pickups_as_text(folder, unreadable: int):
    """Ten trips of 2024-01 with the pickup column as text, the first `unreadable` of them 'soon'."""
    folder.mkdir()
    schema = pa.schema(
        [pa.field(f.name, pa.string()) if f.name == "tpep_pickup_datetime" else f for f in tlc_schema("yellow", 2024)]
    )
    rows = [yellow_row(i) for i in range(10)]
    for i, row in enumerate(rows):
        row["tpep_pickup_datetime"] = "soon" if i < unreadable else str(row["tpep_pickup_datetime"])
    return write_parquet(folder / "yellow_tripdata_2024-01.parquet", rows, schema)


def test_file_with_mostly_unreadable_rows_is_refused_and_its_month_kept(tmp_path):
    # Issue 12, defect 1: a month whose rows are nearly all unreadable must not load as a success.
    roots = (tmp_path / "lake", tmp_path / "quarantine")
    previous = ingest(_pickups_as_text(tmp_path / "v0", 0), tmp_path)
    assert previous.manifest["rows_accepted"] == 10
    before = {p: p.read_bytes() for root in roots for p in root.rglob("*") if p.is_file()}

    refused = ingest(_pickups_as_text(tmp_path / "v6", 6), tmp_path)
    assert refused.result.status == "refused"
    assert refused.result.problem == (
        "6 of 10 rows cannot be read (row 1: could not parse: pickup_at (tpep_pickup_datetime)):"
        " the layout is not one ingestion/contract/ knows"
    )
    after = {p: p.read_bytes() for root in roots for p in root.rglob("*") if p.is_file()}
    report = tmp_path / "quarantine" / "_rejected_files" / "yellow_tripdata_2024-01.parquet.error.json"
    assert json.loads(after.pop(report))["problem"] == refused.result.problem
    assert after == before  # the month, its quarantine and its manifest are as they were
    assert not [p for root in roots for p in root.rglob(".*")]

    half = ingest(_pickups_as_text(tmp_path / "v5", 5), tmp_path)  # exactly half: ingested
    assert half.result.status == "ingested" and half.manifest["quarantined_by_reason"] == {"unparseable": 5}
    assert not report.exists()  # the refusal is superseded


def test_directory_instead_of_file(tmp_path):
    (tmp_path / "yellow_tripdata_2024-01.parquet").mkdir()
    assert _refusal(tmp_path / "yellow_tripdata_2024-01.parquet").endswith(": is a directory, not a file")


def test_schema_of_helper_matches_tlc(tmp_path):
    # The helper writes TLC's dtypes: a regression here would make every layout test meaningless.
    schema = tlc_schema("yellow", 2024)
    assert schema.field("VendorID").type == pa.int32()
    assert schema.field("passenger_count").type == pa.int64()
    assert schema.field("tpep_pickup_datetime").type == pa.timestamp("us")


@pytest.mark.parametrize(
    ("magic", "problem"),
    [
        (b"\x1f\x8b\x08\x00", "is a gzip-compressed file named .csv; name it .csv.gz"),
        (b"PK\x03\x04", "is a zip archive named .csv; extract the CSV from it first"),
    ],
)
def test_compressed_file_named_csv(tmp_path, magic, problem):
    path = tmp_path / "green_tripdata_2024-01.csv"
    path.write_bytes(magic + b"\x00" * 64)
    assert _refusal(path) == f"green_tripdata_2024-01.csv: {problem}"


def test_a_refusal_quoting_the_file_is_one_bounded_escaped_line(tmp_path):
    # issue 20: a message quoting a file's values (here a header name) is bounded and escaped, whatever
    # the file holds: a 20,000-character column name with a terminal escape and a NUL is no 20 KB line
    from ingestion.text import MAX_MESSAGE_CHARS

    hostile = "x\x1b[2J" + "y" * 20_000 + "\x00z"
    path = tmp_path / "yellow_tripdata_2024-01.csv"
    path.write_text(",".join([*HEADER, hostile]) + "\n" + ",".join([*ROW, "1"]) + "\n")
    message = _refusal(path)
    assert message.startswith("yellow_tripdata_2024-01.csv: ")
    assert "unknown columns" in message
    assert len(message) <= len("yellow_tripdata_2024-01.csv: ") + MAX_MESSAGE_CHARS + 40
    assert message.isprintable() and "\\x1b" in message


def test_a_header_longer_than_the_inspected_head_is_refused_for_what_it_is(tmp_path):
    # the file has a data row: "a header but no data rows" was the wrong reason (issue 20: true reasons)
    path = tmp_path / "yellow_tripdata_2024-01.csv"
    path.write_text(",".join([*HEADER, "y" * 100_000]) + "\n" + ",".join([*ROW, "1"]) + "\n")
    assert _refusal(path) == (
        f"yellow_tripdata_2024-01.csv: CSV header line is longer than {raw_files.CSV_HEAD_BYTES:,} bytes"
        " (no TLC layout's is)"
    )
