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
