"""The lake -> PostgreSQL load: one month swapped in one transaction, never doubled, never half-loaded."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import hashlib
import uuid
from pathlib import Path

import psycopg2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.contract import QUARANTINE_COLUMNS
from orchestration.local import embedded_postgres, load_postgres

DATABASE = "tlc_pytest_loader"


@pytest.fixture(scope="module")
def dsn():
    info = embedded_postgres.start(database="postgres")
    admin = psycopg2.connect(info.dsn("postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'drop database if exists "{DATABASE}" with (force)')
    admin.close()
    return embedded_postgres.start(database=DATABASE).dsn()


@pytest.fixture
def conn(dsn):
    connection = psycopg2.connect(dsn)
    yield connection
    connection.rollback()
    with connection.cursor() as cur:
        cur.execute("drop schema if exists raw cascade")
    connection.commit()
    connection.close()


def _rows(n: int, source_file: str, quarantine: bool = False) -> pa.Table:
    start = dt.datetime(2024, 1, 1, 8, 0)
    data = {
        "trip_key": [hashlib.md5(f"{source_file}-{i}".encode()).hexdigest() for i in range(n)],  # 32 hex digits
        "service": ["yellow"] * n,
        "vendor_id": pa.array([2] * n, pa.int32()),
        "pickup_at": pa.array([start + dt.timedelta(minutes=i) for i in range(n)], pa.timestamp("us", tz="UTC")),
        "dropoff_at": pa.array([start + dt.timedelta(minutes=i + 9) for i in range(n)], pa.timestamp("us", tz="UTC")),
        "passenger_count": pa.array([1] * n, pa.int32()),
        "trip_distance": [1.5] * n,
        "pickup_location_id": pa.array([161] * n, pa.int32()),
        "dropoff_location_id": pa.array([237] * n, pa.int32()),
        "payment_type": pa.array([1] * n, pa.int32()),
        "fare_amount": pa.array([decimal.Decimal("10.50")] * n, pa.decimal128(12, 2)),
        "total_amount": pa.array([decimal.Decimal("14.25")] * n, pa.decimal128(12, 2)),
        "source_file": [source_file] * n,
        "source_row": pa.array(range(1, n + 1), pa.int64()),
    }
    if quarantine:
        data["reason_code"] = ["dropoff_before_pickup"] * n
        data["reason"] = ['dropoff is before pickup, "quoted", with, commas'] * n
        data["raw_record"] = ['{"VendorID": 2, "note": "line\\nbreak"}'] * n
        data = {column.name: data[column.name] for column in QUARANTINE_COLUMNS if column.name in data}
    return pa.table(data)


def _write_month(
    root: Path, lake_rows: int, quarantine_rows: int, source_file: str, version: str
) -> load_postgres.MonthToLoad:
    """A month's data files (the lake's and the quarantine's, one each when it has rows) and the load
    the loader is asked to do: what the pinned lake would hand it."""
    files = {}
    for base, n, q in (("lake", lake_rows, False), ("quarantine", quarantine_rows, True)):
        part = root / base / version
        part.mkdir(parents=True, exist_ok=True)
        files[base] = [str(part / "00000.parquet")] if n else []
        if n:
            pq.write_table(_rows(n, source_file, q), files[base][0])
    return load_postgres.MonthToLoad(
        "yellow",
        2024,
        1,
        version,
        source_file,
        "0" * 64,
        lake_rows,
        quarantine_rows,
        files["lake"],
        files["quarantine"],
    )


def _counts(conn) -> tuple[int, int, int]:
    with conn.cursor() as cur:
        cur.execute(
            "select (select count(*) from raw.yellow_trips), (select count(*) from raw.quarantined_trips),"
            " (select coalesce(sum(row_count), 0) from raw.partition_loads)"
        )
        return cur.fetchone()


def test_reload_replaces_the_month_instead_of_doubling_it(conn, tmp_path):
    load_postgres.ensure_raw_schema(conn)
    first = load_postgres.load_partition(conn, _write_month(tmp_path, 50, 3, "f.parquet", "v1"))
    assert (first.rows_loaded, first.rows_quarantined, first.skipped) == (50, 3, False)
    assert _counts(conn) == (50, 3, 50)
    second = load_postgres.load_partition(conn, _write_month(tmp_path, 40, 5, "f.parquet", "v2"))
    assert (second.rows_loaded, second.rows_quarantined) == (40, 5)
    assert _counts(conn) == (40, 5, 40)


def test_same_lake_version_is_not_reloaded(conn, tmp_path):
    load_postgres.ensure_raw_schema(conn)
    manifest = _write_month(tmp_path, 10, 1, "f.parquet", "v1")
    load_postgres.load_partition(conn, manifest)
    again = load_postgres.load_partition(conn, manifest)
    assert again.skipped
    assert _counts(conn) == (10, 1, 10)


def test_timestamps_keep_the_wall_clock_time(conn, tmp_path):
    load_postgres.ensure_raw_schema(conn)
    load_postgres.load_partition(conn, _write_month(tmp_path, 2, 0, "f.parquet", "v1"))
    with conn.cursor() as cur:
        cur.execute("select min(pickup_at), max(dropoff_at) from raw.yellow_trips")
        assert cur.fetchone() == (dt.datetime(2024, 1, 1, 8, 0), dt.datetime(2024, 1, 1, 8, 10))


def test_a_failure_mid_load_leaves_the_previous_month_intact(conn, tmp_path, monkeypatch):
    load_postgres.ensure_raw_schema(conn)
    load_postgres.load_partition(conn, _write_month(tmp_path, 30, 2, "f.parquet", "v1"))
    real_copy = load_postgres._copy
    calls = []

    def copy_then_die(cur, table, columns, stream):
        calls.append(table)
        if len(calls) == 2:  # the accepted rows are in, the quarantine copy dies
            raise OSError("disk full (simulated)")
        return real_copy(cur, table, columns, stream)

    monkeypatch.setattr(load_postgres, "_copy", copy_then_die)
    with pytest.raises(OSError):
        load_postgres.load_partition(conn, _write_month(tmp_path, 99, 9, "f.parquet", "v2"))
    conn.rollback()
    assert _counts(conn) == (30, 2, 30)


def test_a_lake_that_disagrees_with_its_load_log_is_refused(conn, tmp_path):
    load_postgres.ensure_raw_schema(conn)
    manifest = dataclasses.replace(_write_month(tmp_path, 20, 0, "f.parquet", "v1"), rows_accepted=21)
    with pytest.raises(RuntimeError, match="load log says 21"):
        load_postgres.load_partition(conn, manifest)
    assert _counts(conn) == (0, 0, 0)


def _refusal_of_a_damaged_value(conn, tmp_path, column: str, row: int, damage) -> str:
    """Loads a month, then a reload whose lake file has `damage` done to one value of `column`: the
    refusal's message, after checking the month loaded before stays whole."""
    load_postgres.ensure_raw_schema(conn)
    load_postgres.load_partition(conn, _write_month(tmp_path, 30, 2, "f.parquet", "v1"))
    manifest = _write_month(tmp_path, 40, 0, "f.parquet", "v2")
    table = pq.read_table(manifest.lake_files[0])
    values = table.column(column).to_pylist()
    values[row] = damage(values[row])
    position = table.schema.get_field_index(column)
    pq.write_table(table.set_column(position, column, pa.array(values)), manifest.lake_files[0])
    with pytest.raises(RuntimeError) as refused:
        load_postgres.load_partition(conn, manifest)
    conn.rollback()
    assert _counts(conn) == (30, 2, 30)  # the month loaded before stays whole
    message = str(refused.value)
    assert "\n" not in message and message.startswith("f.parquet: "), message
    return message


def test_a_trip_key_that_is_not_32_hex_digits_is_refused_in_one_line_and_loads_nothing(conn, tmp_path):
    message = _refusal_of_a_damaged_value(conn, tmp_path, "trip_key", 17, lambda key: key[:31] + "g")  # not hex
    assert "trip_key" in message, message


def test_a_row_of_another_file_in_a_month_is_refused_and_loads_nothing(conn, tmp_path):
    message = _refusal_of_a_damaged_value(conn, tmp_path, "source_file", 23, lambda _: "g.parquet")
    assert "source_file is not 'f.parquet'" in message, message


def test_a_months_constants_are_stored_once_not_in_every_row(conn, tmp_path):
    load_postgres.ensure_raw_schema(conn)
    load_postgres.load_partition(conn, _write_month(tmp_path, 50, 2, "yellow_tripdata_2024-01.parquet", "v1"))
    with conn.cursor() as cur:
        cur.execute("select service, source_file, year, month, count(*) from raw.yellow_trips group by 1, 2, 3, 4")
        assert cur.fetchall() == [("yellow", "yellow_tripdata_2024-01.parquet", 2024, 1, 50)]
        # the catalog's "missing value" of a column added to a filled table: no row stores it
        cur.execute(
            "select attname from pg_attribute where attrelid = 'raw.yellow_trips_2024_01'::regclass"
            " and atthasmissing order by attnum"
        )
        assert [name for (name,) in cur.fetchall()] == list(load_postgres.MONTH_CONSTANTS)
        cur.execute("select count(*) from raw.yellow_trips where year = 2024 and month = 1 and service = 'yellow'")
        assert cur.fetchone()[0] == 50


def test_a_raw_layer_of_an_earlier_release_is_named_and_dropped_whole(conn, tmp_path):
    load_postgres.ensure_raw_schema(conn)
    load_postgres.load_partition(conn, _write_month(tmp_path, 30, 2, "f.parquet", "v1"))
    assert load_postgres.outdated_raw_columns(conn) is None
    with conn.cursor() as cur:  # what the release before uuid keys created
        cur.execute(
            "alter table raw.yellow_trips alter column trip_key type text using replace(trip_key::text, '-', '')"
        )
    conn.commit()
    assert load_postgres.outdated_raw_columns(conn) == "raw.yellow_trips: trip_key is text, now uuid"
    load_postgres.drop_raw_layer(conn)
    load_postgres.ensure_raw_schema(conn)
    assert load_postgres.outdated_raw_columns(conn) is None
    assert _counts(conn) == (0, 0, 0)


def test_hostile_file_names_are_data_not_sql(conn, tmp_path):
    load_postgres.ensure_raw_schema(conn)
    hostile = "yellow_tripdata_2024-01'; drop table raw.partition_loads;--.parquet"
    load_postgres.load_partition(conn, _write_month(tmp_path, 5, 1, hostile, "v1"))
    with conn.cursor() as cur:
        cur.execute("select source_file from raw.partition_loads")
        assert cur.fetchone()[0] == hostile
        # the month table's constant (a column default added to the filled table) is the name, as data
        cur.execute("select distinct source_file from raw.yellow_trips_2024_01")
        assert cur.fetchall() == [(hostile,)]


def test_rows_with_different_nulls_and_large_or_negative_amounts_arrive_exactly(conn, tmp_path):
    # Every value goes through the binary COPY encoder: rows of several NULL layouts, negative and 9-digit
    # amounts, timestamps before PostgreSQL's 2000-01-01 origin, text of several lengths (the quarantine's
    # too) must each arrive once, with their own values.
    n = 2_000
    table = _rows(n, "f.parquet")
    keys = [f"{i:032x}" for i in range(n)]  # of one length, like the ingest's trip_key
    passengers = [None if i % 7 == 0 else i % 5 for i in range(n)]
    vendors = [None if i % 23 == 0 else (i - 1_000) * 2_000_003 for i in range(n)]  # int32, both signs
    flags = [None if i % 11 == 0 else ("Y" if i % 2 else "N") for i in range(n)]
    fares = [None if i % 13 == 0 else decimal.Decimal(i * 7_919 - 5_000_000) / 100 for i in range(n)]
    tips = [decimal.Decimal(i % 3 - 1) * decimal.Decimal("123456789.99") for i in range(n)]
    origin = dt.datetime(1999, 12, 31, 23, 59, 59)
    pickups = [None if i % 17 == 0 else origin + dt.timedelta(seconds=i * 7_919, microseconds=i) for i in range(n)]
    distances = [None if i % 19 == 0 else (i - 1_000) / 8 for i in range(n)]

    def put(name: str, values: list, kind: pa.DataType) -> None:
        nonlocal table
        array = pa.array(values, kind)
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, array) if index >= 0 else table.append_column(name, array)

    put("trip_key", keys, pa.string())
    put("passenger_count", passengers, pa.int32())
    put("vendor_id", vendors, pa.int32())
    put("fare_amount", fares, pa.decimal128(12, 2))
    put("pickup_at", pickups, pa.timestamp("us", tz="UTC"))
    put("trip_distance", distances, pa.float64())
    put("store_and_fwd_flag", flags, pa.string())
    put("tip_amount", tips, pa.decimal128(12, 2))
    m = 300
    quarantine = _rows(m, "f.parquet", quarantine=True)
    reasons = ["" if i % 10 == 0 else 'é, "quoted"\n\t' * (i % 7) + str(i) for i in range(m)]
    raw = [None if i % 3 == 0 else '{"fare": -0.5, "zone": "Queens – JFK"}' * (i % 5) for i in range(m)]
    quarantine = quarantine.set_column(quarantine.schema.get_field_index("reason"), "reason", pa.array(reasons))
    quarantine = quarantine.set_column(
        quarantine.schema.get_field_index("raw_record"), "raw_record", pa.array(raw, pa.string())
    )
    manifest = _write_month(tmp_path, 1, 1, "f.parquet", "v1")
    for path, rows in ((manifest.lake_files[0], table), (manifest.quarantine_files[0], quarantine)):
        pq.write_table(rows, path, row_group_size=700)
    manifest = dataclasses.replace(manifest, rows_accepted=n, rows_quarantined=m)
    load_postgres.ensure_raw_schema(conn)
    load_postgres.load_partition(conn, manifest)
    with conn.cursor() as cur:
        cur.execute(
            "select source_row, passenger_count, vendor_id, store_and_fwd_flag, fare_amount, tip_amount, trip_key,"
            " pickup_at, trip_distance from raw.yellow_trips order by source_row"
        )
        got = cur.fetchall()
        cur.execute("select source_row, reason, raw_record from raw.quarantined_trips order by source_row")
        got_quarantine = cur.fetchall()
    expected = [
        # trip_key: the same 128 bits as a uuid (16 bytes a row instead of 33)
        (
            i + 1,
            passengers[i],
            vendors[i],
            flags[i],
            fares[i],
            tips[i],
            str(uuid.UUID(keys[i])),
            pickups[i],
            distances[i],
        )
        for i in range(n)
    ]
    assert got == expected
    assert got_quarantine == [(i + 1, reasons[i], raw[i]) for i in range(m)]


def test_raw_tables_have_exactly_the_contract_columns(conn):
    from ingestion.contract import DATASETS, LOAD_LOG_COLUMNS, PARTITION_COLUMNS, logical_type

    load_postgres.ensure_raw_schema(conn)
    with conn.cursor() as cur:
        cur.execute(
            "select table_name, array_agg(column_name::text order by ordinal_position),"
            " array_agg(data_type::text order by ordinal_position)"
            " from information_schema.columns where table_schema = 'raw' group by table_name"
        )
        tables = {name: list(zip(columns, types, strict=True)) for name, columns, types in cur.fetchall()}

    def expected(columns):
        # information_schema spells numeric(12,2) as numeric, timestamp as "timestamp without time zone"
        spell = {"numeric(12,2)": "numeric", "timestamp": "timestamp without time zone"}
        return [(c.name, spell.get(logical_type(c.type).postgres, logical_type(c.type).postgres)) for c in columns]

    for item in DATASETS:
        assert tables.pop(item.table) == expected((*item.columns, *PARTITION_COLUMNS))
    assert tables.pop("quarantined_trips") == expected((*QUARANTINE_COLUMNS, *PARTITION_COLUMNS))
    log = tables.pop("partition_loads")
    assert [name for name, _ in log] == [c.name for c in LOAD_LOG_COLUMNS] + ["lake_version"]
    assert tables == {}


def test_a_lake_column_outside_the_contract_stops_the_load_before_any_copy(conn, tmp_path):
    manifest = _write_month(tmp_path, 4, 0, "f.parquet", "v1")
    part = manifest.lake_files[0]
    table = pq.read_table(part)
    pq.write_table(table.append_column("surprise_fee", pa.array([1.0] * table.num_rows)), part)
    load_postgres.ensure_raw_schema(conn)
    with pytest.raises(RuntimeError, match="lake columns surprise_fee are not in the contract"):
        load_postgres.load_partition(conn, manifest)
    conn.rollback()
    assert _counts(conn) == (0, 0, 0)
