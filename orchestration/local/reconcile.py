"""What the warehouse holds, reconciled month by month against the lake it was loaded from.

For every (dataset, month) the lake holds: accepted rows (the record counts of the month's data
files at the current snapshots) = rows in the raw table = rows in the dataset's fact, and quarantined
rows in the lake = rows in the raw quarantine. Run after every `make run`, whatever this run ingested:
a rerun that only loaded partitions reconciles the same way as a first run.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from psycopg2 import sql

from ingestion.contract import DATASETS, QUARANTINE_TABLE

# Which fact holds which dataset's trips (dbt_project/models/marts/core), per service.
# Each month's counts as last reconciled, and the lake snapshots and load the counts are of: a month
# whose stamps have not changed since is not counted again (`make reconcile` counts every month).
STORE_TABLE = "reconciled_months"
# dbt's reconciliation of the facts with the load log, per month (dbt_project/models/marts/reporting)
RECONCILIATION_MODEL = "rpt_lake_reconciliation"
FACTS = {"yellow": "fact_trips", "green": "fact_trips", "fhv": "fact_fhv_trips", "fhvhv": "fact_fhv_trips"}


def fact_schema() -> str:
    """Where dbt builds the facts: the schema profiles.yml.example gives the dev target."""
    return os.environ.get("DBT_SCHEMA", "analytics")


def count_fact_rows(dsn: str) -> int | None:
    """Trips in every fact together (taxi and for-hire); None when a fact cannot be read.

    The facts' months as the build counted them (rpt_lake_reconciliation.warehouse_trips: it counts
    the months a build rebuilt and keeps the others'), so a daily run does not count the history; a
    warehouse built without that model is counted."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            if _exists(cur, fact_schema(), RECONCILIATION_MODEL):
                cur.execute(
                    sql.SQL("select coalesce(sum(warehouse_trips), 0) from {}").format(
                        sql.Identifier(fact_schema(), RECONCILIATION_MODEL)
                    )
                )
                return int(cur.fetchone()[0])
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
    recounted: int = 0  # months counted now; the others unchanged since they reconciled

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
        return {
            "ok": self.ok,
            "by_service": self.by_service(),
            "mismatches": self.mismatches(),
            "months_recounted": self.recounted,
        }


def _rows(cur, query, params=None) -> list[tuple]:
    import psycopg2

    try:
        cur.execute(query, params)
        return cur.fetchall()
    except psycopg2.Error:  # a table not built yet (e.g. a fact of a dataset never loaded)
        cur.connection.rollback()
        return []


def _where(keys: list[tuple[str, int, int]] | None, columns: tuple[str, ...]) -> tuple[sql.Composable, list]:
    """`(service = %s and year = %s and month = %s) or ...` on `columns` for these months (every month
    when None), and its parameters: on the raw tables (range-partitioned by year and month) the planner
    then reads only those partitions."""
    if keys is None:
        return sql.SQL("true"), []
    if not keys:
        return sql.SQL("false"), []
    term = sql.SQL("({})").format(
        sql.SQL(" and ").join(sql.SQL("{} = %s").format(sql.Identifier(column)) for column in columns)
    )
    params = [value for key in keys for value in key[-len(columns) :]]
    return sql.SQL(" or ").join([term] * len(keys)), params


def _count(cur, raw_schema: str, analytics_schema: str, months: dict, keys: list | None) -> None:
    """Raw, raw quarantine and fact rows of `keys` (every month when None) into `months`."""
    for item in DATASETS:
        mine = None if keys is None else [k for k in keys if k[0] == item.service]
        if mine == []:
            continue
        where, params = _where(mine, ("year", "month"))
        query = sql.SQL("select year, month, count(*) from {} where {} group by 1, 2").format(
            sql.Identifier(raw_schema, item.table), where
        )
        for year, month, n in _rows(cur, query, params):
            months[(item.service, year, month)].raw = int(n)
    where, params = _where(keys, ("service", "year", "month"))
    query = sql.SQL("select service, year, month, count(*) from {} where {} group by 1, 2, 3").format(
        sql.Identifier(raw_schema, QUARANTINE_TABLE), where
    )
    for service, year, month, n in _rows(cur, query, params):
        months[(service, year, month)].raw_quarantined = int(n)
    for fact in sorted(set(FACTS.values())):
        mine = None if keys is None else [k for k in keys if FACTS[k[0]] == fact]
        if mine == []:
            continue
        # by pickup_month, the leading column of the facts' index: a month's count reads only that month
        where, params = (sql.SQL("true"), []) if mine is None else (sql.SQL("pickup_month = any(%s)"), [
            [dt.date(year, month, 1) for _, year, month in mine]
        ])  # fmt: skip
        # grouped in the index's order (pickup_month, service): no sort of the month's rows
        query = sql.SQL("select service, pickup_month, count(*) from {} where {} group by pickup_month, service")
        query = query.format(sql.Identifier(analytics_schema, fact), where)
        found = [(service, month.year, month.month, n) for service, month, n in _rows(cur, query, params)]
        if not found and not _exists(cur, analytics_schema, fact):
            continue
        for key in [k for k in months if FACTS[k[0]] == fact and (mine is None or k in mine)]:
            months[key].fact = 0
        for service, year, month, n in found:
            months[(service, year, month)].fact = int(n)


def _load_log(cur, raw_schema: str) -> dict[tuple[str, int, int], str]:
    """Each month's load stamp (when and from which lake snapshots it was loaded), as one string."""
    query = sql.SQL("select service, year, month, loaded_at, lake_version from {}").format(
        sql.Identifier(raw_schema, "partition_loads")
    )
    return {(s, y, m): f"{loaded_at.isoformat()} {version}" for s, y, m, loaded_at, version in _rows(cur, query)}


def _ensure_store(cur, raw_schema: str) -> None:
    cur.execute(
        sql.SQL(
            "create table if not exists {} (service text, year int, month int, lake_version text,"
            " load_stamp text, lake bigint, lake_quarantined bigint, raw bigint, raw_quarantined bigint,"
            " fact bigint, reconciled_at timestamptz, primary key (service, year, month))"
        ).format(sql.Identifier(raw_schema, STORE_TABLE))
    )


def _stored(cur, raw_schema: str) -> dict[tuple[str, int, int], tuple[tuple, MonthCounts]]:
    query = sql.SQL(
        "select service, year, month, lake_version, load_stamp, lake, lake_quarantined, raw, raw_quarantined, fact"
        " from {}"
    ).format(sql.Identifier(raw_schema, STORE_TABLE))
    rows = _rows(cur, query)
    return {(s, y, m): ((version, stamp), MonthCounts(*counts)) for s, y, m, version, stamp, *counts in rows}


def _store(cur, raw_schema: str, months: dict, stamps: dict, counted: set, gone: set) -> None:
    """The months counted now that reconcile, with the stamps they were counted at; the `gone` months
    (stored, but no longer held by the lake nor the warehouse) are deleted."""
    table = sql.Identifier(raw_schema, STORE_TABLE)
    delete = sql.SQL("delete from {} where service = %s and year = %s and month = %s").format(table)
    insert = sql.SQL("insert into {} values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())").format(table)
    for key in sorted(counted):
        c = months[key]
        cur.execute(delete, key)
        if c.ok:
            cur.execute(insert, (*key, *stamps[key], c.lake, c.lake_quarantined, c.raw, c.raw_quarantined, c.fact))
    for key in sorted(gone):
        cur.execute(delete, key)


def reconcile(
    dsn: str,
    lake_root: Path,
    quarantine_root: Path,
    raw_schema: str = "raw",
    analytics_schema: str | None = None,
    catalog: str | None = None,
    whole_history: bool = False,
) -> Reconciliation:
    """Counts per dataset and month in the lake, the raw layer and the facts.

    The lake's counts are read for every month (its metadata: the data files' record counts). The raw
    layer and the facts are counted for the months whose lake snapshots or load-log row changed since
    they last reconciled (raw.reconciled_months), or every month with `whole_history`; the other months
    keep the counts they reconciled with, so a daily run's check costs its new months, not the history.
    """
    analytics_schema = analytics_schema or fact_schema()
    import psycopg2

    from orchestration.local.load_postgres import lake_months

    months: dict[tuple[str, int, int], MonthCounts] = defaultdict(MonthCounts)
    versions = {}
    for month in lake_months(lake_root, quarantine_root, catalog):
        key = (month.service, month.year, month.month)
        versions[key] = month.version
        # the data files' own counts: the loader already refuses a month whose rows differ from its
        # load-log row, so this compares the warehouse with the lake itself, not with the log again
        months[key].lake, months[key].lake_quarantined = month.rows_in_lake, month.quarantined_in_lake
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            _ensure_store(cur, raw_schema)
            conn.commit()  # a count's rollback (a fact not built yet) must not take the table with it
            loads = _load_log(cur, raw_schema)
            keys = set(versions) | set(loads)
            stamps = {key: (versions.get(key), loads.get(key)) for key in keys}
            for key in keys:
                months[key]  # noqa: B018 - a month only the warehouse holds is counted (and shown) too
            stored = _stored(cur, raw_schema)
            counted = {key for key in keys if whole_history or key not in stored or stored[key][0] != stamps[key]}
            _count(cur, raw_schema, analytics_schema, months, None if whole_history else sorted(counted))
            if whole_history:
                counted = set(months)
                stamps.update({key: (None, None) for key in set(months) - keys})
            for key in keys - counted:
                kept = stored[key][1]
                months[key].raw, months[key].raw_quarantined, months[key].fact = (
                    kept.raw,
                    kept.raw_quarantined,
                    kept.fact,
                )
            _store(cur, raw_schema, months, stamps, counted, set(stored) - set(months))
        conn.commit()
    finally:
        conn.close()
    return Reconciliation(dict(months), recounted=len(counted))


def _exists(cur, schema: str, table: str) -> bool:
    cur.execute("select to_regclass(%s) is not null", (f"{schema}.{table}",))
    return bool(cur.fetchone()[0])


def main(argv: list[str] | None = None) -> int:
    """`make reconcile`: every month of the lake, the raw layer and the facts counted now."""
    import argparse

    from orchestration.local import embedded_postgres
    from orchestration.local.summary import warehouse_lines

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--work-dir", type=Path, default=Path(__file__).resolve().parents[2] / ".local")
    parser.add_argument("--database", default=None, help="PostgreSQL database (default: PGDATABASE or tlc)")
    args = parser.parse_args(argv)
    work = args.work_dir.resolve()
    connection = embedded_postgres.connection_for_run(args.database)
    found = reconcile(connection.dsn(), work / "lake", work / "quarantine", whole_history=True)
    print("\n".join(warehouse_lines(found)))
    if not found.ok:
        mismatches = "; ".join(found.mismatches())
        print(f"error: the warehouse does not reconcile with the lake: {mismatches}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
