"""How `make test` spreads the suite over two pytest-xdist workers (`--dist loadgroup`).

A module's tests stay together on one worker (its module-scoped fixtures run once), and modules that
share a session's state share a group: tests/dbt (the one `tlc_pytest_dbt` database and its session
builds) and tests/infra (the deploy rehearsal on moto, and the podman images). Without xdist (a plain
`pytest`), the groups change nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# Folders whose modules share session state: each is one group, run by one worker.
SHARED_FOLDERS = ("dbt", "infra")


def xdist_group(path: Path) -> str:
    """The group of a test module: its folder when that folder shares state, else the module itself."""
    relative = path.resolve().relative_to(Path(__file__).resolve().parent)
    return relative.parts[0] if relative.parts[0] in SHARED_FOLDERS else relative.as_posix()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.xdist_group(xdist_group(item.path)))
