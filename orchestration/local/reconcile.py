"""What the warehouse holds, reconciled month by month against the lake it was loaded from.

For every (dataset, month) the lake holds: accepted rows (the record counts of the month's data
files at the current snapshots) = rows in the raw table = rows in the dataset's fact, and quarantined
rows in the lake = rows in the raw quarantine. Run after every `make run`, whatever this run ingested:
a rerun that only loaded partitions reconciles the same way as a first run.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.contract import DATASETS, QUARANTINE_TABLE

# Which fact holds which dataset's trips (dbt_project/models/marts/core), per service.
FACTS = {"yellow": "fact_trips", "green": "fact_trips", "fhv": "fact_fhv_trips", "fhvhv": "fact_fhv_trips"}


def fact_schema() -> str:
    """Where dbt builds the facts: the schema profiles.yml.example gives the dev target."""
    return os.environ.get("DBT_SCHEMA", "analytics")


def count_fact_rows(dsn: str) -> int | None:
    """Trips in every fact together (taxi and for-hire); None when a fact cannot be read."""
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            total = 0
            for fact in sorted(set(FACTS.values())):
                cur.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(fact_schema(), fact)))
                total += int(cur.fetchone()[0])
            return total
    except psycopg2.Error:
        return None
    finally:
        conn.close()


@dataclass
class MonthCounts:
    lake: int = 0
    lake_quarantined: int = 0
    raw: int = 0
    raw_quarantined: int = 0
    fact: int | None = None  # None: the dataset's fact is not built

    @property
    def ok(self) -> bool:
        fact_ok = self.fact is None or self.fact == self.lake
        return self.lake == self.raw and self.lake_quarantined == self.raw_quarantined and fact_ok


@dataclass
class Reconciliation:
    months: dict[tuple[str, int, int], MonthCounts] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(counts.ok for counts in self.months.values())

    def by_service(self) -> dict[str, dict]:
        totals: dict[str, dict] = {}
        for (service, _, _), counts in sorted(self.months.items()):
            t = totals.setdefault(
                service, {"months": 0, "lake": 0, "raw": 0, "fact": 0, "lake_quarantined": 0, "raw_quarantined": 0}
            )
            t["months"] += 1
            for key in ("lake", "raw", "lake_quarantined", "raw_quarantined"):
                t[key] += getattr(counts, key)
            t["fact"] = None if counts.fact is None or t["fact"] is None else t["fact"] + counts.fact
        return totals

    def mismatches(self) -> list[str]:
        out = []
        for (service, year, month), c in sorted(self.months.items()):
            if not c.ok:
                fact = "-" if c.fact is None else f"{c.fact:,}"
                out.append(
                    f"{service} {year:04d}-{month:02d}: lake {c.lake:,}, raw {c.raw:,}, fact {fact};"
                    f" quarantine lake {c.lake_quarantined:,}, raw {c.raw_quarantined:,}"
                )
        return out

    def as_dict(self) -> dict:
        return {"ok": self.ok, "by_service": self.by_service(), "mismatches": self.mismatches()}


def _rows(cur, query: str) -> list[tuple]:
    import psycopg2

    try:
        cur.execute(query)
        return cur.fetchall()
    except psycopg2.Error:  # a table not built yet (e.g. a fact of a dataset never loaded)
        cur.connection.rollback()
        return []


def reconcile(
    dsn: str,
    lake_root: Path,
    quarantine_root: Path,
    raw_schema: str = "raw",
    analytics_schema: str | None = None,
    catalog: str | None = None,
) -> Reconciliation:
    """Counts per dataset and month in the lake, the raw layer and the facts."""
    analytics_schema = analytics_schema or fact_schema()
    import psycopg2

    from orchestration.local.load_postgres import lake_months

    months: dict[tuple[str, int, int], MonthCounts] = defaultdict(MonthCounts)
    for month in lake_months(lake_root, quarantine_root, catalog):
        counts = months[(month.service, month.year, month.month)]
        # the data files' own counts: the loader already refuses a month whose rows differ from its
        # load-log row, so this compares the warehouse with the lake itself, not with the log again
        counts.lake, counts.lake_quarantined = month.rows_in_lake, month.quarantined_in_lake
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            for item in DATASETS:
                query = f"select year, month, count(*) from {raw_schema}.{item.table} group by 1, 2"
                for year, month, n in _rows(cur, query):
                    months[(item.service, year, month)].raw = int(n)
            query = f"select service, year, month, count(*) from {raw_schema}.{QUARANTINE_TABLE} group by 1, 2, 3"
            for service, year, month, n in _rows(cur, query):
                months[(service, year, month)].raw_quarantined = int(n)
            for fact in sorted(set(FACTS.values())):
                query = (
                    "select service, cast(extract(year from pickup_month) as int),"
                    f" cast(extract(month from pickup_month) as int), count(*) from {analytics_schema}.{fact}"
                    " group by 1, 2, 3"
                )
                found = _rows(cur, query)
                if not found and not _exists(cur, analytics_schema, fact):
                    continue
                for key in [k for k in months if FACTS[k[0]] == fact]:
                    months[key].fact = 0
                for service, year, month, n in found:
                    months[(service, year, month)].fact = int(n)
    finally:
        conn.close()
    return Reconciliation(dict(months))


def _exists(cur, schema: str, table: str) -> bool:
    cur.execute("select to_regclass(%s) is not null", (f"{schema}.{table}",))
    return bool(cur.fetchone()[0])
