"""Every TLC column layout lands in the contract's columns with the right values; unmappable layouts are
refused by name. Each file goes through `ingest_file` (the work of one Spark task) and the written
Parquet is read back."""

from __future__ import annotations

import datetime as dt
import gzip
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from tlc_samples import (
    csv_bytes,
    green_row,
    ingest,
    write_csv,
    write_csv_gz,
    write_parquet,
    yellow_row,
)

from ingestion import raw_batches, raw_files
from ingestion.errors import BadFileError
from ingestion.mapping import map_columns
from ingestion.synthetic import tlc_schema

T = dt.datetime


def _one_row(path, tmp_path) -> dict:
    done = ingest(path, tmp_path)
    assert done.manifest["rows_quarantined"] == 0, done.quarantined().to_pylist()
    [row] = done.rows()
    return row


def test_yellow_2024_parquet(tmp_path):
    path = write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", [yellow_row(0, Airport_fee=1.75)])
    row = _one_row(path, tmp_path)
    assert row["service"] == "yellow" and row["vendor_id"] == 2
    assert row["pickup_at"] == T(2024, 1, 10, 8) and row["dropoff_at"] == T(2024, 1, 10, 8, 12)
    assert (row["passenger_count"], row["trip_distance"], row["rate_code_id"]) == (1, 2.5, 1)
    assert (row["store_and_fwd_flag"], row["payment_type"]) == ("N", 1)
    assert row["airport_fee"] == Decimal("1.75") and row["fare_amount"] == Decimal("14.20")
    assert row["total_amount"] == Decimal("21.20") and row["congestion_surcharge"] == Decimal("2.50")
    assert (row["pickup_location_id"], row["dropoff_location_id"]) == (161, 236)
    assert row["trip_type"] is None and row["cbd_congestion_fee"] is None and row["ehail_fee"] is None
    assert row["pickup_longitude"] is None  # zone-era layout: no coordinates
    assert row["source_file"] == "yellow_tripdata_2024-01.parquet" and row["source_row"] == 1
    assert len(row["trip_key"]) == 32 and int(row["trip_key"], 16) >= 0


def test_green_2024_parquet_counts_as_doubles(tmp_path):
    rows = [green_row(0, passenger_count=2.0, trip_type=2.0), green_row(1, passenger_count=1.5)]
    done = ingest(write_parquet(tmp_path / "green_tripdata_2024-01.parquet", rows, tlc_schema("green", 2024)), tmp_path)
    [first] = done.rows()
    assert first["service"] == "green" and first["pickup_at"] == T(2024, 1, 10, 8)
    assert first["passenger_count"] == 2 and first["trip_type"] == 2 and first["rate_code_id"] == 1
    assert first["payment_type"] == 1 and first["ehail_fee"] is None and first["airport_fee"] is None
    second = done.quarantined_row(2)
    assert second["reason_code"] == "unparseable"
    assert second["reason"] == "could not parse: passenger_count (passenger_count)"
    assert second["trip_key"] is None and second["raw_record"]["passenger_count"] == 1.5


def test_yellow_2025_with_cbd_congestion_fee(tmp_path):
    february = {"tpep_pickup_datetime": T(2025, 2, 3, 9), "tpep_dropoff_datetime": T(2025, 2, 3, 9, 20)}
    rows = [yellow_row(0, cbd_congestion_fee=0.75, **february)]
    path = write_parquet(tmp_path / "yellow_tripdata_2025-02.parquet", rows, tlc_schema("yellow", 2025))
    assert _one_row(path, tmp_path)["cbd_congestion_fee"] == Decimal("0.75")


def test_lower_case_airport_fee_of_2022(tmp_path):
    schema = pa.schema([("airport_fee", f.type) if f.name == "Airport_fee" else f for f in tlc_schema("yellow", 2024)])
    row = yellow_row(0, tpep_pickup_datetime=T(2022, 6, 3, 9), tpep_dropoff_datetime=T(2022, 6, 3, 9, 12))
    row["airport_fee"] = row.pop("Airport_fee") + 1.25
    out = _one_row(write_parquet(tmp_path / "yellow_tripdata_2022-06.parquet", [row], schema), tmp_path)
    assert out["airport_fee"] == Decimal("1.25")


def test_all_null_column_and_double_counts(tmp_path):
    fields = []
    for field in tlc_schema("yellow", 2024):
        if field.name == "Airport_fee":
            fields.append(pa.field("airport_fee", pa.null()))  # TLC 2022 months shipped an all-null column
        elif field.name in ("passenger_count", "RatecodeID", "payment_type"):
            fields.append(pa.field(field.name, pa.float64()))
        else:
            fields.append(field)
    july = {"tpep_pickup_datetime": T(2022, 7, 1, 9), "tpep_dropoff_datetime": T(2022, 7, 1, 9, 12)}
    rows = [yellow_row(0, passenger_count=3.0, RatecodeID=2.0, payment_type=2.0, Airport_fee=None, **july)]
    row = _one_row(write_parquet(tmp_path / "yellow_tripdata_2022-07.parquet", rows, pa.schema(fields)), tmp_path)
    assert (row["passenger_count"], row["rate_code_id"], row["payment_type"]) == (3, 2, 2)
    assert row["airport_fee"] is None


def test_nanosecond_timestamps(tmp_path):
    schema = pa.schema(
        [pa.field(f.name, pa.timestamp("ns")) if "datetime" in f.name else f for f in tlc_schema("yellow", 2024)]
    )
    row = _one_row(write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", [yellow_row(3)], schema), tmp_path)
    assert row["pickup_at"] == T(2024, 1, 10, 8, 3)


def _aware(naive_path, target, zone: str):
    """The naive file's table with both datetimes as the same NYC instants, typed `timestamp[us, tz=zone]`."""
    table = pa.parquet.read_table(naive_path)
    for name in ("tpep_pickup_datetime", "tpep_dropoff_datetime"):
        instants = pc.assume_timezone(table[name], "America/New_York").cast(pa.timestamp("us", tz=zone))
        table = table.set_column(table.schema.get_field_index(name), name, instants)
    pa.parquet.write_table(table, target)
    return target


def test_time_zone_aware_parquet_timestamps_load_as_nyc_wall_clock(tmp_path):
    # Wall-clock pickups, including the first minutes of the month and the last hour before the next:
    # shifted by 5 hours (EST) they would leave January (and be quarantined as outside the month).
    pickups = [T(2024, 1, 1, 0, 30), T(2024, 1, 10, 8), T(2024, 1, 31, 22, 15), T(2024, 1, 31, 23, 59)]
    rows = [
        yellow_row(i, tpep_pickup_datetime=p, tpep_dropoff_datetime=p + dt.timedelta(minutes=9))
        for i, p in enumerate(pickups)
    ]
    naive_dir, ny_dir, utc_dir = (tmp_path / name for name in ("naive", "ny", "utc"))
    for folder in (naive_dir, ny_dir, utc_dir):
        folder.mkdir()
    naive = write_parquet(naive_dir / "yellow_tripdata_2024-01.parquet", rows)
    ny = _aware(naive, ny_dir / naive.name, "America/New_York")
    utc = _aware(naive, utc_dir / naive.name, "UTC")
    assert pa.parquet.read_schema(utc).field("tpep_pickup_datetime").type == pa.timestamp("us", tz="UTC")
    # 2024-01-10 08:00 in New York is 13:00 UTC: the instant the UTC file stores.
    stored = pa.parquet.read_table(utc)["tpep_pickup_datetime"][1].as_py()
    assert stored == dt.datetime(2024, 1, 10, 13, tzinfo=dt.UTC)

    loaded = {
        name: ingest(path, tmp_path / f"out_{name}") for name, path in (("naive", naive), ("ny", ny), ("utc", utc))
    }
    for name, done in loaded.items():
        assert done.manifest["rows_accepted"] == 4 and done.manifest["quarantined_by_reason"] == {}, name
        accepted = done.accepted()
        assert accepted["pickup_at"].to_pylist() == pickups, name
        assert accepted["dropoff_at"].to_pylist() == [p + dt.timedelta(minutes=9) for p in pickups], name
    # the same trips: the same canonical values, so the same trip_keys
    keys = {name: done.accepted()["trip_key"].to_pylist() for name, done in loaded.items()}
    assert keys["naive"] == keys["ny"] == keys["utc"]


CSV_HEADER = [
    "VENDORID",
    "TPEP_PICKUP_DATETIME",
    "TPEP_DROPOFF_DATETIME",
    "PASSENGER_COUNT",
    "TRIP_DISTANCE",
    "RATECODEID",
    "STORE_AND_FWD_FLAG",
    "PULOCATIONID",
    "DOLOCATIONID",
    "PAYMENT_TYPE",
    "FARE_AMOUNT",
    "EXTRA",
    "MTA_TAX",
    "TIP_AMOUNT",
    "TOLLS_AMOUNT",
    "IMPROVEMENT_SURCHARGE",
    "TOTAL_AMOUNT",
]


def _csv_row(pickup: str, dropoff: str, distance="1.50", passengers="1") -> list:
    return ["1", pickup, dropoff, passengers, distance, "1", "N", "43", "151", "2", "8", "0.5", "0.5", "0", "0",
            "0.3", "9.3"]  # fmt: skip


def test_csv_crlf_upper_case_headers_and_formats(tmp_path):
    rows = [
        _csv_row("2019-01-01 00:46:40", "2019-01-01 00:53:20"),
        _csv_row("01/02/2019 01:05:00 PM", "01/02/2019 01:15:00 PM", passengers="2.0"),
        _csv_row("2019-01-03 10:00:00", "2019-01-03 10:10:00", distance="abc"),
        ["1", "2019-01-04 10:00:00"],  # too few fields
    ]
    done = ingest(write_csv(tmp_path / "yellow_tripdata_2019-01.csv", CSV_HEADER, rows, newline="\r\n"), tmp_path)
    first, second = done.rows()
    assert (first["source_row"], second["source_row"]) == (1, 2)
    assert first["pickup_at"] == T(2019, 1, 1, 0, 46, 40) and first["trip_distance"] == 1.5
    assert first["store_and_fwd_flag"] == "N" and first["total_amount"] == Decimal("9.30")
    assert first["congestion_surcharge"] is None and first["vendor_id"] == 1
    assert second["pickup_at"] == T(2019, 1, 2, 13, 5) and second["passenger_count"] == 2
    assert done.reasons() == {3: "unparseable", 4: "unparseable"}
    third = done.quarantined_row(3)
    assert third["reason"] == "could not parse: trip_distance (TRIP_DISTANCE)"
    assert third["raw_record"]["TRIP_DISTANCE"] == "abc" and third["raw_record"]["VENDORID"] == "1"
    assert third["pickup_at"] == T(2019, 1, 3, 10)  # what could be read is kept beside the reason
    fourth = done.quarantined_row(4)
    assert "row has the wrong number of fields" in fourth["reason"]
    assert fourth["raw_record"]["_line"] == "1,2019-01-04 10:00:00"


@pytest.mark.parametrize("short_line", [None, 2501], ids=["arrow_parser", "line_by_line"])
def test_csv_source_row_is_the_line_position_across_many_batches(tmp_path, monkeypatch, short_line):
    rows = [
        _csv_row(f"2019-01-{1 + i % 28:02d} 10:{i % 60:02d}:00", f"2019-01-{1 + i % 28:02d} 11:00:00", f"{i / 100:.2f}")
        for i in range(4000)
    ]
    if short_line:  # one short line: the file is read again, line by line
        rows[short_line - 1] = rows[short_line - 1][:5]
    path = write_csv(tmp_path / "yellow_tripdata_2019-01.csv", CSV_HEADER, rows, newline="\n")
    monkeypatch.setattr(raw_batches, "CSV_BLOCK_BYTES", 16 << 10)  # ~20 batches instead of one
    inspection = raw_files.inspect_file(str(path))
    assert len(list(raw_batches.read_batches(inspection, by_line=short_line is not None))) > 10
    done = ingest(path, tmp_path)
    accepted = done.accepted()
    got = dict(zip(accepted["source_row"].to_pylist(), accepted["trip_distance"].to_pylist(), strict=True))
    assert sorted(got) == [n for n in range(1, 4001) if n != short_line]
    assert all(got[n] == round((n - 1) / 100, 2) for n in got)
    assert done.reasons() == ({short_line: "unparseable"} if short_line else {})


def test_parquet_source_row_across_row_groups_and_batches_is_stable(tmp_path, monkeypatch):
    rows = [yellow_row(i, trip_distance=float(i % 400)) for i in range(3000)]
    rows[2999] = dict(rows[1234])  # a duplicate whose original sits in another row group and batch
    path = write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", rows, row_group_size=500)
    monkeypatch.setattr(raw_batches, "PARQUET_BATCH_ROWS", 256)
    runs = [ingest(path, tmp_path / f"run{n}") for n in range(2)]
    tables = [run.accepted().select(["source_row", "trip_distance", "trip_key"]) for run in runs]
    assert tables[0].equals(tables[1])
    assert tables[0]["source_row"].to_pylist() == list(range(1, 3000))
    pairs = zip(tables[0]["source_row"].to_pylist(), tables[0]["trip_distance"].to_pylist(), strict=True)
    assert all(distance == (row - 1) % 400 for row, distance in pairs)
    assert runs[0].reasons() == {3000: "duplicate_row"}
    assert runs[0].quarantined_row(3000)["reason"] == "duplicate of source_row 1235"


def test_csv_gz_ingests_and_the_manifest_names_the_file_as_given(tmp_path):
    rows = [_csv_row(f"2019-01-{d:02d} 10:00:00", f"2019-01-{d:02d} 10:07:00") for d in range(1, 29)]
    rows[5] = rows[5][:3]  # a short line: the gzip stream is read a second time, line by line
    path = write_csv_gz(tmp_path / "yellow_tripdata_2019-01.csv.gz", CSV_HEADER, rows)
    (tmp_path / "plain").mkdir()
    plain = write_csv(tmp_path / "plain" / "yellow_tripdata_2019-01.csv", CSV_HEADER, rows)
    done = ingest(path, tmp_path / "gz")
    assert done.manifest["source_file"] == "yellow_tripdata_2019-01.csv.gz"
    assert done.manifest["source_path"] == str(path)
    assert (done.manifest["rows_read"], done.manifest["rows_accepted"]) == (28, 27)
    assert done.reasons() == {6: "unparseable"}
    assert set(done.accepted()["source_file"].to_pylist()) == {"yellow_tripdata_2019-01.csv.gz"}
    # the same rows as the uncompressed file
    same = ingest(plain, tmp_path / "csv")
    assert done.accepted().drop(["source_file"]).equals(same.accepted().drop(["source_file"]))


def test_csv_gz_that_is_not_gzip_or_breaks_midway_is_refused(tmp_path):
    row = _csv_row("2019-02-01 10:00:00", "2019-02-01 10:05:00")
    not_gzip = write_csv(tmp_path / "yellow_tripdata_2019-02.csv.gz", CSV_HEADER, [row])
    with pytest.raises(BadFileError) as info:
        raw_files.inspect_file(str(not_gzip))
    assert str(info.value) == "yellow_tripdata_2019-02.csv.gz: is named .csv.gz but is not gzip-compressed"

    rows = [
        _csv_row(f"2019-03-{1 + i % 28:02d} 10:00:00", "2019-03-29 10:00:00", distance=f"{i}.5") for i in range(30000)
    ]
    whole = gzip.compress(csv_bytes(CSV_HEADER, rows), mtime=0)
    cut = tmp_path / "yellow_tripdata_2019-03.csv.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])  # the first 64 KiB decompress fine: inspection passes
    done = ingest(cut, tmp_path)
    assert done.result.status == "refused"
    assert done.result.error.startswith("yellow_tripdata_2019-03.csv.gz: ")
    assert "compressed stream" in done.result.problem.lower() and "\n" not in done.result.problem
    assert not list(done.lake.rglob("*.parquet")) and not list(done.quarantine.rglob("*.parquet"))
    assert (done.quarantine / "_rejected_files" / f"{cut.name}.error.json").is_file()


def test_mapping_is_case_insensitive_and_fills_missing_optional_columns(tmp_path):
    header = ["vendorid", "TPEP_PICKUP_DATETIME", " tpep_dropoff_datetime", "PULocationID", "DOLOCATIONID"]
    mapping = map_columns("x", "yellow", header)
    assert mapping.source_for("pickup_at") == "TPEP_PICKUP_DATETIME"
    assert mapping.source_for("fare_amount") is None
    values = ["2", "2019-01-05 10:00:00", "2019-01-05 10:30:00", "43", "151"]
    path = write_csv(tmp_path / "yellow_tripdata_2019-01.csv", header, [values])
    row = _one_row(path, tmp_path)
    assert (row["vendor_id"], row["dropoff_at"], row["pickup_location_id"]) == (2, T(2019, 1, 5, 10, 30), 43)
    assert row["fare_amount"] is None and row["trip_distance"] is None and row["payment_type"] is None


YELLOW_2009 = ["vendor_name", "Trip_Pickup_DateTime", "Trip_Dropoff_DateTime", "Passenger_Count", "Trip_Distance",
               "Start_Lon", "Start_Lat", "Rate_Code", "store_and_forward", "End_Lon", "End_Lat", "Payment_Type",
               "Fare_Amt", "surcharge", "mta_tax", "Tip_Amt", "Tolls_Amt", "Total_Amt"]  # fmt: skip


def test_2009_layout_maps_text_codes_and_points_to_zones(tmp_path):
    rows = [
        # Times Square -> JFK, cash, vendor VTS
        ["VTS", "2009-01-04 02:52:00", "2009-01-04 03:02:00", "1", "2.63", "-73.985130", "40.758896", "", "",
         "-73.778137", "40.641312", "CASH", "8.9", "0.5", "", "0", "0", "9.4"],
        # no fix (0, 0) -> 264, card, vendor CMT, store-and-forward 1
        ["CMT", "2009-01-04 03:31:00", "2009-01-04 03:38:00", "3", "4.55", "0", "0", "1", "1", "0", "0",
         "Credit", "12.1", "0.5", "", "2", "0", "14.6"],
        # a point in Las Vegas -> 265 (outside NYC); unknown payment text kept aside as a warning
        ["DDS", "2009-01-05 10:00:00", "2009-01-05 10:10:00", "1", "1.0", "-115.179", "36.137", "", "0",
         "-115.179", "36.137", "ZZZ", "5", "0", "", "0", "0", "5"],
    ]  # fmt: skip
    done = ingest(write_csv(tmp_path / "yellow_tripdata_2009-01.csv", YELLOW_2009, rows), tmp_path)
    first, second, third = done.rows()
    assert (first["vendor_id"], second["vendor_id"], third["vendor_id"]) == (2, 1, 3)
    assert (first["payment_type"], second["payment_type"], third["payment_type"]) == (2, 1, None)
    assert (first["pickup_location_id"], first["dropoff_location_id"]) == (230, 132)  # Times Sq, JFK
    assert (second["pickup_location_id"], second["dropoff_location_id"]) == (264, 264)
    assert (third["pickup_location_id"], third["dropoff_location_id"]) == (265, 265)
    assert (first["pickup_longitude"], first["pickup_latitude"]) == (-73.98513, 40.758896)  # kept for a redo
    assert (second["store_and_fwd_flag"], second["rate_code_id"], second["extra"]) == ("Y", 1, Decimal("0.50"))
    assert third["store_and_fwd_flag"] == "N" and first["fare_amount"] == Decimal("8.90")
    assert done.manifest["warnings_by_code"] == {"payment_type=ZZZ": 1}


GREEN_2014 = ["VendorID", "lpep_pickup_datetime", "Lpep_dropoff_datetime", "Store_and_fwd_flag", "RateCodeID",
              "Pickup_longitude", "Pickup_latitude", "Dropoff_longitude", "Dropoff_latitude", "Passenger_count",
              "Trip_distance", "Fare_amount", "Extra", "MTA_tax", "Tip_amount", "Tolls_amount", "Ehail_fee",
              "Total_amount", "Payment_type", "Trip_type "]  # fmt: skip


def test_2014_green_layout_with_points_maps_to_zones(tmp_path):
    rows = [["2", "2014-05-01 00:00:00", "2014-05-01 00:19:00", "N", "1", "-73.9125", "40.7750", "-73.9496", "40.8025",
             "1", "1.2", "7", "0.5", "0.5", "0", "0", "", "8", "2", "1", "", ""]]  # fmt: skip
    row = _one_row(write_csv(tmp_path / "green_tripdata_2014-05.csv", GREEN_2014, rows), tmp_path)
    # Ditmars Blvd & 31st St (TLC zone Steinway) -> W 116th St & 7th Ave (Central Harlem)
    assert (row["pickup_location_id"], row["dropoff_location_id"]) == (223, 41)
    assert (row["trip_type"], row["payment_type"], row["ehail_fee"]) == (1, 2, None)


KNOWN = ["VendorID", "tpep_pickup_datetime", "tpep_dropoff_datetime", "PULocationID"]


@pytest.mark.parametrize(
    ("columns", "problem"),
    [
        (
            [*KNOWN, "DOLocationID", "surprise"],
            "unknown columns surprise (add them to ingestion/contract/datasets.py)",
        ),
        (KNOWN, "missing required columns dropoff_location_id or dropoff_longitude+dropoff_latitude"),
        ([*KNOWN, "DOLocationID", "airport_fee", "Airport_fee"], "ambiguous columns airport_fee/Airport_fee"),
        (
            ["VendorID", "lpep_pickup_datetime", "lpep_dropoff_datetime", "PULocationID", "DOLocationID"],
            "columns of another dataset than yellow: lpep_pickup_datetime (green), lpep_dropoff_datetime (green);"
            " missing required columns pickup_at, dropoff_at",
        ),
    ],
)
def test_unmappable_columns_are_named(tmp_path, columns, problem):
    path = write_csv(tmp_path / "yellow_tripdata_2024-01.csv", columns, [["1"] * len(columns)])
    with pytest.raises(BadFileError) as info:
        raw_files.inspect_file(str(path))
    assert str(info.value) == f"yellow_tripdata_2024-01.csv: cannot map columns: {problem}"


def test_wrong_columns_parquet_is_refused_before_any_row_is_read(tmp_path):
    path = tmp_path / "yellow_tripdata_2024-01.parquet"
    write_parquet(path, [{"a": 1}], pa.schema([("a", pa.int64())]))
    with pytest.raises(BadFileError, match="yellow_tripdata_2024-01.parquet: cannot map columns: unknown columns a"):
        raw_files.inspect_file(str(path))


def test_csv_with_blank_and_whitespace_lines_reconciles(tmp_path):
    path = tmp_path / "yellow_tripdata_2019-01.csv"
    good = ",".join(_csv_row("2019-01-01 00:46:40", "2019-01-01 00:53:20"))
    other = ",".join(_csv_row("2019-01-02 00:46:40", "2019-01-02 00:53:20"))
    body = "\r\n".join([",".join(CSV_HEADER), "", good, "   ", "\t", other, "," * (len(CSV_HEADER) - 1), ""])
    path.write_text(body, encoding="utf-8")
    done = ingest(path, tmp_path)
    assert (done.manifest["rows_read"], done.manifest["rows_accepted"]) == (3, 2)
    assert done.manifest["quarantined_by_reason"] == {"unparseable": 1}  # the all-empty row: no pickup time
    assert done.quarantined_row(3)["reason"] == "pickup or dropoff time missing"
