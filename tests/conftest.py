"""How `make test` spreads the suite over pytest-xdist workers (`-n 2`).

A module's tests stay together on one worker (its module-scoped fixtures run once), and modules that
share a session's state are one group: tests/dbt (the one `tlc_pytest_dbt` database and its session
builds) and tests/infra (the deploy rehearsal on moto, and the podman images). Without xdist (a plain
`pytest`), nothing here applies.
"""

from __future__ import annotations

# Folders whose modules share session state: each is one group, run by one worker.
SHARED_FOLDERS = ("dbt", "infra")


def xdist_group(nodeid: str) -> str:
    """The group of a test: its folder when that folder shares state, else its module."""
    module = nodeid.split("::", 1)[0]
    parts = module.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "tests" and parts[1] in SHARED_FOLDERS else module


def pytest_xdist_make_scheduler(config, log):
    # loadfile's scheduling, with the groups above as its "files" (xdist's documented extension point)
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group(nodeid)

    return GroupScheduling(config, log)
