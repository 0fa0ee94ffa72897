"""tools/setup_validators.sh: idempotent, quiet, one line per tool, no prompts."""

from __future__ import annotations

import subprocess

from tests.orchestration.tools import REPO_ROOT


def test_setup_prints_one_line_per_tool_and_is_fast_when_installed() -> None:
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "tools" / "setup_validators.sh")],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["checkov", "hadolint", "asl-validator"], result.stdout
    # A second run finds everything in place and installs nothing.
    again = subprocess.run(
        ["bash", str(REPO_ROOT / "tools" / "setup_validators.sh")],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        cwd=REPO_ROOT,
    )
    installed = [line for line in lines if "NOT installed" not in line]
    assert all(
        "already installed" in line for line in again.stdout.splitlines() if line in installed or "NOT" not in line
    )
