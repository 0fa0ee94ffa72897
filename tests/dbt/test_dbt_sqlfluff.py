"""The models lint clean with the project's .sqlfluff (dbt templater, Postgres dialect)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"


def test_models_lint_clean(built_warehouse, dbt, tmp_path):
    # the project config points the dbt templater at ../.local/dbt; aim it at this session's profile
    override = tmp_path / "sqlfluff.cfg"
    override.write_text(f"[sqlfluff:templater:dbt]\nprofiles_dir = {dbt.profiles_dir}\n")
    sqlfluff = Path(sys.executable).with_name("sqlfluff")
    proc = subprocess.run(
        # one process per core: the dbt templater compiles each model, ~1.7x faster on 2 cores
        [str(sqlfluff), "lint", "models", "--config", str(override), "--disable-progress-bar", "--processes", "0"],
        cwd=PROJECT_DIR,
        env={**dbt.env, "DBT_SCHEMA": "analytics", "DBT_TARGET_PATH": str(tmp_path / "target")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
