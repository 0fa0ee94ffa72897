"""The synthetic sample `make run` ingests when no SOURCE is given: a small month of every dataset."""

from __future__ import annotations

import json

from ingestion.contract import SERVICES
from orchestration.local.run_pipeline import ensure_sample, parse_args


def test_default_sample_holds_every_dataset(tmp_path):
    config = parse_args(["--work-dir", str(tmp_path)])
    files = config.sample_files()
    assert [f for f in files if f[0] == "yellow"] == [
        ("yellow", 2024, month, 100_000) for month in (1, 2, 3)
    ]  # yellow as before
    others = [f for f in files if f[0] != "yellow"]
    assert {service for service, *_ in others} == set(SERVICES) - {"yellow"}
    assert all((year, month) == (2024, 1) and 20_000 <= rows <= 50_000 for _, year, month, rows in others)


def test_sample_files_are_generated_once_with_their_expectations(tmp_path):
    args = ["--work-dir", str(tmp_path), "--months", "2024-05,2024-06", "--rows", "500", "--other-rows", "300"]
    config = parse_args(args)
    paths = ensure_sample(config)
    names = sorted(path.name for path in paths)
    assert names == sorted(
        ["yellow_tripdata_2024-05.parquet", "yellow_tripdata_2024-06.parquet"]
        + [f"{service}_tripdata_2024-05.parquet" for service in ("green", "fhv", "fhvhv")]
    )
    for path in paths:
        expected = json.loads(path.with_name(path.name + ".expected.json").read_text())
        assert expected["rows"] == (500 if path.name.startswith("yellow") else 300)
    before = {path.name: path.stat().st_mtime_ns for path in paths}
    assert {path.name: path.stat().st_mtime_ns for path in ensure_sample(config)} == before  # reused

    yellow_only = parse_args(["--work-dir", str(tmp_path / "y"), "--rows", "200", "--other-rows", "0"])
    assert {service for service, *_ in yellow_only.sample_files()} == {"yellow"}
