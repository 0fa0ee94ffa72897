"""Issue 20 (8a): text reaches the warehouses whole, or its row is quarantined with a reason.

A NUL character (PostgreSQL's COPY refuses it, Redshift cannot store it) or a value longer than
Redshift's VARCHAR (MAX_TEXT_BYTES, counted in UTF-8 bytes) never reaches the lake: its row is
quarantined as `unparseable`, naming the column. The quarantine's own text (`raw_record`, `reason`)
always fits. A long code that fits is kept whole and reported whole as an unknown code.
"""

from __future__ import annotations

import datetime as dt
import json

import psycopg2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tlc_samples import FHVHV_SCHEMA, csv_bytes, fhvhv_row, ingest, write_parquet, yellow_row

from ingestion.contract.types import MAX_TEXT_BYTES
from ingestion.text import max_value_bytes
from orchestration.local import embedded_postgres, load_postgres

YELLOW_HEADER = list(yellow_row())


def _csv_row(i: int, **overrides) -> list:
    return [str(v) for v in yellow_row(i, **overrides).values()]


def _stored_text(done) -> list[str]:
    """Every text value the lake and the quarantine hold for the file."""
    tables = [done.accepted(), done.quarantined()]
    return [
        value
        for table in tables
        for column in table.columns
        if str(column.type) == "string"
        for value in column.to_pylist()
        if value is not None
    ]


def _nul_csv(folder):
    """A yellow CSV whose second row has a NUL in store_and_fwd_flag."""
    rows = [_csv_row(0), _csv_row(1, store_and_fwd_flag="N\x00"), _csv_row(2)]
    path = folder / "yellow_tripdata_2024-01.csv"
    path.write_bytes(csv_bytes(YELLOW_HEADER, rows))
    return path


def test_nul_in_a_csv_text_field_quarantines_its_row_naming_the_column(tmp_path):
    done = ingest(_nul_csv(tmp_path), tmp_path)
    assert done.reasons() == {2: "unparseable"}
    assert [row["source_row"] for row in done.rows()] == [1, 3]
    row = done.quarantined_row(2)
    assert "store_and_fwd_flag (store_and_fwd_flag) holds a NUL character" in row["reason"]
    assert row["raw_record"]["store_and_fwd_flag"] == "N\x00"  # kept, escaped as JSON \u0000
    assert not any("\x00" in value for value in _stored_text(done))


def test_nul_in_a_parquet_string_quarantines_its_row(tmp_path):
    rows = [fhvhv_row(0), fhvhv_row(1, dispatching_base_num="B0\x003404"), fhvhv_row(2, wav_match_flag="\x00")]
    rows += [fhvhv_row(i) for i in range(3, 6)]  # more than half of a file unreadable would refuse it
    done = ingest(write_parquet(tmp_path / "fhvhv_tripdata_2024-01.parquet", rows, FHVHV_SCHEMA), tmp_path)
    assert done.reasons() == {2: "unparseable", 3: "unparseable"}
    assert "dispatching_base_num (dispatching_base_num) holds a NUL" in done.quarantined_row(2)["reason"]
    assert "wav_match_flag (wav_match_flag) holds a NUL" in done.quarantined_row(3)["reason"]
    assert not any("\x00" in value for value in _stored_text(done))
    assert done.manifest["warnings_by_code"] == {}


def test_text_longer_than_redshift_stores_is_quarantined_counting_bytes(tmp_path):
    fits = "B" * MAX_TEXT_BYTES
    too_long = "é" * (MAX_TEXT_BYTES // 2 + 1)  # fewer characters than the limit, more bytes
    rows = [fhvhv_row(0, originating_base_num=fits), fhvhv_row(1, originating_base_num=too_long)]
    done = ingest(write_parquet(tmp_path / "fhvhv_tripdata_2024-01.parquet", rows, FHVHV_SCHEMA), tmp_path)
    assert done.reasons() == {2: "unparseable"}
    assert done.rows()[0]["originating_base_num"] == fits
    assert (
        f"originating_base_num (originating_base_num) holds a NUL character or more than {MAX_TEXT_BYTES:,}"
        in (done.quarantined_row(2)["reason"])
    )


def test_a_long_code_is_kept_and_reported_whole_up_to_its_warning_key_limit(tmp_path):
    limit = max_value_bytes("store_and_fwd_flag")
    assert len(f"store_and_fwd_flag={'X' * limit}".encode()) == MAX_TEXT_BYTES
    rows = [
        yellow_row(0, store_and_fwd_flag="YES"),
        yellow_row(1, store_and_fwd_flag="X" * limit),
        yellow_row(2, store_and_fwd_flag="X" * (limit + 1)),
    ]
    done = ingest(write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", rows), tmp_path)
    assert done.reasons() == {3: "unparseable"}
    assert [row["store_and_fwd_flag"] for row in done.rows()] == ["YES", "X" * limit]
    assert done.manifest["warnings_by_code"] == {"store_and_fwd_flag=YES": 1, f"store_and_fwd_flag={'X' * limit}": 1}


def test_quarantine_raw_record_and_reason_always_fit_and_stay_json(tmp_path):
    huge = "Z\n" * (5 << 19)  # a 5 MiB value with newlines
    rows = [yellow_row(0), yellow_row(1, store_and_fwd_flag=huge), yellow_row(2, trip_distance=-1.0)]
    done = ingest(write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", rows), tmp_path)
    assert done.reasons() == {2: "unparseable", 3: "implausible_distance"}
    for text in _stored_text(done):
        assert "\x00" not in text and len(text.encode()) <= MAX_TEXT_BYTES
    bounded = done.quarantined_row(2)["raw_record"]
    assert bounded["_truncated_from_bytes"] > len(huge)
    assert bounded["_head"].startswith('{"VendorID":2,')
    assert done.quarantined_row(3)["raw_record"]["trip_distance"] == -1.0  # a record that fits is whole
    assert json.loads(done.quarantined()["raw_record"][0].as_py())  # valid JSON as stored


@pytest.fixture(scope="module")
def postgres():
    database = "tlc_pytest_ingest_text"
    admin = psycopg2.connect(embedded_postgres.start(database="postgres").dsn("postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'drop database if exists "{database}" with (force)')
    admin.close()
    connection = psycopg2.connect(embedded_postgres.start(database=database).dsn())
    yield connection
    connection.close()


def test_a_file_with_a_nul_loads_into_postgres_with_the_row_quarantined(postgres, tmp_path):
    # The issue: the NUL reached the lake, then every COPY into PostgreSQL failed naming neither file nor row.
    ingest(_nul_csv(tmp_path), tmp_path)
    [load] = load_postgres.load_lake(postgres, tmp_path / "lake", tmp_path / "quarantine")
    assert (load.rows_loaded, load.rows_quarantined) == (2, 1)
    with postgres.cursor() as cur:
        cur.execute("select source_row, reason_code, raw_record from raw.quarantined_trips")
        [(source_row, reason_code, raw_record)] = cur.fetchall()
    assert (source_row, reason_code) == (2, "unparseable")
    assert '"store_and_fwd_flag":"N\\u0000"' in raw_record


def test_a_nul_already_in_a_lake_month_stops_its_load_with_one_line_naming_file_and_month(postgres, tmp_path):
    # A lake ingested before the rule may still hold a NUL: its load says which file, month and column.
    rows = pa.table(
        {
            "trip_key": ["a" * 32, "b" * 32],
            "service": ["yellow", "yellow"],
            "pickup_at": pa.array([dt.datetime(2024, 1, 10, 8)] * 2, pa.timestamp("us")),
            "store_and_fwd_flag": ["N", "N\x00"],
            "source_file": ["yellow_tripdata_2024-01.csv"] * 2,
            "source_row": pa.array([1, 2], pa.int64()),
        }
    )
    pq.write_table(rows, tmp_path / "00000.parquet")
    month = load_postgres.MonthToLoad(
        "yellow", 2024, 1, "v1", "yellow_tripdata_2024-01.csv", "0" * 64, 2, 0, [str(tmp_path / "00000.parquet")], []
    )
    load_postgres.ensure_raw_schema(postgres)
    with pytest.raises(RuntimeError) as refused:
        load_postgres.load_partition(postgres, month)
    message = str(refused.value)
    assert "\n" not in message and message.startswith("yellow_tripdata_2024-01.csv: ")
    assert "yellow 2024-01" in message and "store_and_fwd_flag" in message and "0x00" in message
    with postgres.cursor() as cur:
        cur.execute(
            "select count(*) from raw.partition_loads where year = 2024 and month = 1 and sha256 = %s", ("0" * 64,)
        )
        assert cur.fetchone() == (0,)
    postgres.rollback()


def test_a_nul_in_a_2010_text_code_quarantines_its_row_instead_of_a_warning(tmp_path):
    # 2009-2014 codes are text (VTS, CSH): one no table knows is a warning, unless no warehouse could hold it
    header = ["vendor_id", "pickup_datetime", "dropoff_datetime", "passenger_count", "trip_distance",
              "pickup_longitude", "pickup_latitude", "rate_code", "store_and_fwd_flag", "dropoff_longitude",
              "dropoff_latitude", "payment_type", "fare_amount", "surcharge", "mta_tax", "tip_amount",
              "tolls_amount", "total_amount"]  # fmt: skip
    point = ["-73.985130", "40.758896"]
    rows = [[vendor, f"2010-01-0{d} 10:00:00", f"2010-01-0{d} 10:10:00", "1", "1.5", *point, "1", "0", *point,
             "CSH", "6.1", "0", "0.5", "0", "0", "6.6"]
            for d, vendor in ((1, "VTS"), (2, "XYZ"), (3, "XY\x00Z"), (4, "CMT"))]  # fmt: skip
    path = tmp_path / "yellow_tripdata_2010-01.csv"
    path.write_bytes(csv_bytes(header, rows))
    done = ingest(path, tmp_path)
    assert done.reasons() == {3: "unparseable"}
    assert "vendor_id (vendor_id) holds a NUL character" in done.quarantined_row(3)["reason"]
    assert done.manifest["warnings_by_code"] == {"vendor_id=XYZ": 1}
