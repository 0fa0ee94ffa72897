"""A year of history (issue 21): the whole local pipeline, stage by stage, for a first build and for
one more month, on 1 month and on `months` months of history; and what the warehouse then occupies.

Each history is its own `make run` work folder and database: `run_pipeline --months M1..Mh` (the
first build), then `--months M1..Mh+1` (the h months already in the lake are skipped by sha256, one
month is new). Stage times come from each run's own report (`runs/latest.json`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FIRST_MONTH = (2023, 1)
# issue 21: +1 month on a year of history costs at most this many times +1 on one month
TARGETS = {"Transform": 1.5, "NotifySuccess": 1.5}
FOOTPRINT_TARGETS = {"database_bytes_per_trip": 350, "fact_trips_bytes_per_row": 160}


def _months(count: int) -> list[str]:
    year, month = FIRST_MONTH
    out = []
    for index in range(count):
        y, m = divmod(month - 1 + index, 12)
        out.append(f"{year + y:04d}-{m + 1:02d}")
    return out


def _run(work: Path, database: str, months: list[str], rows: int, say) -> dict:
    """One `make run` (the module it calls) on the synthetic yellow months; its stage times."""
    cmd = [
        sys.executable, "-m", "orchestration.local.run_pipeline", "--work-dir", str(work), "--database", database,
        "--months", ",".join(months), "--rows", str(rows), "--other-rows", "0",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    began = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(f"make run on {months[0]}..{months[-1]} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    report = json.loads((work / "runs" / "latest.json").read_text())
    stages = {stage["name"]: stage["seconds"] for stage in report["stages"]}
    say(
        f"  {len(months)} month(s), {months[0]}..{months[-1]}: {wall:.1f}s ("
        + ", ".join(f"{name} {sec:.1f}s" for name, sec in stages.items())
        + ")"
    )
    return {"months": len(months), "wall_seconds": wall, "stages": stages}


def _footprint(dsn: str) -> dict:
    """Bytes the database occupies (indexes, TOAST, catalogs: pg_database_size) per accepted trip, and
    fact_trips' bytes per row (pg_total_relation_size of every table of its partition tree: a table per
    month, macros/month_tables.sql), beside the largest tables."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("select pg_database_size(current_database())")
            database_bytes = int(cur.fetchone()[0])
            cur.execute("select coalesce(sum(row_count), 0) from raw.partition_loads")
            trips = int(cur.fetchone()[0])
            cur.execute(
                "select (select count(*) from analytics.fact_trips),"
                " (select sum(pg_total_relation_size(relid)) from pg_partition_tree('analytics.fact_trips'))"
            )
            fact_rows, fact_bytes = (int(v) for v in cur.fetchone())
            cur.execute(
                "select n.nspname || '.' || c.relname, pg_total_relation_size(c.oid) from pg_class c"
                " join pg_namespace n on n.oid = c.relnamespace"
                " where c.relkind in ('r', 'm') and n.nspname not in ('pg_catalog', 'information_schema')"
                " order by 2 desc limit 8"
            )
            largest = [[name, int(size)] for name, size in cur.fetchall()]
    finally:
        conn.close()
    return {
        "database_bytes": database_bytes,
        "trips": trips,
        "database_bytes_per_trip": database_bytes / trips if trips else None,
        "fact_trips_rows": fact_rows,
        "fact_trips_bytes": fact_bytes,
        "fact_trips_bytes_per_row": fact_bytes / fact_rows if fact_rows else None,
        "largest": largest,
    }


def _drop_database(admin_dsn: str, database: str) -> None:
    import psycopg2

    conn = psycopg2.connect(admin_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'drop database if exists "{database}" with (force)')
    conn.close()


def bench_year(ctx, months: int, say) -> dict:
    """First build and +1 month at 1 and at `months` months of history, `ctx.dbt_rows` rows a month."""
    from orchestration.local import embedded_postgres

    rows = ctx.dbt_rows
    say(f"a year: make run on 1 and on {months} month(s) of yellow, then +1 month each ({rows:,} rows/month)")
    out: dict = {"rows_per_month": rows, "months": months, "runs": {}}
    for history in sorted({1, months}):
        work = ctx.work / "year" / f"history-{history}"
        database = f"{ctx.database}_year_{history}"
        _drop_database(ctx.connection.dsn("postgres"), database)
        first = _run(work, database, _months(history), rows, say)
        plus = _run(work, database, _months(history + 1), rows, say)
        connection = embedded_postgres.connection_for_run(database)
        out["runs"][str(history)] = {"first": first, "plus_one": plus, "footprint": _footprint(connection.dsn())}
        _drop_database(ctx.connection.dsn("postgres"), database)  # the disk back for the next section
    one, year = out["runs"]["1"], out["runs"][str(months)]
    out["ratios"] = {
        stage: year["plus_one"]["stages"][stage] / one["plus_one"]["stages"][stage]
        for stage in year["plus_one"]["stages"]
        if one["plus_one"]["stages"].get(stage)
    }
    return out


def _s(value: float) -> str:
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def markdown(year: dict) -> list[str]:
    """The section's lines: stage times for the four runs, the issue 21 targets, the footprint."""
    months, rows = year["months"], year["rows_per_month"]
    one, many = year["runs"]["1"], year["runs"][str(months)]
    runs = [
        ("first build, 1 month", one["first"]),
        ("+1 month on 1", one["plus_one"]),
        (f"first build, {months} months", many["first"]),
        (f"+1 month on {months}", many["plus_one"]),
    ]
    stages = list(many["plus_one"]["stages"])
    lines = [
        "| stage | " + " | ".join(label for label, _ in runs) + f" | +1 on {months} / +1 on 1 |",
        "|---|" + "---|" * (len(runs) + 1),
    ]
    for stage in stages:
        ratio = year["ratios"].get(stage)
        cells = [_s(run["stages"].get(stage, 0.0)) for _, run in runs]
        lines.append(f"| {stage} | " + " | ".join(cells) + f" | {'n/a' if ratio is None else f'{ratio:.2f}x'} |")
    walls = [_s(run["wall_seconds"]) for _, run in runs]
    lines.append("| whole run (process) | " + " | ".join(walls) + " | |")
    lines += ["", "| target (issue 21) | measured | target | status |", "|---|---|---|---|"]
    for stage, bound in TARGETS.items():
        ratio = year["ratios"].get(stage)
        status = "n/a" if ratio is None else ("**met**" if ratio <= bound else "**not met**")
        shown = "n/a" if ratio is None else f"{ratio:.2f}x"
        lines.append(f"| {stage}, +1 month on {months} / on 1 | {shown} | <= {bound}x | {status} |")
    foot = many["footprint"]
    for key, bound in FOOTPRINT_TARGETS.items():
        value = foot[key]
        status = "n/a" if value is None else ("**met**" if value <= bound else "**not met**")
        label = {"database_bytes_per_trip": "PostgreSQL bytes per accepted trip (whole database)",
                 "fact_trips_bytes_per_row": "`fact_trips` bytes per row"}[key]  # fmt: skip
        lines.append(f"| {label}, after {months + 1} months | {'n/a' if value is None else f'{value:,.0f}'} |"
                     f" <= {bound} | {status} |")  # fmt: skip
    lines += [
        "",
        f"{rows:,} yellow rows a month; the database after {months + 1} months:"
        f" {foot['database_bytes'] / 2**20:,.0f} MiB for {foot['trips']:,} accepted trips"
        + (" (below a million trips, fixed overheads such as the catalogs weigh)." if foot["trips"] < 10**6 else ".")
        + " Largest relations: "
        + ", ".join(f"`{name}` {size / 2**20:,.1f} MiB" for name, size in foot["largest"])
        + ".",
        "",
    ]
    return lines


def chart(year: dict, axis) -> None:
    """Stacked stage times of the four runs."""
    months = year["months"]
    one, many = year["runs"]["1"], year["runs"][str(months)]
    runs = [("first, 1", one["first"]), ("+1 on 1", one["plus_one"]),
            (f"first, {months}", many["first"]), (f"+1 on {months}", many["plus_one"])]  # fmt: skip
    stages = list(many["plus_one"]["stages"])
    bottoms = [0.0] * len(runs)
    for stage in stages:
        values = [run["stages"].get(stage, 0.0) for _, run in runs]
        axis.bar([label for label, _ in runs], values, bottom=bottoms, label=stage)
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    axis.set_ylabel("seconds")
    axis.set_title(f"A year: make run per stage, {year['rows_per_month']:,} rows/month", fontsize=10)
    axis.legend(fontsize=7)
