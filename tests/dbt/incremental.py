"""What the incremental-equals-full-refresh modules (fact_trips, fact_fhv_trips) do to their raw schema and
read back from their builds: each module owns one raw schema and two model schemas, and writes the load
log the way the loader does."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class IncrementalSchemas:
    raw: str
    incremental: str
    full_refresh: str

    def vars(self, **extra) -> tuple[str, str]:
        return ("--vars", json.dumps({"raw_schema": self.raw, **extra}))

    def reset(self, load_raw_fixture, sql) -> None:
        """The fixture's trips with an empty load log (nothing loaded yet) and no model built."""
        load_raw_fixture(self.raw)
        sql(f"delete from {self.raw}.partition_loads")
        for schema in (self.incremental, self.full_refresh):
            for suffix in ("", "_staging", "_intermediate", "_seeds"):
                sql(f"drop schema if exists {schema}{suffix} cascade")

    def log_load(self, sql, service: str, year: int, month: int, loaded_at: str) -> None:
        """What the loader does after swapping a partition in: upsert its load-log row."""
        sql(
            f"""
            insert into {self.raw}.partition_loads
                (service, year, month, source_file, sha256, lake_version, row_count, quarantined_count, loaded_at)
            select %s, %s, %s, %s, 'sha', 'v', count(*), 0, %s::timestamptz
            from {self.raw}.{service}_trips where year = %s and month = %s
            on conflict (service, year, month) do update set loaded_at = excluded.loaded_at
            """,
            (service, year, month, f"{service}_tripdata_{year}-{month:02d}.parquet", loaded_at, year, month),
        )


def month_tables(sql, relation: str) -> dict[tuple[str, str], tuple[int, int]]:
    """A fact stored as month tables (macros/month_tables.sql): (service, month) -> (the oid of the table
    holding its rows, its rows). A build that rebuilt a month swapped a new table in; one it left alone
    kept its table."""
    rows = sql(f"select service, pickup_month, tableoid::bigint, count(*) from {relation} group by 1, 2, 3")
    tables = {(service, str(month)): (oid, count) for service, month, oid, count in rows}
    assert len(tables) == len(rows), "a month's rows are in more than one table"
    return tables


def rows_rebuilt(before: dict, after: dict) -> int:
    """The rows of the month tables in `after` (month_tables) that were not there in `before`."""
    return sum(count for key, (oid, count) in after.items() if before.get(key, (None, 0))[0] != oid)


def rows_inserted(result, unique_id: str) -> int:
    (node,) = [r for r in result.run_results["results"] if r["unique_id"] == unique_id]
    return node["adapter_response"]["rows_affected"]


def checksum(sql, relation: str, key: str) -> tuple[int, str]:
    """Row count and a digest of every row in key order: equal tables, equal checksums."""
    return sql(f"select count(*), md5(string_agg(t::text, '|' order by t.{key})) from {relation} as t")[0]
