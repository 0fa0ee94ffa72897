"""`make bench` runs at its smallest scale and reports every section. Timings are never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_bench_runs_at_the_smallest_scale_and_reports_every_section(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    charts = tmp_path / "charts"
    cmd = [
        sys.executable, str(REPO_ROOT / "tests" / "bench" / "run_bench.py"),
        "--scale", "5000", "--dbt-rows", "2000", "--reps", "1", "--history", "1,2", "--year-months", "1",
        "--out", str(out), "--chart-dir", str(charts), "--work-dir", str(tmp_path / "work"),
        "--database", "tlc_pytest_bench",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    text = out.read_text()
    for heading in ("## SCALE=5,000 rows per month", "### Summary", "### Targets (issue 15)", "### Ingest",
                    "### Load", "### dbt", "### Many files", "### HVFHV", "#### HVFHV load",
                    "#### HVFHV dbt: `fact_fhv_trips`", "### Zone assignment", "### A year (issue 21)",
                    "### First impression",
                    "### Peak memory", "### Environment"):  # fmt: skip
        assert heading in text, heading
    for measure in ("Ingest 5,000 rows, cold (JVM start + job)", "Load 5,000 rows", "dbt +1 month",
                    "dbt full refresh vs +1 month", "Spark session start (JVM)", "raw COPY (binary)",
                    "Many files: 36 files of 10,000 rows, job without session start",
                    "HVFHV ingest 33,333 rows, cold (JVM start + job)", "peak memory of the job",
                    "HVFHV load 33,333 rows", "dbt fact_fhv_trips +1 month"):  # fmt: skip
        assert measure in text, measure
    # every ingest series (yellow month, many files, HVFHV month) counted exactly what the generator planted
    assert text.count("identical to the generator's expectation in every run: **yes**") == 3
    assert "`make run` on a fresh clone: skipped at SCALE=5,000" in text  # with the reason
    assert (charts / "bench-5000.png").stat().st_size > 10_000
    results = json.loads((charts / "results-5000.json").read_text())
    assert set(results) >= {"ingest", "load", "dbt", "many_files", "hvfhv", "zones", "year", "first_run", "environment"}
    # a year: a first build and +1 month, every stage timed, and the warehouse's footprint after it
    year = results["year"]["runs"]["1"]
    assert set(year["plus_one"]["stages"]) == set(year["first"]["stages"]) >= {"Transform", "NotifySuccess"}
    assert year["footprint"]["trips"] > 0 and year["footprint"]["fact_trips_rows"] == year["footprint"]["trips"]
    assert "| Transform, +1 month on 1 / on 1 |" in text
    assert results["dbt"]["fact_months"] == 3
    assert results["hvfhv"]["dbt"]["fact_months"] == 4
    assert results["many_files"]["files"] == 36
    assert results["zones"]["points"] == 5000
    # the repository's own BENCHMARKS.md is not touched by the smoke run
    assert str(out) != str(REPO_ROOT / "BENCHMARKS.md")
