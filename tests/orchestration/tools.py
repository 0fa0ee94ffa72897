"""Where tools/setup_validators.sh puts the validators, and what a test does when one is missing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ASL_VALIDATOR = REPO_ROOT / ".local" / "tools" / "node_modules" / ".bin" / "asl-validator"
HADOLINT = REPO_ROOT / ".venv-validators" / "bin" / "hadolint"
CHECKOV = REPO_ROOT / ".venv-validators" / "bin" / "checkov"


def require(path: Path, what: str) -> Path:
    """The tool at `path`; under CI a missing tool fails the test, elsewhere it skips with the fix."""
    if path.is_file() and os.access(path, os.X_OK):
        return path
    missing(f"{what} not found at {path.relative_to(REPO_ROOT)}: run `bash tools/setup_validators.sh`")


def missing(message: str) -> NoReturn:
    """A test's tool or runtime is not here: under CI (CI=true) the test fails, elsewhere it skips."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(message)
    pytest.skip(message)
