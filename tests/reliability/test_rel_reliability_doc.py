"""RELIABILITY.md and the tests say the same thing: every test it names exists, every reliability test
is named there, and the figures it quotes are the suite's."""

from __future__ import annotations

import ast
import re

from tests.reliability import harness

REPO_ROOT = harness.REPO_ROOT
DOC = (REPO_ROOT / "RELIABILITY.md").read_text()
REFERENCE = re.compile(r"(tests/[\w/]+\.py)::(\w+)")


def _test_functions(path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_test_named_here_exists():
    named = REFERENCE.findall(DOC)
    assert len(named) > 40
    missing = [f"{path}::{name}" for path, name in named if name not in _test_functions(REPO_ROOT / path)]
    assert missing == []


def test_every_reliability_test_is_named_here():
    named = set(REFERENCE.findall(DOC))
    unnamed = [
        f"{path.relative_to(REPO_ROOT)}::{name}"
        for path in sorted((REPO_ROOT / "tests" / "reliability").glob("test_*.py"))
        for name in sorted(_test_functions(path))
        if (str(path.relative_to(REPO_ROOT)), name) not in named
    ]
    assert unnamed == []


def test_the_figures_and_files_quoted_are_the_suites():
    assert f"{len(harness.MONTHS)} x {harness.ROWS:,} rows" in DOC
    assert f"months of {harness.ROWS:,} rows" in DOC
    for path in re.findall(r"`((?:orchestration|ingestion|tests)/[\w/.]+\.(?:py|sql|md))`", DOC):
        assert (REPO_ROOT / path).exists(), path
