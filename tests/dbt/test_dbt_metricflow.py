"""MetricFlow accepts the semantic layer: its semantic validations, and its warehouse validations,
which query every metric, dimension and entity on the built warehouse."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dbt.conftest import PROJECT_DIR, dbt_executable


def _mf(dbt, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    mf = Path(sys.executable).with_name("mf")
    if not mf.exists():
        pytest.fail("mf (dbt-metricflow) is not installed in .venv: run make setup")
    # mf always reads <project>/target/semantic_manifest.json: work on a copy of the project so this test
    # never reads (or writes) the artifacts of another build.
    project = tmp_path / "dbt_project"
    env = {**dbt.env, "DBT_PROFILES_DIR": str(dbt.profiles_dir)}
    if not project.exists():
        shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
        parse = subprocess.run(
            [dbt_executable(), "parse", "--project-dir", str(project)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert parse.returncode == 0, parse.stdout[-3000:]
    return subprocess.run([str(mf), *args], cwd=project, env=env, capture_output=True, text=True, timeout=600)


def test_metricflow_validates_semantics_and_queries_the_warehouse(built_warehouse, dbt, tmp_path):
    assert built_warehouse.returncode == 0, built_warehouse.output[-2000:]
    result = _mf(dbt, tmp_path, "validate-configs")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Successfully validated the semantics" in output
    assert "Successfully validated metrics against data warehouse" in output
    assert "• ERROR" not in output, output[-3000:]


def test_metricflow_answers_a_metric_query(built_warehouse, dbt, tmp_path):
    result = _mf(dbt, tmp_path, "query", "--metrics", "trips", "--group-by", "metric_time__month")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "2024-01-01" in output, output[-3000:]  # the fixture's first month comes back as a row


def test_metricflow_answers_trips_and_revenue_by_service(built_warehouse, dbt, sql, tmp_path):
    """The cross-service metrics, grouped by service, are the facts' own counts and revenues: yellow and
    green from fact_trips, fhv and fhvhv from fact_fhv_trips (fhv without revenue)."""
    metrics = ("--metrics", "service_trips,service_revenue", "--group-by", "zone_month_service__service")
    result = _mf(dbt, tmp_path, "query", *metrics)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    answered = {}
    for line in output.splitlines():
        parts = line.split()
        if parts and parts[0] in ("yellow", "green", "fhv", "fhvhv"):
            answered[parts[0]] = (int(parts[1]), float(parts[2]) if len(parts) > 2 else None)
    facts = sql(
        """
        select service, count(*), sum(total_amount) from analytics.fact_trips group by 1
        union all
        select service, count(*), sum(passenger_total_amount) from analytics.fact_fhv_trips group by 1
        """
    )
    # mf prints 6 significant digits
    expected = {s: (n, None if revenue is None else pytest.approx(float(revenue), rel=1e-5)) for s, n, revenue in facts}
    assert set(expected) == {"yellow", "green", "fhv", "fhvhv"}
    assert answered == expected, output[-3000:]
