"""Hostile files in one ingestion (issue 20, RELIABILITY.md section 8b): record boundaries come from a real
CSV parser, a file with no revenue column says so, and a month delivered under another name has one
source. Each runs the ingestion core in this process (no Spark), on files written here.
"""

from __future__ import annotations

import csv
import io

import pytest
from tlc_samples import ingest

from ingestion import job, lake_tables, raw_batches, raw_files, synthetic

HEADER = ["VendorID", "tpep_pickup_datetime", "tpep_dropoff_datetime", "passenger_count", "trip_distance",
          "RatecodeID", "store_and_fwd_flag", "PULocationID", "DOLocationID", "payment_type", "fare_amount",
          "extra", "mta_tax", "tip_amount", "tolls_amount", "improvement_surcharge", "total_amount"]  # fmt: skip
RECORDS = 10_000


def _row(n: int) -> list[str]:
    """Record n (1-based): its trip_distance is n / 100, so every row tells where it came from."""
    day, minute = 1 + n % 28, n % 60
    return ["1", f"2019-01-{day:02d} 10:{minute:02d}:00", f"2019-01-{day:02d} 11:00:00", "1", f"{n / 100:.2f}",
            "1", "N", "43", "151", "2", "8", "0.5", "0.5", "0", "0", "0.3", "9.3"]  # fmt: skip


def _write(path, header, rows) -> None:
    text = io.StringIO(newline="")
    csv.writer(text, lineterminator="\r\n").writerows([header, *rows])
    path.write_text(text.getvalue(), newline="")


@pytest.mark.parametrize("short", [None, 8_000], ids=["arrow_parser", "after_a_short_line"])
def test_a_quoted_newline_stays_inside_its_record_whatever_reads_the_file(tmp_path, monkeypatch, short):
    """10,000 records, record 3,000's flag a quoted "N<newline>N" and (second case) record 8,000 cut short:
    the file reads 10,000 rows, the record with the newline is one row (kept, its flag an unknown code),
    and every row's source_row is its record's position (trip_distance = source_row / 100). Blocks are
    small here so the reader's block boundaries fall all over the file."""
    rows = [_row(n) for n in range(1, RECORDS + 1)]
    rows[3_000 - 1][6] = "N\nN"
    if short:
        rows[short - 1] = rows[short - 1][:5]
    path = tmp_path / "yellow_tripdata_2019-01.csv"
    _write(path, HEADER, rows)
    monkeypatch.setattr(raw_batches, "CSV_BLOCK_BYTES", 16 << 10)
    done = ingest(path, tmp_path)
    assert done.manifest["rows_read"] == RECORDS
    assert done.reasons() == ({short: "unparseable"} if short else {})
    accepted = done.accepted()
    positions = accepted["source_row"].to_pylist()
    assert positions == [n for n in range(1, RECORDS + 1) if n != short]
    assert all(round(d * 100) == n for n, d in zip(positions, accepted["trip_distance"].to_pylist(), strict=True))
    [flag] = [f for n, f in zip(positions, accepted["store_and_fwd_flag"].to_pylist(), strict=True) if n == 3_000]
    assert flag == "N\nN"
    if short:
        assert done.quarantined_row(short)["raw_record"]["_line"] == ",".join(rows[short - 1])


def test_the_record_by_record_reader_counts_records_not_lines(tmp_path):
    """The fallback reader itself (what a file with rows of another width is read with)."""
    rows = [_row(n) for n in range(1, 11)]
    rows[2][6] = "N\r\nN"
    rows[6] = rows[6][:3]
    path = tmp_path / "yellow_tripdata_2019-01.csv"
    _write(path, HEADER, rows)
    inspection = raw_files.inspect_file(str(path))
    batches = list(raw_batches.read_batches(inspection, by_line=True))
    assert [int(n) for b in batches for n in b.source_row] == list(range(1, 11))
    assert [v for b in batches for v in b.columns["store_and_fwd_flag"].to_pylist()][2] == "N\r\nN"


def test_a_file_with_no_revenue_column_loads_with_a_warning_the_run_shows(tmp_path):
    """A yellow file without fare, tips or total loads its trips (the contract requires none of them),
    but its month's revenue is NULL: the result carries a warning naming the missing columns, and the
    line the run prints for the file shows it. A file of a dataset without revenue (fhv) gets none."""
    amounts = [name for name in HEADER if name.endswith(("amount", "extra", "mta_tax", "surcharge"))]
    keep = [i for i, name in enumerate(HEADER) if name not in amounts]
    path = tmp_path / "yellow_tripdata_2019-01.csv"
    _write(path, [HEADER[i] for i in keep], [[_row(n)[i] for i in keep] for n in range(1, 51)])
    done = ingest(path, tmp_path)
    assert done.manifest["rows_accepted"] == 50
    assert set(done.accepted()["total_amount"].to_pylist()) == {None}
    [note] = done.result.notes
    assert note.startswith("WARNING: no revenue column") and "total_amount" in note and "fare_amount" in note
    assert note in job.describe(done.result)

    synthetic.generate_month(tmp_path / "fhv", "fhv", 2024, 1, rows=50, seed=1)
    fhv = ingest(tmp_path / "fhv" / "fhv_tripdata_2024-01.parquet", tmp_path / "fhv_out")
    assert fhv.result.status == "ingested" and fhv.result.notes == []


def test_the_same_rows_under_another_name_become_the_months_one_source(tmp_path):
    """January as Parquet, then the same trips as CSV: the CSV replaces the month (the result says which
    delivery it replaced), the load log's row for the month names the CSV, and the CSV given again is
    unchanged (skipped), not loaded again."""
    raw = tmp_path / "raw"
    for fmt in ("parquet", "csv"):
        synthetic.generate_month(raw, "yellow", 2024, 1, rows=200, seed=3, fmt=fmt)
    first = ingest(raw / "yellow_tripdata_2024-01.parquet", tmp_path)
    second = ingest(raw / "yellow_tripdata_2024-01.csv", tmp_path)
    assert sorted(second.accepted()["trip_key"].to_pylist()) == sorted(first.accepted()["trip_key"].to_pylist())
    assert [n for n in second.result.notes if "replaces yellow_tripdata_2024-01.parquet" in n]
    assert "replaces yellow_tripdata_2024-01.parquet" in job.describe(second.result)

    roots = lake_tables.LakeRoots(str(tmp_path / "lake"), str(tmp_path / "quarantine"))
    pinned = lake_tables.PinnedLake.pin(lake_tables.open_catalog(roots), roots)
    [(_, entry)] = pinned.described_months().values()
    assert entry["source_file"] == "yellow_tripdata_2024-01.csv"

    again = ingest(raw / "yellow_tripdata_2024-01.csv", tmp_path)
    assert again.result.status == "skipped" and again.result.notes == []
