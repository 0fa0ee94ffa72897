"""trip_key and the amount cast, read back from what `ingest_file` wrote: amounts equal their plain
decimal definition for every value, and trip_key is pinned, separates nulls, and does not depend on the
file's format or batch size."""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal

import pyarrow as pa
from tlc_samples import FHV_SCHEMA, csv_bytes, fhv_row, ingest, write_parquet, yellow_row

from ingestion import raw_batches
from ingestion.synthetic import tlc_schema

# Ties, binary fractions, values with 3+ decimals, the edges of decimal(12,2), and non-finite ones.
TRICKY = [
    0.0, -0.0, 0.01, -0.01, 0.1 + 0.2, 2.675, 1.005, -1.005, 0.125, -0.125, 0.005, -0.005, 0.015, 14.2,
    21.2, 1e-9, 123456.789, 9999999999.99, -9999999999.99, 9999999999.994, 9999999999.995, 1e10, -1e10,
    1e12, 1e15, 1e300, 5e-324, math.nan, math.inf, -math.inf, None,
]  # fmt: skip
AMOUNT_LIMIT = Decimal("9999999999.99")  # decimal(12,2)


def plain_amount(value: float | None) -> Decimal | None:
    """The definition: the double's shortest decimal text, rounded half-up to cents (what
    `cast(x as decimal(12,2))` gives in Spark); None when absent, not finite or beyond decimal(12,2)."""
    if value is None or not math.isfinite(value):
        return None
    if abs(value) >= 1e11:
        return None
    cents = Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return cents if abs(cents) <= AMOUNT_LIMIT else None


def test_double_to_amount_equals_the_plain_decimal_cast(tmp_path):
    values = [*TRICKY, *(i / 100 for i in range(-1000, 1000)), *(i / 1000 for i in range(-3000, 3000, 7))]
    # payment_type 4 (dispute): a negative fare is a reversal there, so every row is judged on its fare only
    rows = [yellow_row(i, fare_amount=v, total_amount=1.0, payment_type=4) for i, v in enumerate(values)]
    done = ingest(write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", rows), tmp_path)
    accepted = done.accepted()
    fares = dict(zip(accepted["source_row"].to_pylist(), accepted["fare_amount"].to_pylist(), strict=True))
    unreadable = {r["source_row"] for r in done.quarantined().to_pylist() if r["reason_code"] == "unparseable"}
    assert set(done.reasons().values()) <= {"unparseable"}
    mismatches = []
    for row, value in enumerate(values, start=1):
        expected = plain_amount(value)
        if value is not None and expected is None:  # present but not an amount: the row is unreadable
            ok = row in unreadable
        else:
            ok = fares.get(row, "missing") == expected
        if not ok:
            mismatches.append((value, expected, fares.get(row, "quarantined")))
    assert mismatches == []
    assert len(unreadable) == 9  # 9999999999.995 (rounds to 10^10), five beyond the limit, NaN, +inf, -inf


def test_amounts_from_text_and_decimal_columns(tmp_path):
    header = ["VendorID", "tpep_pickup_datetime", "tpep_dropoff_datetime", "PULocationID", "DOLocationID",
              "payment_type", "fare_amount", "total_amount"]  # fmt: skip
    texts = ["14.2", " 2.675 ", "1e3", "-0", ".5", "5.", "+3.10", "1,5", "twelve", ""]
    rows = [
        [1, f"2024-01-10 08:{i:02d}:00", f"2024-01-10 08:{i + 1:02d}:00", 161, 236, 4, text, "1"]
        for i, text in enumerate(texts)
    ]
    (tmp_path / "yellow_tripdata_2024-01.csv").write_bytes(csv_bytes(header, rows))
    done = ingest(tmp_path / "yellow_tripdata_2024-01.csv", tmp_path / "csv")
    fares = done.accepted()["fare_amount"].to_pylist()
    assert fares == [Decimal(v) for v in ("14.20", "2.68", "1000.00", "0.00", "0.50", "5.00", "3.10")] + [None]
    assert done.reasons() == {8: "unparseable", 9: "unparseable"}  # unquoted, '1,5' is two fields: a row too wide

    schema = pa.schema(
        [
            f if f.name != "fare_amount" else pa.field("fare_amount", pa.decimal128(14, 3))
            for f in tlc_schema("yellow", 2024)
        ]
    )
    decimals = ["2.675", "-2.675", "0.004", "-9999999999.994", "99999999999.999", "9999999999.995", "-9999999999.995"]
    rows = [yellow_row(i, fare_amount=Decimal(d), payment_type=4) for i, d in enumerate(decimals)]
    (tmp_path / "dec").mkdir()
    done = ingest(write_parquet(tmp_path / "dec" / "yellow_tripdata_2024-01.parquet", rows, schema), tmp_path / "dec")
    fares = [Decimal("2.68"), Decimal("-2.68"), Decimal("0.00"), Decimal("-9999999999.99")]
    assert done.accepted()["fare_amount"].to_pylist() == fares
    assert done.reasons() == {5: "unparseable", 6: "unparseable", 7: "unparseable"}  # beyond decimal(12,2)


PINNED_KEY = "7e448e6cce5bfd0db772ae6547597b9b"  # pragma: allowlist secret (a pinned hash, not a secret)


def _keys(done) -> dict[int, str]:
    """source_row -> trip_key of every row, accepted or quarantined."""
    rows = done.accepted().to_pylist() + done.quarantined().to_pylist()
    return {row["source_row"]: row["trip_key"] for row in rows}


def test_trip_key_is_pinned_and_separates_nulls(tmp_path):
    rows = [
        yellow_row(0),
        yellow_row(0),  # the same trip: the same key (quarantined as its duplicate)
        yellow_row(0, extra=None, tolls_amount=0.0),  # (null, 0) vs (0, null) must differ
        yellow_row(0, extra=0.0, tolls_amount=None),
        yellow_row(0, fare_amount=14.21),
        yellow_row(1),
        yellow_row(0, fare_amount=14.2000001),  # the same cents: the same trip
    ]
    done = ingest(write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", rows), tmp_path)
    keys = _keys(done)
    assert all(len(k) == 32 and k == k.lower() and int(k, 16) >= 0 for k in keys.values())
    assert keys[1] == keys[2] == keys[7]
    assert done.reasons() == {2: "duplicate_row", 7: "duplicate_row"}
    assert len({keys[n] for n in (1, 3, 4, 5, 6)}) == 5
    # Pinned: trip_key must not change between releases (dbt's trip_id, the lake's uniqueness).
    assert keys[1] == PINNED_KEY


def test_trip_key_does_not_depend_on_format_or_batch_size(tmp_path, monkeypatch):
    rows = [yellow_row(i, trip_distance=i / 10, passenger_count=i % 4 or None) for i in range(600)]
    parquet = ingest(write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", rows), tmp_path / "parquet")
    header = list(tlc_schema("yellow", 2024).names)
    text_rows = [
        [r[name].strftime("%Y-%m-%d %H:%M:%S") if isinstance(r[name], dt.datetime) else r[name] for name in header]
        for r in rows
    ]
    (tmp_path / "yellow_tripdata_2024-01.csv").write_bytes(csv_bytes(header, text_rows))
    monkeypatch.setattr(raw_batches, "CSV_BLOCK_BYTES", 8 << 10)  # several batches
    csv = ingest(tmp_path / "yellow_tripdata_2024-01.csv", tmp_path / "csv")
    monkeypatch.setattr(raw_batches, "PARQUET_BATCH_ROWS", 7)
    small = ingest(write_parquet(tmp_path / "yellow_tripdata_2024-01.parquet", rows), tmp_path / "small")
    assert parquet.manifest["rows_accepted"] == 600
    assert _keys(parquet) == _keys(csv) == _keys(small)


def test_identical_fhv_rows_get_distinct_keys_from_their_position(tmp_path, monkeypatch):
    path = write_parquet(tmp_path / "fhv_tripdata_2024-01.parquet", [fhv_row(0)] * 5, FHV_SCHEMA)
    done = ingest(path, tmp_path / "one_batch")
    keys = done.accepted()["trip_key"].to_pylist()
    assert done.manifest["rows_accepted"] == 5 and len(set(keys)) == 5
    monkeypatch.setattr(raw_batches, "PARQUET_BATCH_ROWS", 2)
    assert ingest(path, tmp_path / "three_batches").accepted()["trip_key"].to_pylist() == keys
