"""Every TLC column layout maps to the canonical schema; unmappable layouts are refused by name."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
import pytest
from tlc_samples import green_row, write_csv, write_parquet, yellow_row

from ingestion import job, reader, rules
from ingestion.errors import BadFileError
from ingestion.schema import map_columns
from ingestion.synthetic import tlc_schema

T = dt.datetime


def _rows(spark, path) -> list[dict]:
    frame = reader.read_raw(spark, reader.inspect_file(str(path)))
    return [r.asDict() for r in frame.orderBy("source_row").collect()]


def test_yellow_2024_parquet(spark, tmp_path):
    path = write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", [yellow_row(0, Airport_fee=1.75)])
    [row] = _rows(spark, path)
    assert row["service"] == "yellow" and row["vendor_id"] == 2
    assert row["pickup_at"] == T(2024, 1, 10, 8) and row["dropoff_at"] == T(2024, 1, 10, 8, 12)
    assert row["airport_fee"] == Decimal("1.75") and row["fare_amount"] == Decimal("14.20")
    assert (row["pickup_location_id"], row["dropoff_location_id"]) == (161, 236)
    assert row["trip_type"] is None and row["cbd_congestion_fee"] is None and row["ehail_fee"] is None
    assert row["source_file"] == "yellow_tripdata_2024-01.parquet" and row["source_row"] == 1
    assert row["_unparseable"] is None
    assert len(row["trip_key"]) == 32 and int(row["trip_key"], 16) >= 0


def test_green_2024_parquet_counts_as_doubles(spark, tmp_path):
    rows = [green_row(0, passenger_count=2.0, trip_type=2.0), green_row(1, passenger_count=1.5)]
    path = write_parquet(tmp_path / "green_tripdata_2024-01.parquet", rows, tlc_schema("green", 2024))
    first, second = _rows(spark, path)
    assert first["service"] == "green" and first["pickup_at"] == T(2024, 1, 10, 8)
    assert first["passenger_count"] == 2 and first["trip_type"] == 2 and first["rate_code_id"] == 1
    assert first["payment_type"] == 1 and first["ehail_fee"] is None and first["airport_fee"] is None
    assert second["passenger_count"] is None
    assert second["_unparseable"] == "passenger_count (passenger_count)"


def test_yellow_2025_with_cbd_congestion_fee(spark, tmp_path):
    path = write_parquet(
        tmp_path / "yellow_tripdata_2025-02.parquet",
        [yellow_row(0, tpep_pickup_datetime=T(2025, 2, 3, 9), cbd_congestion_fee=0.75)],
        tlc_schema("yellow", 2025),
    )
    [row] = _rows(spark, path)
    assert row["cbd_congestion_fee"] == Decimal("0.75")


def test_lower_case_airport_fee_of_2022(spark, tmp_path):
    schema = pa.schema([("airport_fee", f.type) if f.name == "Airport_fee" else f for f in tlc_schema("yellow", 2024)])
    row = yellow_row(0)
    row["airport_fee"] = row.pop("Airport_fee") + 1.25
    [out] = _rows(spark, write_parquet(tmp_path / "yellow_tripdata_2022-06.parquet", [row], schema))
    assert out["airport_fee"] == Decimal("1.25")


def test_all_null_column_and_double_counts(spark, tmp_path):
    fields = []
    for field in tlc_schema("yellow", 2024):
        if field.name == "Airport_fee":
            fields.append(pa.field("airport_fee", pa.null()))  # TLC 2022 months shipped an all-null column
        elif field.name in ("passenger_count", "RatecodeID", "payment_type"):
            fields.append(pa.field(field.name, pa.float64()))
        else:
            fields.append(field)
    rows = [yellow_row(0, passenger_count=3.0, RatecodeID=2.0, payment_type=2.0, Airport_fee=None)]
    [row] = _rows(spark, write_parquet(tmp_path / "yellow_tripdata_2022-07.parquet", rows, pa.schema(fields)))
    assert (row["passenger_count"], row["rate_code_id"], row["payment_type"]) == (3, 2, 2)
    assert row["airport_fee"] is None and row["_unparseable"] is None


def test_nanosecond_timestamps(spark, tmp_path):
    schema = pa.schema(
        [pa.field(f.name, pa.timestamp("ns")) if "datetime" in f.name else f for f in tlc_schema("yellow", 2024)]
    )
    [row] = _rows(spark, write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", [yellow_row(3)], schema))
    assert row["pickup_at"] == T(2024, 1, 10, 8, 3)


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
    return [
        "1",
        pickup,
        dropoff,
        passengers,
        distance,
        "1",
        "N",
        "43",
        "151",
        "2",
        "8",
        "0.5",
        "0.5",
        "0",
        "0",
        "0.3",
        "9.3",
    ]


def test_csv_crlf_upper_case_headers_and_formats(spark, tmp_path):
    rows = [
        _csv_row("2019-01-01 00:46:40", "2019-01-01 00:53:20"),
        _csv_row("01/02/2019 01:05:00 PM", "01/02/2019 01:15:00 PM", passengers="2.0"),
        _csv_row("2019-01-03 10:00:00", "2019-01-03 10:10:00", distance="abc"),
        ["1", "2019-01-04 10:00:00"],  # too few fields
    ]
    path = write_csv(tmp_path / "yellow_tripdata_2019-01.csv", CSV_HEADER, rows, newline="\r\n")
    out = _rows(spark, path)
    assert [r["source_row"] for r in out] == [1, 2, 3, 4]
    assert out[0]["pickup_at"] == T(2019, 1, 1, 0, 46, 40) and out[0]["trip_distance"] == 1.5
    assert out[0]["store_and_fwd_flag"] == "N" and out[0]["total_amount"] == Decimal("9.30")
    assert out[0]["congestion_surcharge"] is None and out[0]["_unparseable"] is None
    assert out[1]["pickup_at"] == T(2019, 1, 2, 13, 5) and out[1]["passenger_count"] == 2
    assert out[2]["trip_distance"] is None and out[2]["_unparseable"] == "trip_distance (TRIP_DISTANCE)"
    assert "wrong number of fields" in out[3]["_unparseable"]
    raw = json.loads(
        reader.read_raw(spark, reader.inspect_file(str(path))).select(reader.raw_record_column()).first()[0]
    )
    assert raw["TPEP_PICKUP_DATETIME"] == "2019-01-01 00:46:40" and raw["VENDORID"] == "1"


def test_csv_source_row_is_the_line_position_across_many_splits(spark, tmp_path):
    rows = [
        _csv_row(f"2019-01-{1 + i % 28:02d} 10:{i % 60:02d}:00", "2019-01-29 23:00:00", distance=f"{i}.25")
        for i in range(4000)
    ]
    path = write_csv(tmp_path / "yellow_tripdata_2019-01.csv", CSV_HEADER, rows, newline="\n")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "32k")
    spark.conf.set("spark.sql.files.openCostInBytes", "0")
    try:
        frame = reader.read_raw(spark, reader.inspect_file(str(path)))
        assert frame.rdd.getNumPartitions() > 5
        got = {r["source_row"]: r["trip_distance"] for r in frame.select("source_row", "trip_distance").collect()}
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
        spark.conf.unset("spark.sql.files.openCostInBytes")
    assert sorted(got) == list(range(1, 4001))
    assert all(got[n] == n - 1 + 0.25 for n in got)


def test_parquet_source_row_across_row_groups_is_stable(spark, tmp_path):
    rows = [yellow_row(i, trip_distance=float(i)) for i in range(3000)]
    path = write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", rows, row_group_size=500)
    spark.conf.set("spark.sql.files.maxPartitionBytes", "16k")
    try:
        runs = [{r["source_row"]: r["trip_distance"] for r in _frame(spark, path).collect()} for _ in range(2)]
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert runs[0] == runs[1]
    assert all(runs[0][n] == n - 1 for n in range(1, 3001))


def _frame(spark, path):
    return reader.read_raw(spark, reader.inspect_file(str(path))).select("source_row", "trip_distance")


def test_mapping_is_case_insensitive_and_fills_missing_optional_columns():
    mapping = map_columns(
        "x", "yellow", ["vendorid", "TPEP_PICKUP_DATETIME", "tpep_dropoff_datetime", "PULocationID", "DOLOCATIONID"]
    )
    assert mapping.source_for("pickup_at") == "TPEP_PICKUP_DATETIME"
    assert mapping.source_for("fare_amount") is None


def test_2009_layout_is_refused_naming_the_point_columns(tmp_path):
    header = [
        "vendor_name",
        "Trip_Pickup_DateTime",
        "Trip_Dropoff_DateTime",
        "Passenger_Count",
        "Trip_Distance",
        "Start_Lon",
        "Start_Lat",
        "Rate_Code",
        "store_and_forward",
        "End_Lon",
        "End_Lat",
        "Payment_Type",
        "Fare_Amt",
        "surcharge",
        "mta_tax",
        "Tip_Amt",
        "Tolls_Amt",
        "Total_Amt",
    ]
    path = write_csv(tmp_path / "yellow_tripdata_2009-01.csv", header, [["VTS"] + ["1"] * 17])
    with pytest.raises(BadFileError) as info:
        reader.inspect_file(str(path))
    message = str(info.value)
    assert message.startswith("yellow_tripdata_2009-01.csv: cannot map columns")
    assert "Start_Lon" in message and "PULocationID" in message and "\n" not in message


def test_2014_green_layout_with_lat_lon_is_refused(tmp_path):
    header = [
        "VendorID",
        "lpep_pickup_datetime",
        "Lpep_dropoff_datetime",
        "Store_and_fwd_flag",
        "RateCodeID",
        "Pickup_longitude",
        "Pickup_latitude",
        "Dropoff_longitude",
        "Dropoff_latitude",
        "Passenger_count",
        "Trip_distance",
        "Fare_amount",
        "Extra",
        "MTA_tax",
        "Tip_amount",
        "Tolls_amount",
        "Ehail_fee",
        "Total_amount",
        "Payment_type",
        "Trip_type",
    ]
    path = write_csv(tmp_path / "green_tripdata_2014-05.csv", header, [["2"] + ["1"] * 19])
    with pytest.raises(BadFileError, match="Pickup_longitude.*no PULocationID/DOLocationID"):
        reader.inspect_file(str(path))


@pytest.mark.parametrize(
    ("columns", "fragment"),
    [
        (
            ["VendorID", "tpep_pickup_datetime", "tpep_dropoff_datetime", "PULocationID", "DOLocationID", "surprise"],
            "unknown columns surprise",
        ),
        (
            ["VendorID", "tpep_pickup_datetime", "tpep_dropoff_datetime", "PULocationID"],
            "missing required columns dropoff_location_id",
        ),
        (
            [
                "VendorID",
                "tpep_pickup_datetime",
                "tpep_dropoff_datetime",
                "PULocationID",
                "DOLocationID",
                "airport_fee",
                "Airport_fee",
            ],
            "ambiguous columns airport_fee/Airport_fee",
        ),
        (
            ["VendorID", "lpep_pickup_datetime", "lpep_dropoff_datetime", "PULocationID", "DOLocationID"],
            "belong to the other service",
        ),
    ],
)
def test_unmappable_columns_are_named(columns, fragment):
    with pytest.raises(BadFileError, match=fragment):
        map_columns("yellow_tripdata_2024-01.parquet", "yellow", columns)


def test_wrong_columns_parquet_is_refused_before_spark(tmp_path):
    path = tmp_path / "yellow_tripdata_2024-01.parquet"
    write_parquet(path, [{"a": 1}], pa.schema([("a", pa.int64())]))
    with pytest.raises(BadFileError, match="yellow_tripdata_2024-01.parquet: cannot map columns: unknown columns a"):
        reader.inspect_file(str(path))


def test_green_file_classifies_trip_type(spark, tmp_path):
    rows = [green_row(0), green_row(1, trip_type=3.0)]
    path = write_parquet(tmp_path / "green_tripdata_2024-01.parquet", rows, tlc_schema("green", 2024))
    frame = rules.classify(reader.read_raw(spark, reader.inspect_file(str(path))), 2024, 1)
    codes = [r["reason_code"] for r in frame.orderBy("source_row").collect()]
    assert codes == [None, "unknown_code"]


def test_csv_with_blank_and_whitespace_lines_reconciles(spark, tmp_path):
    path = tmp_path / "yellow_tripdata_2019-01.csv"
    good = ",".join(_csv_row("2019-01-01 00:46:40", "2019-01-01 00:53:20"))
    other = ",".join(_csv_row("2019-01-02 00:46:40", "2019-01-02 00:53:20"))
    body = "\r\n".join([",".join(CSV_HEADER), "", good, "   ", "\t", other, "," * (len(CSV_HEADER) - 1), ""])
    path.write_text(body, encoding="utf-8")
    [result] = job.run_ingestion(spark, [str(path)], str(tmp_path / "lake"), str(tmp_path / "q"))
    assert (result["rows_read"], result["rows_accepted"]) == (3, 2)
    assert result["quarantined_by_reason"] == {"unparseable": 1}  # the all-empty row: no pickup time
