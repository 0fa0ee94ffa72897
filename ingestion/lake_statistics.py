"""Glue column statistics of the lake's Iceberg tables: each table's statistics task settings, on AWS.

Redshift asks for them: "To achieve the best performance when using Apache Iceberg tables with Amazon
Redshift, you must generate column statistics for the tables using AWS Glue" ("Using Apache Iceberg tables
with Amazon Redshift", https://docs.aws.amazon.com/redshift/latest/dg/querying-iceberg.html). Glue computes
them on a schedule kept per table, its column statistics task settings (CreateColumnStatisticsTaskSettings:
database, table, the role Glue assumes, a `cron(...)` schedule, the security configuration that encrypts the
task's CloudWatch logs; "Generating column statistics on a schedule",
https://docs.aws.amazon.com/glue/latest/dg/generate-column-stats.html). For an Iceberg table the task
estimates each column's distinct values into a Puffin file committed to the table's snapshot
(https://docs.aws.amazon.com/glue/latest/dg/iceberg-generate-column-stats.html).

The tables are the job's (`lake_tables.ensure_tables`), not Terraform's, so their settings are the job's too:
after `ensure_tables`, on the Glue Data Catalog (`--catalog glue:<database>`) and only when the job is given a
role and a schedule (`--column_stats_role`, `--column_stats_schedule`, infra/modules/ingest), each table gets
settings with that role, schedule and security configuration: created where missing, updated where one of the
three differs, left alone otherwise (a schedule someone paused stays paused: the job never starts one). With
a SQLite catalog (a laptop) nothing happens. It is an optimisation: a failure is reported per table and the
ingest goes on; the next run tries again.

Imported by the driver only when a run has something to commit (a rerun with nothing new stays
catalog-free); boto3 is imported when the settings are made.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

CREATED, UPDATED, UNCHANGED, FAILED = "created", "updated", "unchanged", "failed"


@dataclass(frozen=True)
class StatisticsSchedule:
    """What every lake table's column statistics task settings should hold."""

    role: str  # the IAM role Glue assumes to compute the statistics (ARN)
    schedule: str  # Glue's cron expression, e.g. cron(0 4 * * ? *)
    security_configuration: str | None = None  # encrypts the task's CloudWatch logs

    def request(self, database: str, table: str) -> dict[str, str]:
        """The Create/UpdateColumnStatisticsTaskSettings request for one table (every column)."""
        request = {"DatabaseName": database, "TableName": table, "Role": self.role, "Schedule": self.schedule}
        if self.security_configuration:
            request["SecurityConfiguration"] = self.security_configuration
        return request

    def differs_from(self, settings: dict[str, Any]) -> list[str]:
        """The fields of existing settings (GetColumnStatisticsTaskSettings) that are not what is wanted."""
        have = {
            "Role": settings.get("Role"),
            "Schedule": (settings.get("Schedule") or {}).get("ScheduleExpression"),
            "SecurityConfiguration": settings.get("SecurityConfiguration") or None,
        }
        want = {"Role": self.role, "Schedule": self.schedule, "SecurityConfiguration": self.security_configuration}
        return [name for name in want if have[name] != want[name]]


def from_arguments(arguments: dict[str, str]) -> StatisticsSchedule | None:
    """The job's `column_stats_*` arguments (glue_entry), or None when the role or the schedule is missing."""
    role, schedule = arguments.get("column_stats_role"), arguments.get("column_stats_schedule")
    if not role or not schedule:
        return None
    return StatisticsSchedule(role, schedule, arguments.get("column_stats_security_configuration") or None)


def glue_client():
    """Glue in the session's region (boto3 reads AWS_ENDPOINT_URL_GLUE / AWS_ENDPOINT_URL itself)."""
    import boto3

    session = boto3.session.Session()
    return session.client("glue", region_name=session.region_name or "us-east-1")


def ensure_settings(
    client: Any,
    database: str,
    tables: Iterable[str],
    wanted: StatisticsSchedule,
    progress: Callable[[str], None] | None = None,
) -> dict[str, str]:
    """Each table's settings as `wanted` says; per table CREATED, UPDATED, UNCHANGED or FAILED. Never raises
    for a table: its failure is reported (`progress`, else stderr) and the others go on."""
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    outcomes = {}
    for table in tables:
        try:
            outcomes[table] = _ensure_one(client, database, table, wanted)
        except Exception as exc:  # noqa: BLE001 - statistics are an optimisation: the ingest goes on
            outcomes[table] = FAILED
            say(f"column statistics settings of {database}.{table} not set, left for the next run: {exc}")
            continue
        if outcomes[table] != UNCHANGED:
            say(f"column statistics settings of {database}.{table} {outcomes[table]} ({wanted.schedule})")
    return outcomes


def _ensure_one(client: Any, database: str, table: str, wanted: StatisticsSchedule) -> str:
    request = wanted.request(database, table)
    try:
        current = client.get_column_statistics_task_settings(DatabaseName=database, TableName=table)
        settings = current.get("ColumnStatisticsTaskSettings") or {}
    except client.exceptions.EntityNotFoundException:
        settings = {}
    # Settings the catalog-level automatic generation reports (SettingSource CATALOG) are not the table's own:
    # "table-specific settings take precedence over the default catalog settings" ("Automatic column
    # statistics generation", https://docs.aws.amazon.com/glue/latest/dg/auto-column-stats-generation.html).
    if not settings or settings.get("SettingSource") == "CATALOG":
        try:
            client.create_column_statistics_task_settings(**request)
            return CREATED
        except client.exceptions.AlreadyExistsException:  # another run created them since the Get
            client.update_column_statistics_task_settings(**request)
            return UPDATED
    if wanted.differs_from(settings):
        client.update_column_statistics_task_settings(**request)
        return UPDATED
    return UNCHANGED


def ensure_for_lake(
    catalog_spec: str,
    tables: Iterable[str],
    wanted: StatisticsSchedule | None,
    progress: Callable[[str], None] | None = None,
    client: Any = None,
) -> dict[str, str]:
    """`ensure_settings` for the lake's tables when the catalog is Glue's (`glue:<database>`) and a schedule
    is given; {} otherwise (a SQLite catalog, or no role/schedule): nothing is called then."""
    kind, _, database = catalog_spec.partition(":")
    if kind != "glue" or wanted is None:
        return {}
    try:
        client = client or glue_client()
    except Exception as exc:  # noqa: BLE001 - as a failed call: reported, the ingest goes on
        say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
        say(f"column statistics settings not set, left for the next run: {exc}")
        return {}
    return ensure_settings(client, database, tables, wanted, progress)
