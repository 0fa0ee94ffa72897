"""A stand-in for Glue's column statistics task settings API in moto, which has none.

The gap: moto 5.2's Glue implements no CreateColumnStatisticsTaskSettings, GetColumnStatisticsTaskSettings or
UpdateColumnStatisticsTaskSettings (a call raises NotImplementedError in moto), so the job's statistics
settings (`ingestion.lake_statistics`) could not be exercised against the Glue catalog the lake tests use.

What the stand-in does, from the Glue API reference ("Column statistics API",
https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-crawler-column-statistics.html), and nothing more:
- Create: DatabaseName, TableName and Role are required (InvalidInputException otherwise); the table must
  exist (moto's own EntityNotFoundException); settings that exist already: AlreadyExistsException.
- Get: the ColumnStatisticsTaskSettings structure (Schedule as {ScheduleExpression, State}, ScheduleType,
  SettingSource TABLE, Role, SecurityConfiguration, ColumnNameList); none: EntityNotFoundException.
- Update: the fields given replace the stored ones; none stored: EntityNotFoundException.
- A Schedule that is not Glue's six-field cron(...) ("Time-based schedules for jobs and crawlers",
  https://docs.aws.amazon.com/glue/latest/dg/monitor-data-warehouse-schedule.html): InvalidInputException.
Assumed, as no page states it: a schedule given at Create is in State SCHEDULED (the console's "Generate
statistics on schedule" starts it). The job never reads State. No statistics task ever runs here: nothing is
computed, and no Puffin file or commit reaches the table. IAM (the job role's iam:PassRole on the statistics
role) is not enforced by moto: that is the permissions matrix's (infra/permissions.json).

`refusing(code)` makes every call answer that error (e.g. AccessDeniedException, what a missing
iam:PassRole gives), to show a failure is reported and the ingest goes on. `calls` records each call.
`_check_moto_still_lacks_it` fails loudly once a moto upgrade implements the API (then drop this module).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

from moto.glue.exceptions import GlueClientError
from moto.glue.responses import GlueResponse

OPERATIONS = (
    "create_column_statistics_task_settings",
    "get_column_statistics_task_settings",
    "update_column_statistics_task_settings",
)
_CRON = re.compile(r"cron\(\S+ \S+ \S+ \S+ \S+ \S+\)")
_LOCK = threading.Lock()


class _Error(GlueClientError):
    def __init__(self, code: str, message: str):
        super().__init__(code, message)


class ColumnStatisticsStandIn:
    """The settings stored per (account, region, database, table), the calls made, an error to answer."""

    def __init__(self) -> None:
        self.settings: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []  # (operation, table)
        self.refusal: str | None = None

    @contextlib.contextmanager
    def refusing(self, code: str = "AccessDeniedException") -> Iterator[None]:
        self.refusal = code
        try:
            yield
        finally:
            self.refusal = None

    def stored(self, database: str, table: str) -> dict[str, Any] | None:
        found = [v for (_, _, db, name), v in self.settings.items() if (db, name) == (database, table)]
        return found[0] if found else None

    # ---------- the three operations, as GlueResponse methods (self: the response)

    def _handle(self, response: GlueResponse, operation: str) -> str:
        params = response.parameters
        database, table = params.get("DatabaseName"), params.get("TableName")
        self.calls.append((operation, table))
        if self.refusal:
            raise _Error(self.refusal, f"{operation} refused by the test ({self.refusal})")
        if not database or not table:
            raise _Error("InvalidInputException", "DatabaseName and TableName are required")
        response.glue_backend.get_table(database, table)  # moto's EntityNotFoundException for a missing table
        key = (response.current_account, response.region, database, table)
        schedule = params.get("Schedule")
        if schedule is not None and not _CRON.fullmatch(schedule):
            raise _Error("InvalidInputException", f"Schedule is not a cron expression: {schedule}")
        with _LOCK:
            current = self.settings.get(key)
            if operation == "get_column_statistics_task_settings":
                if current is None:
                    raise _Error("EntityNotFoundException", f"No column statistics task settings for {table}")
                return json.dumps({"ColumnStatisticsTaskSettings": current})
            if operation == "create_column_statistics_task_settings":
                if current is not None:
                    raise _Error("AlreadyExistsException", f"Column statistics task settings of {table} exist")
                if not params.get("Role"):
                    raise _Error("InvalidInputException", "Role is required")
                current = self.settings[key] = {
                    "DatabaseName": database,
                    "TableName": table,
                    "CatalogID": params.get("CatalogID", response.current_account),
                    "ScheduleType": "CRON",
                    "SettingSource": "TABLE",
                }
            elif current is None:
                raise _Error("EntityNotFoundException", f"No column statistics task settings for {table}")
            for name in ("Role", "SecurityConfiguration", "ColumnNameList", "SampleSize"):
                if name in params:
                    current[name] = params[name]
            if schedule is not None:
                current["Schedule"] = {"ScheduleExpression": schedule, "State": "SCHEDULED"}
            return "{}"


def _check_moto_still_lacks_it() -> None:
    present = [name for name in OPERATIONS if hasattr(GlueResponse, name)]
    assert not present, f"moto's Glue now implements {present}: drop tests/orchestration/moto_glue_statistics.py"


@contextlib.contextmanager
def glue_column_statistics_settings() -> Iterator[ColumnStatisticsStandIn]:
    """For the duration of the block, moto's Glue answers the three settings operations (module docstring)."""
    _check_moto_still_lacks_it()
    stand_in = ColumnStatisticsStandIn()
    for name in OPERATIONS:
        setattr(GlueResponse, name, lambda response, _name=name: stand_in._handle(response, _name))
    try:
        yield stand_in
    finally:
        for name in OPERATIONS:
            delattr(GlueResponse, name)
