"""moto's Glue UpdateTable made to honour VersionId, Glue's optimistic lock, as AWS does.

The gap: pyiceberg's GlueCatalog commits a table by UpdateTable with the VersionId of the Glue table it
read at the start of the commit, so that a writer which lost a race fails instead of overwriting the
winner's commit. moto 5.2's `GlueResponse.update_table` never reads VersionId (and its backend's
`update_table` has no parameter for it), so on moto every UpdateTable succeeds and a lost update cannot
show in a test.

AWS: UpdateTable's VersionId is "the version ID at which to update the table contents", and the call
fails with ConcurrentModificationException ("Two processes are trying to modify a resource
simultaneously") when another writer updated the table first; Apache Iceberg's AWS guide, "Optimistic
Locking", states the rule: the update succeeds only if the version id on the server side has not
changed since it was read. (https://docs.aws.amazon.com/glue/latest/webapi/API_UpdateTable.html,
https://iceberg.apache.org/docs/latest/aws/#optimistic-locking.) Without VersionId the update is
unconditional, on AWS and here.

The patch wraps moto's response method: with a VersionId that is not the table's current version it
answers ConcurrentModificationException (HTTP 400) and changes nothing; otherwise moto's own method
runs. The check and the update hold one lock, so two requests in a threaded moto server cannot both
pass the check. It covers moto in-process (`mock_aws`) and moto's server (ThreadedMotoServer, or
`python tests/orchestration/moto_glue.py -H HOST -p PORT` for a server in its own process), which share
these classes. `_check_moto_still_ignores_version_id` fails loudly if a moto upgrade changed the code this
relies on (or fixed the gap: then drop this module).

The server of `server_process` (this file as a program) also answers Glue's column statistics task settings
calls, which moto lacks, with the stand-in of tests/orchestration/moto_glue_statistics.py: the Glue job makes
each lake table's settings (ingestion/lake_statistics.py) when it runs against that server.
"""

from __future__ import annotations

import contextlib
import inspect
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from moto.glue.exceptions import GlueClientError
from moto.glue.models import FakeTable, GlueBackend
from moto.glue.responses import GlueResponse

_LOCK = threading.Lock()


class ConcurrentModificationException(GlueClientError):
    def __init__(self, message: str):
        super().__init__("ConcurrentModificationException", message)


def _check_moto_still_ignores_version_id() -> None:
    changed = "moto's Glue UpdateTable changed: re-check tests/orchestration/moto_glue.py"
    assert not hasattr(GlueResponse.update_table, "__wrapped__"), "moto's Glue UpdateTable is already patched"
    response_source = inspect.getsource(GlueResponse.update_table)
    assert "VersionId" not in response_source, f"{changed} (it now reads VersionId: is the patch still needed?)"
    assert "self.glue_backend.update_table(database_name, table_name, table_input)" in response_source, changed
    assert list(inspect.signature(GlueBackend.update_table).parameters) == [
        "self",
        "database_name",
        "table_name",
        "table_input",
    ], changed
    # The version a GetTable reports (FakeTable.as_dict) is _current_version, which each update advances.
    assert "self._current_version += 1" in inspect.getsource(FakeTable.update), changed
    assert '"VersionId": str(version)' in inspect.getsource(FakeTable.as_dict), changed


def _update_table_checking_version_id(original):
    def update_table(self: GlueResponse):
        version_id = self.parameters.get("VersionId")
        with _LOCK:
            if version_id is not None:
                database_name = self.parameters.get("DatabaseName")
                table_name = self.parameters["TableInput"]["Name"]
                table = self.glue_backend.get_table(database_name, table_name)  # EntityNotFoundException as moto
                current = str(table._current_version)
                if version_id != current:
                    raise ConcurrentModificationException(
                        f"Table {database_name}.{table_name} was updated concurrently: "
                        f"VersionId {version_id} is not the current version {current}"
                    )
            return original(self)

    update_table.__wrapped__ = original
    return update_table


@contextlib.contextmanager
def glue_update_table_enforces_version_id() -> Iterator[None]:
    """For the duration of the block, moto's Glue UpdateTable refuses a stale VersionId as AWS does."""
    _check_moto_still_ignores_version_id()
    original = GlueResponse.update_table
    GlueResponse.update_table = _update_table_checking_version_id(original)
    try:
        yield
    finally:
        GlueResponse.update_table = original


@contextlib.contextmanager
def server_process(port: int, log: IO[str] | int = subprocess.DEVNULL, patched: bool = True) -> Iterator[str]:
    """moto's server in a process of its own on 127.0.0.1:`port` (this file as a program: with the patch and the
    column statistics settings stand-in; or moto's plain server), its output to `log`; yields its endpoint once
    it answers, stops it after."""
    program = [__file__] if patched else ["-m", "moto.server"]
    process = subprocess.Popen([sys.executable, *program, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=2).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    raise RuntimeError(f"moto server did not start (exit {process.poll()})") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    # moto's server with the patch: takes moto_server's own arguments (-H HOST -p PORT ...).
    from moto.server import main

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, for tests.orchestration
    from tests.orchestration.moto_glue_statistics import glue_column_statistics_settings

    with glue_update_table_enforces_version_id(), glue_column_statistics_settings():
        main(sys.argv[1:])
