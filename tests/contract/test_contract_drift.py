"""Every committed copy of the lake contract equals what ingestion/contract/ renders, and a changed copy
is caught: the one test that keeps Terraform, dbt, the seeds and the docs in step with the job."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ingestion.contract import DATASETS, FILE_NAME, landing_key_patterns
from ingestion.contract.render import REPO_ROOT, artifacts, drift

ARTIFACT_PATHS = [artifact.path for artifact in artifacts()]


def test_every_copy_matches_the_contract():
    assert drift() == [], "run `python -m ingestion.contract` and commit the result"


def test_the_command_line_check_agrees():
    proc = subprocess.run(
        [sys.executable, "-m", "ingestion.contract", "--check"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def copy_of_artifacts(tmp_path) -> Path:
    for relative in ARTIFACT_PATHS:
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / relative, target)
    return tmp_path


def _change_one_line(text: str) -> str:
    """Drop a line from the middle: a column, a code or a table row goes missing."""
    lines = text.splitlines(keepends=True)
    middle = len(lines) // 2
    return "".join(lines[:middle] + lines[middle + 1 :])


@pytest.mark.parametrize("relative", ARTIFACT_PATHS)
def test_a_changed_copy_is_reported(copy_of_artifacts, relative):
    assert drift(copy_of_artifacts) == []
    path = copy_of_artifacts / relative
    path.write_text(_change_one_line(path.read_text()))
    assert drift(copy_of_artifacts) == [relative]


def test_a_doc_without_its_markers_is_reported(copy_of_artifacts):
    path = copy_of_artifacts / "docs/data_contracts.md"
    path.write_text(path.read_text().replace("<!-- contract:tables:end -->", ""))
    [stale] = drift(copy_of_artifacts)
    assert stale.startswith("docs/data_contracts.md (the file must contain the markers")


def test_terraform_declares_no_lake_table_the_job_creates_them_from_the_contract():
    """The lake's tables are Iceberg tables the job creates from the contract (ingestion/lake_tables.py):
    Terraform holds the database only, and names the tables from the generated JSON."""
    document = json.loads((REPO_ROOT / "infra/lake_contract.json").read_text())
    assert [t["name"] for t in document["lake_tables"]] == [
        *(d.table for d in DATASETS),
        "quarantined_trips",
        "partition_loads",
    ]
    terraform = "".join(p.read_text() for p in (REPO_ROOT / "infra").rglob("*.tf"))
    assert "aws_glue_catalog_table" not in terraform and "aws_glue_partition" not in terraform


def test_key_patterns_cover_exactly_the_file_names_the_job_accepts():
    from fnmatch import fnmatchcase

    patterns = landing_key_patterns()
    for d in DATASETS:
        for fmt in ("parquet", "csv", "csv.gz"):
            name = f"{d.service}_tripdata_2024-01.{fmt}"
            assert FILE_NAME.match(name)
            assert sum(fnmatchcase(name, pattern) for pattern in patterns) == 1, name
    for name in ("fhvhv_tripdata_2024-01.zip", "taxi_zone_lookup.csv", "yellow_tripdata_2024.parquet"):
        assert not FILE_NAME.match(name)


@pytest.mark.parametrize(
    ("model", "column", "table"),
    [
        ("dim_vendor", "vendor_id", "VENDORS"),
        ("dim_payment_type", "payment_type_id", "PAYMENT_TYPES"),
        ("dim_rate_code", "rate_code_id", "RATE_CODES"),
        ("dim_trip_type", "trip_type_id", "TRIP_TYPES"),
    ],
)
def test_code_dimensions_accept_exactly_the_contract_codes_and_the_unknown_member(model, column, table):
    import yaml

    from ingestion.contract import codes

    document = yaml.safe_load((REPO_ROOT / f"dbt_project/models/marts/core/{model}.yml").read_text())
    [spec] = [c for c in document["models"][0]["columns"] if c["name"] == column]
    [accepted] = [t["accepted_values"]["arguments"]["values"] for t in spec["data_tests"] if "accepted_values" in t]
    assert accepted == [*getattr(codes, table).values, -1]


def test_receipts_are_json_lines_holding_every_column_of_the_load_log(tmp_path):
    """A receipt is one JSON document on one line (Arrow's newline-delimited JSON reader reads them all),
    and every column of the load log comes from one of its keys (ingestion/lake_commit.py appends them)."""
    import pyarrow.json as pajson

    from ingestion import manifest
    from ingestion.contract import LOAD_LOG_COLUMNS, LOAD_LOG_LAKE_COLUMNS, MANIFEST_KEYS
    from ingestion.raw_files import parse_raw_file

    for index, name in enumerate(["yellow_tripdata_2024-01.parquet", "fhvhv_tripdata_2024-02.csv.gz"]):
        record = manifest.build_manifest(
            parse_raw_file(f"/landing/{name}"), f"{index:064x}", 10, 9, 1, {"unparseable": 1}, {"vendor_id=4": 2}
        )
        manifest.write_manifest(str(tmp_path), record)
    files = sorted((tmp_path / "_manifests").glob("*.json"))
    assert all(len(f.read_text().splitlines()) == 1 for f in files)
    table = pajson.read_json(io.BytesIO(b"".join(f.read_bytes() for f in files)))
    assert table.num_rows == 2 and table.schema.names == list(MANIFEST_KEYS)
    for column in (*LOAD_LOG_COLUMNS, *LOAD_LOG_LAKE_COLUMNS):
        assert column.manifest_key in table.schema.names, column.name
    assert table.column("rows_accepted").to_pylist() == [9, 9]


def test_the_load_log_accepts_every_dataset_the_loader_logs():
    """raw.partition_loads holds a row per loaded partition of every dataset, for-hire ones included."""
    import yaml

    from ingestion.contract import SERVICES

    path = REPO_ROOT / "dbt_project/models/staging/tlc/stg_tlc__partition_loads.yml"
    [spec] = [c for c in yaml.safe_load(path.read_text())["models"][0]["columns"] if c["name"] == "service"]
    [accepted] = [t["accepted_values"]["arguments"]["values"] for t in spec["data_tests"] if "accepted_values" in t]
    assert accepted == list(SERVICES)
