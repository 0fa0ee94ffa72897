"""`make` refuses to start without what Spark needs, with a message that says what to install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _make_prereqs(path_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "PYTHON_BOOT")}
    env["PATH"] = str(path_dir)
    return subprocess.run(
        [shutil.which("make"), "-s", "prereqs"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_missing_java_is_a_clear_error(tmp_path):
    (tmp_path / "python3.11").symlink_to(sys.executable)  # a Python 3.11, and no java anywhere on PATH
    result = _make_prereqs(tmp_path)
    assert result.returncode != 0
    assert "java not found" in result.stderr
    assert "Java 17" in result.stderr


def test_prereqs_pass_with_python_and_java(tmp_path):
    java = shutil.which("java") or os.path.join(os.environ.get("JAVA_HOME", "/nonexistent"), "bin", "java")
    (tmp_path / "python3.11").symlink_to(sys.executable)
    (tmp_path / "java").symlink_to(java)
    result = _make_prereqs(tmp_path)
    assert result.returncode == 0, result.stderr
