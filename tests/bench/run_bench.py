"""`make bench`: every pipeline stage measured beside the fastest way to do the same work here.

    .venv/bin/python tests/bench/run_bench.py [--scale ROWS] [--dbt-rows ROWS] [--reps N]
                                              [--history 1,3,6,12] [--hvfhv-rows ROWS] [--out BENCHMARKS.md]

1. Ingest: the PySpark job (ingestion/job.py) on one synthetic yellow month, each repetition a fresh
   process (session/JVM start timed on its own), vs the DuckDB floor (tests/bench/floor_ingest.py) on
   the same file. Both must accept and quarantine exactly the rows the generator's .expected.json says.
2. Load: orchestration/local/load_postgres.py swapping that lake month into PostgreSQL vs a raw COPY
   of the same rows (CSV and binary, files rendered beforehand by Postgres itself) into plain tables.
3. dbt: a full `dbt build`, then `dbt run --select fact_trips` for +1 month with 1, 3, 6, 12 months
   already built, and `--full-refresh` at the largest history; model time from run_results.json and
   the wall time of the dbt process.
4. Many files: one job over 36 yellow months of 10,000 rows (whatever the scale) vs the DuckDB floor
   doing the same 36 files in one process.
5. HVFHV: one High Volume FHV month (20/3 of the scale, TLC's ratio: 20,000,000 rows at
   SCALE=3000000) through the job vs its floor, the loader vs raw COPY, and `fact_fhv_trips` +1 month
   at a few months of history (at most 1,000,000 rows a month there).
6. Zones: points per second of ingestion.zones.assign_zones (tests/bench/zones_bench.py).
7. A year (tests/bench/year_bench.py): `make run` stage by stage for a first build and +1 month on 1
   and on 12 months of yellow history (--year-months; the dbt section's rows a month), and the
   PostgreSQL footprint per trip after 13 months.
8. First impression (SCALE >= 200,000 only): `make run` on a fresh `git clone` of HEAD, several times.
9. Peak memory of every stage: RSS of the process tree (Python, the JVM) and PSS of the PostgreSQL
   backends serving the benchmark database.

Timings are medians over --reps repetitions measured in this one run (the machine may be shared).
Results: a section of --out (BENCHMARKS.md, replaced per scale, everything else kept), a chart
docs/bench/bench-<scale>.png and the raw figures docs/bench/results-<scale>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(__file__).resolve().parent
for extra in (REPO_ROOT, BENCH_DIR):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import load_variants  # noqa: E402  (tests/bench/load_variants.py)
import report  # noqa: E402  (tests/bench/report.py)
import year_bench  # noqa: E402  (tests/bench/year_bench.py)

PY = sys.executable
DBT = str(Path(sys.executable).with_name("dbt"))
DEFAULT_SCALE = 200_000
# The dbt section loads 13 months: above this many rows per month it uses this many (stated in the
# report), so a real-size run (SCALE=3000000) stays within about an hour and ~15 GB of disk.
DBT_ROWS_CAP = 1_000_000
INGEST_MONTH = (2024, 1)
DBT_FIRST_MONTH = (2023, 1)
# Many files: a backfill of three years of one dataset, at a size where the per-file cost shows.
MANY_FILES, MANY_FILES_ROWS, MANY_FILES_FIRST = 36, 10_000, (2021, 1)
# TLC's real months: ~3,000,000 yellow trips and ~20,000,000 High Volume FHV trips.
YELLOW_REAL_ROWS, HVFHV_REAL_ROWS = 3_000_000, 20_000_000
HVFHV_HISTORY = (1, 3)
FIRST_RUN_MIN_SCALE = DEFAULT_SCALE


def say(message: str) -> None:
    sys.stdout.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stdout.flush()


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ---------- memory


class PeakMemory:
    """Samples, every `interval` s in a thread, the RSS of a process tree and the PSS of the
    PostgreSQL backends connected to `database`; keeps the peaks (MiB)."""

    def __init__(
        self, pid: int | None = None, dsn: str | None = None, database: str | None = None, interval: float = 0.1
    ) -> None:
        import psutil

        self._psutil = psutil
        self.pid = pid
        self.dsn = dsn
        self.database = database
        self.interval = interval
        self.client_mb = 0.0
        self.server_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _tree_rss(self) -> float:
        psutil = self._psutil
        try:
            root = psutil.Process(self.pid or os.getpid())
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0.0
        total = 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total / 2**20

    def _backends_pss(self, cur) -> float:
        psutil = self._psutil
        cur.execute("select pid from pg_stat_activity where datname = %s and pid <> pg_backend_pid()", (self.database,))
        total = 0
        for (pid,) in cur.fetchall():
            try:
                info = psutil.Process(pid).memory_full_info()
                total += getattr(info, "pss", info.rss)
            except psutil.Error:
                pass
        return total / 2**20

    def _run(self) -> None:
        conn = None
        if self.dsn:
            import psycopg2

            conn = psycopg2.connect(self.dsn)
            conn.autocommit = True
        try:
            while True:
                self.client_mb = max(self.client_mb, self._tree_rss())
                if conn is not None:
                    with conn.cursor() as cur:
                        self.server_mb = max(self.server_mb, self._backends_pss(cur))
                if self._stop.wait(self.interval):
                    break
        finally:
            if conn is not None:
                conn.close()


def run_child(stage: str, args: dict, work: Path, pg=None) -> tuple[dict, PeakMemory, float]:
    """Run tests/bench/stages.py <stage> in a child process, sampling its memory; returns its result."""
    out = work / f"{stage}-{time.time_ns()}.json"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [PY, str(BENCH_DIR / "stages.py"), stage, "--args-json", json.dumps(args), "--out", str(out)]
    began = time.perf_counter()
    log = work / f"{stage}.log"
    with open(log, "ab") as handle:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
        with PeakMemory(proc.pid, *(pg or (None, None))) as memory:
            code = proc.wait()
    wall = time.perf_counter() - began
    if code != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"bench stage {stage} failed (exit {code}); end of {log}:\n{tail}")
    return json.loads(out.read_text()), memory, wall


# ---------- sections


@dataclass
class Context:
    scale: int
    dbt_rows: int
    reps: int
    history: list[int]
    work: Path
    database: str
    hvfhv_rows: int = 0
    zone_points: int = 0
    first_run_reps: int = 0
    connection: object = None
    results: dict = field(default_factory=dict)

    @property
    def dsn(self) -> str:
        return self.connection.dsn()

    @property
    def pg(self) -> tuple[str, str]:
        return self.dsn, self.database


def generate(directory: Path, year: int, month: int, rows: int, service: str = "yellow") -> tuple[Path, dict]:
    """A synthetic month (reused when the same rows were generated before: same seed, same bytes)."""
    from ingestion import synthetic

    name = synthetic.file_name(service, year, month)
    path = directory / name
    expected_path = directory / f"{name}.expected.json"
    if path.exists() and expected_path.exists():
        expected = json.loads(expected_path.read_text())
        if expected.get("rows") == rows:
            return path, expected
    expected = synthetic.generate_month(directory, service, year, month, rows=rows, seed=42)
    return path, expected


def _expected(expected: dict) -> tuple:
    return (
        expected["rows"],
        expected["rows_accepted"],
        expected["rows_quarantined"],
        dict(expected["quarantined_by_reason"]),
        dict(expected.get("warnings_by_code") or {}),
    )


def _counts(file: dict) -> tuple:
    return (
        file["rows_read"],
        file["rows_accepted"],
        file["rows_quarantined"],
        dict(file["quarantined_by_reason"] or {}),
        dict(file["warnings_by_code"] or {}),
    )


def _load_average() -> float:
    return os.getloadavg()[0]


def ingest_series(
    ctx: Context, label: str, files: list[Path], expected: list[dict], work: Path, spark_runs: int
) -> dict:
    """`ctx.reps` repetitions, each the DuckDB floor then the Spark job, each in a fresh process (so
    load from other users of the machine falls on both alike). Spark: session start, then the job
    `spark_runs` times (cold, then warm). Every run must accept, quarantine (per reason) and warn
    exactly what the generator planted, file by file."""
    work.mkdir(parents=True, exist_ok=True)
    want = [_expected(e) for e in expected]
    paths = [str(p) for p in files]
    floor_runs, floor_starts, floor_walls, floor_peak = [], [], [], 0.0
    spark_results, session, cold, warm, spark_walls, spark_peak = [], [], [], [], [], 0.0
    load_average = []
    for rep in range(ctx.reps):
        load_average.append(_load_average())
        result, memory, wall = run_child("floor-ingest", {"files": paths, "work_dir": str(work), "runs": 1}, work)
        floor_runs += result["runs"]
        floor_starts.append(result["start_seconds"])
        floor_peak = max(floor_peak, memory.client_mb)
        floor_walls.append(wall)
        args = {"files": paths, "work_dir": str(work / f"rep{rep}"), "runs": spark_runs}
        result, memory, wall = run_child("spark-ingest", args, work)
        spark_results.append(result)
        session.append(result["session_seconds"])
        cold.append(result["runs"][0]["seconds"])
        if spark_runs > 1:
            warm.append(result["runs"][1]["seconds"])
        spark_peak = max(spark_peak, memory.client_mb)
        spark_walls.append(wall)
        say(
            f"  {label} rep {rep + 1} (load average {load_average[-1]:.1f}): floor {floor_runs[-1]['seconds']:.1f}s;"
            f" Spark session {session[-1]:.1f}s, cold {cold[-1]:.1f}s"
            + (f", warm {warm[-1]:.1f}s" if warm else "")
            + f"; peak {spark_peak:,.0f} MiB (floor {floor_peak:,.0f} MiB)"
        )
    identical = all([_counts(f) for f in run["files"]] == want for run in floor_runs) and all(
        [_counts(f) for f in run["files"]] == want for result in spark_results for run in result["runs"]
    )
    if not identical:
        say(f"WARNING: {label}: the Spark job or the floor did not accept/quarantine exactly the expected rows")
    floor_times = [r["seconds"] for r in floor_runs]
    totals = [s + c for s, c in zip(session, cold, strict=True)]
    cold_runs = [result["runs"][0] for result in spark_results]
    f = median(floor_times)
    out = {
        "files": len(files),
        "rows": sum(e["rows"] for e in expected),
        "source_mb": sum(p.stat().st_size for p in files) / 2**20,
        "expected": expected,
        "counts_identical": identical,
        "load_average": load_average,
        "spark": {
            "session_seconds": session,
            "cold_seconds": cold,
            "warm_seconds": warm,
            "total_seconds": totals,
            "plan_seconds": [r["plan_seconds"] for r in cold_runs],
            "execute_seconds": [r["execute_seconds"] for r in cold_runs],
            "file_seconds_sum": [sum(r["file_seconds"]) for r in cold_runs],
            "process_wall_seconds": spark_walls,
            "peak_rss_mb": spark_peak,
            "runs": spark_results,
        },
        "floor": {
            "seconds": floor_times,
            "start_seconds": floor_starts,
            "process_wall_seconds": floor_walls,
            "peak_rss_mb": floor_peak,
        },
        "ratio_total": median(totals) / f,
        "ratio_cold": median(cold) / f,
        "ratio_warm": median(warm) / f if warm else None,
        # per repetition: each Spark figure over the floor measured just before it
        "ratios_total": [t / fl for t, fl in zip(totals, floor_times, strict=True)],
        "ratios_cold": [c / fl for c, fl in zip(cold, floor_times, strict=True)],
        "lake_root": cold_runs[0]["lake_root"],
        "quarantine_root": cold_runs[0]["quarantine_root"],
    }
    return out


def bench_ingest(ctx: Context) -> dict:
    source_dir = ctx.work.parent / f"source-{ctx.scale}"
    say(f"generating one synthetic month of {ctx.scale:,} yellow trips")
    began = time.perf_counter()
    path, expected = generate(source_dir, *INGEST_MONTH, ctx.scale)
    generate_seconds = time.perf_counter() - began
    say(f"ingest: {ctx.reps} rep(s), each the DuckDB floor then the Spark job (a fresh process: cold + warm run)")
    out = ingest_series(ctx, "ingest", [path], [expected], ctx.work / "ingest", spark_runs=2)
    out.update(source_file=path.name, generate_seconds=generate_seconds, expected=expected)
    return out


def _month_at(first: tuple[int, int], index: int) -> tuple[int, int]:
    total = first[0] * 12 + (first[1] - 1) + index
    return total // 12, total % 12 + 1


def bench_many_files(ctx: Context) -> dict:
    """One run over MANY_FILES small yellow months: the per-file cost of the job vs the floor's."""
    source_dir = ctx.work.parent / f"source-many-{MANY_FILES}x{MANY_FILES_ROWS}"
    say(f"many files: {MANY_FILES} yellow months of {MANY_FILES_ROWS:,} rows")
    generated = [generate(source_dir, *_month_at(MANY_FILES_FIRST, i), MANY_FILES_ROWS) for i in range(MANY_FILES)]
    files, expected = [g[0] for g in generated], [g[1] for g in generated]
    say(f"many files: {ctx.reps} rep(s), each the DuckDB floor (one process) then the Spark job (cold + warm run)")
    out = ingest_series(ctx, "many files", files, expected, ctx.work / "many", spark_runs=2)
    out["rows_per_file"] = MANY_FILES_ROWS
    out["first_month"] = f"{MANY_FILES_FIRST[0]:04d}-{MANY_FILES_FIRST[1]:02d}"
    return out


def hvfhv_rows_for(scale: int) -> int:
    """The HVFHV month beside a yellow month of `scale` rows, in TLC's proportion (20M : 3M)."""
    return min(HVFHV_REAL_ROWS, round(scale * HVFHV_REAL_ROWS / YELLOW_REAL_ROWS))


def bench_hvfhv(ctx: Context) -> dict:
    """One High Volume FHV month: ingest vs floor (with peak memory), load vs raw COPY, incremental dbt."""
    rows = ctx.hvfhv_rows
    source_dir = ctx.work.parent / f"source-fhvhv-{rows}"
    say(f"HVFHV: generating one month of {rows:,} trips")
    began = time.perf_counter()
    path, expected = generate(source_dir, *INGEST_MONTH, rows, service="fhvhv")
    generate_seconds = time.perf_counter() - began
    say(f"HVFHV ingest: {ctx.reps} rep(s), each the DuckDB floor then the Spark job (a fresh process: cold run)")
    ingest = ingest_series(ctx, "HVFHV ingest", [path], [expected], ctx.work / "hvfhv-ingest", spark_runs=1)
    ingest.update(source_file=path.name, generate_seconds=generate_seconds, expected=expected)
    out = {"rows": rows, "ingest": ingest}
    out["load"] = bench_load(ctx, ingest, service="fhvhv", variants=["loader"], formats=["binary"], label="HVFHV load")
    dbt_rows = min(rows, DBT_ROWS_CAP)
    out["dbt"] = bench_dbt(ctx, service="fhvhv", rows=dbt_rows, history=list(HVFHV_HISTORY), model="fact_fhv_trips")
    return out


def bench_zones(ctx: Context) -> dict:
    say(f"zones: assign_zones on {ctx.zone_points:,} points, uniform and real-distribution ({ctx.reps} call(s) each)")
    work = ctx.work / "zones"
    work.mkdir(parents=True, exist_ok=True)
    result, memory, wall = run_child("zones", {"points": ctx.zone_points, "reps": ctx.reps}, work)
    result["peak_rss_mb"] = memory.client_mb
    result["load_average"] = _load_average()
    for kind in ("uniform_nyc_bbox", "real_sample_distribution"):
        say(f"  {kind}: {result[kind]['points_per_s']:,} points/s")
    return result


def reset_database(ctx: Context) -> None:
    import psycopg2

    conn = psycopg2.connect(ctx.dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            "select nspname from pg_namespace where nspname in ('raw', 'bench_floor') or nspname like 'analytics%'"
        )
        for (schema,) in cur.fetchall():
            cur.execute(f'drop schema "{schema}" cascade')
    conn.close()


def bench_load(
    ctx: Context,
    ingest: dict,
    service: str = "yellow",
    variants: list[str] | None = None,
    formats: list[str] | None = None,
    label: str = "load",
) -> dict:
    """The month the Spark job wrote, swapped into PostgreSQL by each loader variant, alternated with a
    raw COPY of the same rows (in `formats`) into plain tables."""
    import psycopg2

    variants = variants or list(load_variants.VARIANTS)
    formats = formats or ["csv", "binary"]
    work = ctx.work / label.replace(" ", "-").lower()
    work.mkdir(parents=True, exist_ok=True)
    reset_database(ctx)
    lake_root, quarantine_root = Path(ingest["lake_root"]), Path(ingest["quarantine_root"])
    manifest = lake_root / "_manifests" / f"{ingest['source_file']}.json"
    load_args = {
        "dsn": ctx.dsn,
        "manifest": str(manifest),
        "lake_root": str(lake_root),
        "quarantine_root": str(quarantine_root),
        "runs": 1,
    }
    say(f"{label}: first load of the month (untimed), then the rows rendered for the raw COPY floor")
    first, _, _ = run_child("load", load_args, work, ctx.pg)
    expected_counts = (first["runs"][0]["rows_loaded"], first["runs"][0]["rows_quarantined"])
    rows = sum(expected_counts)
    year, month = INGEST_MONTH
    child = f"raw.{service}_trips_{year:04d}_{month:02d}"
    quarantine = f"raw.quarantined_trips where service = '{service}' and year = {year} and month = {month}"
    files = {}
    # The floor COPYs what the loader COPYs: a month's row columns (its constants are catalog defaults)
    from psycopg2 import sql

    from orchestration.local import load_postgres

    row_columns = load_postgres.month_row_columns(service)
    trips_query = f"select {', '.join(name for name, _ in row_columns)} from {child}"
    conn = psycopg2.connect(ctx.dsn)
    with conn.cursor() as cur:
        cur.execute("create schema if not exists bench_floor")
        cur.execute("drop table if exists bench_floor.month_rows")
        cur.execute(sql.SQL("create table bench_floor.month_rows ({})").format(load_postgres._columns_ddl(row_columns)))
        for fmt in formats:
            for name, query in (("trips", trips_query), ("quarantine", f"select * from {quarantine}")):
                target = work / f"{name}.{fmt}"
                with open(target, "wb") as handle:
                    cur.copy_expert(f"copy ({query}) to stdout with (format {fmt})", handle)
                files.setdefault(name, {})[fmt] = str(target)
    conn.commit()
    conn.close()
    floor_args = {
        "dsn": ctx.dsn,
        "formats": formats,
        "runs": 1,
        "tables": [
            ["bench_floor.trips", "bench_floor.month_rows", files["trips"]],
            ["bench_floor.quarantine", "raw.quarantined_trips", files["quarantine"]],
        ],
    }
    say(
        f"{label}: {ctx.reps} rep(s), each a reload of the month by every loader variant ({', '.join(variants)}),"
        f" then the raw COPY ({', '.join(formats)})"
    )
    seconds = {v: [] for v in variants}
    cpu = {v: [] for v in variants}
    peaks = {v: (0.0, 0.0) for v in variants}
    floor_runs = {fmt: [] for fmt in formats}
    floor_peak, floor_server, load_average = 0.0, 0.0, []
    for rep in range(ctx.reps):  # interleaved; the variants' order rotates so none always follows the floor
        load_average.append(os.getloadavg()[0])
        for variant in variants[rep % len(variants) :] + variants[: rep % len(variants)]:
            loaded, memory, _ = run_child("load", {**load_args, "variant": variant}, work, ctx.pg)
            counts = [(r["rows_loaded"], r["rows_quarantined"]) for r in loaded["runs"]]
            if set(counts) != {expected_counts}:  # every variant loads the same rows, or its time means nothing
                raise RuntimeError(f"load variant {variant} loaded {counts} rows, the first load {expected_counts}")
            seconds[variant] += [r["seconds"] for r in loaded["runs"]]
            cpu[variant] += [r["client_cpu_seconds"] for r in loaded["runs"]]
            peaks[variant] = (max(peaks[variant][0], memory.client_mb), max(peaks[variant][1], memory.server_mb))
        floor, memory, _ = run_child("copy-floor", floor_args, work, ctx.pg)
        for fmt, runs in floor["formats"].items():
            floor_runs[fmt] += runs
        floor_peak, floor_server = max(floor_peak, memory.client_mb), max(floor_server, memory.server_mb)
        say(
            f"  {label} rep {rep + 1} (load average {load_average[-1]:.1f}): "
            + ", ".join(f"{v} {seconds[v][-1]:.1f}s" for v in variants)
            + "; raw COPY "
            + ", ".join(f"{fmt} {floor_runs[fmt][-1]['seconds']:.1f}s" for fmt in formats)
        )
    floor_by_format = {fmt: [r["seconds"] for r in runs] for fmt, runs in floor_runs.items()}
    best_format = min(floor_by_format, key=lambda fmt: median(floor_by_format[fmt]))
    for path_by_format in files.values():
        for path in path_by_format.values():
            Path(path).unlink(missing_ok=True)
    floor_median = median(floor_by_format[best_format])
    by_variant = {
        v: {
            "label": load_variants.VARIANTS[v],
            "seconds": seconds[v],
            "rows_per_second": rows / median(seconds[v]),
            "client_cpu_seconds": cpu[v],
            "share_of_floor": floor_median / median(seconds[v]),
            # per repetition: the variant's time over the loader's in the same repetition
            "ratio_to_loader": [t / base for t, base in zip(seconds[v], seconds["loader"], strict=True)],
            "peak_rss_mb": peaks[v][0],
            "peak_server_mb": peaks[v][1],
        }
        for v in variants
    }
    out = {
        "rows": rows,
        "loader": by_variant["loader"],
        "variants": by_variant,
        "load_average": load_average,
        "floor": {
            "seconds_by_format": floor_by_format,
            "best_format": best_format,
            "seconds": floor_by_format[best_format],
            "rows_per_second": rows / floor_median,
            "peak_rss_mb": floor_peak,
            "peak_server_mb": floor_server,
        },
    }
    out["throughput_share"] = out["loader"]["rows_per_second"] / out["floor"]["rows_per_second"]
    return out


# ---------- dbt


class Dbt:
    def __init__(self, ctx: Context, model: str = "fact_trips") -> None:
        from orchestration.local.dbt_runner import PROJECT_DIR

        self.ctx = ctx
        self.node = f"model.tlc_warehouse.{model}"
        self.project_dir = Path(os.environ.get("BENCH_DBT_PROJECT", PROJECT_DIR))
        self.profiles = ctx.work / "dbt-profiles"
        self.profiles.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / "profiles.yml.example", self.profiles / "profiles.yml")
        self.target = ctx.work / "dbt-target"
        self.logs = ctx.work / "dbt-logs"
        self.env = {
            **os.environ,
            **ctx.connection.env(),
            "DBT_SCHEMA": "analytics",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }

    def __call__(self, *args: str) -> dict:
        cmd = [
            DBT, *args, "--project-dir", str(self.project_dir), "--profiles-dir", str(self.profiles),
            "--target-path", str(self.target), "--log-path", str(self.logs),
        ]  # fmt: skip
        results_file = self.target / "run_results.json"
        results_file.unlink(missing_ok=True)
        began = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        with PeakMemory(proc.pid, *self.ctx.pg) as memory:
            output, _ = proc.communicate()
        wall = time.perf_counter() - began
        if proc.returncode != 0:
            raise RuntimeError(f"dbt {' '.join(args)} failed:\n{output[-4000:]}")
        results = json.loads(results_file.read_text())
        fact = next((r for r in results["results"] if r["unique_id"] == self.node), None)
        return {
            "wall_seconds": wall,
            "dbt_elapsed_seconds": results.get("elapsed_time"),
            "fact_seconds": fact["execution_time"] if fact else None,
            "nodes": len(results["results"]),
            "peak_rss_mb": memory.client_mb,
            "peak_server_mb": memory.server_mb,
        }


def _month(index: int) -> tuple[int, int]:
    return _month_at(DBT_FIRST_MONTH, index)


def bench_dbt(
    ctx: Context,
    service: str = "yellow",
    rows: int | None = None,
    history: list[int] | None = None,
    model: str = "fact_trips",
) -> dict:
    """`dbt run -s <model>` for +1 month at each history, and --full-refresh at the largest."""
    import floor_ingest
    import psycopg2

    from orchestration.local import load_postgres

    rows = rows or ctx.dbt_rows
    fact = f"analytics.{model}"
    label = "dbt" if service == "yellow" else f"dbt ({service})"
    work = ctx.work / ("dbt" if service == "yellow" else f"dbt-{service}")
    source_dir = ctx.work.parent / (f"source-{rows}" if service == "yellow" else f"source-{service}-{rows}")
    lake_root, quarantine_root = work / "lake", work / "quarantine"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    history = sorted(set(history or ctx.history))
    months = max(history) + 1
    say(f"{label}: preparing {months} months x {rows:,} {service} rows (generator + DuckDB floor ingest)")
    manifests = []
    for index in range(months):
        path, _ = generate(source_dir, *_month(index), rows, service=service)
        manifests.append(floor_ingest.ingest_file(str(path), str(lake_root), str(quarantine_root)))
    reset_database(ctx)
    conn = psycopg2.connect(ctx.dsn)
    conn.autocommit = False
    load_postgres.ensure_raw_schema(conn)
    load_seconds = []

    def load(index: int) -> None:
        version = f"bench-{time.time_ns()}"
        month = load_variants.month_from_floor(manifests[index], lake_root, quarantine_root, version)
        result = load_postgres.load_partition(conn, month)
        load_seconds.append(result.seconds)

    def maintain() -> None:
        # Each timed run starts from the same steady state: no dead rows left by the previous one.
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"vacuum analyze {fact}")
        conn.autocommit = False

    def bump(index: int) -> None:
        year, month = _month(index)
        with conn.cursor() as cur:
            cur.execute(
                "update raw.partition_loads set loaded_at = clock_timestamp()"
                " where service = %s and year = %s and month = %s",
                (service, year, month),
            )
        conn.commit()

    dbt = Dbt(ctx, model)
    say(f"{label}: seeds + first full `dbt build` (1 month loaded)")
    load(0)
    full_build = dbt("build")
    say(f"  full build {full_build['wall_seconds']:.1f}s wall, {model} {full_build['fact_seconds']:.1f}s")
    loaded = 1
    incremental: dict[int, list[dict]] = {}
    full_refresh: list[dict] = []
    for h in history:
        while loaded < h:
            load(loaded)
            loaded += 1
        catch_up = dbt("run", "--select", model)  # history built, untimed
        say(f"  history {h} month(s) built (catch-up {catch_up['wall_seconds']:.1f}s)")
        if h == max(history):
            refresh_reps = 1 if rows * h >= 5_000_000 else max(1, min(ctx.reps, 2))  # minutes each
            for rep in range(refresh_reps):
                full_refresh.append(dbt("run", "--select", model, "--full-refresh"))
                say(f"  full refresh at {h} months, rep {rep + 1}: {model} {full_refresh[-1]['fact_seconds']:.1f}s")
        load(loaded)  # the new month
        new_month = loaded
        loaded += 1
        runs = []
        for rep in range(ctx.reps):
            if rep:
                bump(new_month)
            maintain()
            runs.append(dbt("run", "--select", model))
            say(
                f"  +1 month on {h} month(s): {model} {runs[-1]['fact_seconds']:.1f}s,"
                f" wall {runs[-1]['wall_seconds']:.1f}s"
            )
        incremental[h] = runs
    with conn.cursor() as cur:
        cur.execute(f"select count(*), count(distinct pickup_month) from {fact}")
        fact_rows, fact_months = cur.fetchone()
    conn.close()
    first, last = history[0], history[-1]
    inc = {h: median([r["fact_seconds"] for r in runs]) for h, runs in incremental.items()}
    inc_wall = {h: median([r["wall_seconds"] for r in runs]) for h, runs in incremental.items()}
    refresh = median([r["fact_seconds"] for r in full_refresh])
    refresh_wall = median([r["wall_seconds"] for r in full_refresh])
    return {
        "service": service,
        "model": model,
        "rows_per_month": rows,
        "months_loaded": loaded,
        "fact_rows": fact_rows,
        "fact_months": fact_months,
        "history": history,
        "load_seconds": load_seconds,
        "full_build": full_build,
        "incremental": {str(h): runs for h, runs in incremental.items()},
        "incremental_fact_seconds": {str(h): v for h, v in inc.items()},
        "incremental_wall_seconds": {str(h): v for h, v in inc_wall.items()},
        "full_refresh": full_refresh,
        "full_refresh_fact_seconds": refresh,
        "full_refresh_wall_seconds": refresh_wall,
        "ratio_history": inc[last] / inc[first],
        "ratio_history_wall": inc_wall[last] / inc_wall[first],
        "ratio_refresh": refresh / inc[last],
        "ratio_refresh_wall": refresh_wall / inc_wall[last],
    }


# ---------- first impression: `make run` on a fresh clone


def _venv_view(work: Path, clone: Path) -> Path:
    """A `.venv` for fresh clones: links to this checkout's venv and the install stamp the clone's
    Makefile looks for (a user's venv made by `make` from the same requirements has it), so `make run`
    finds the venv installed and never runs pip into it (it may be shared)."""
    venv = (REPO_ROOT / ".venv").resolve()
    checksum = subprocess.run(
        "cat requirements.lock pyproject.toml 2>/dev/null | cksum",
        shell=True,
        cwd=clone,
        capture_output=True,
        text=True,
    ).stdout.split()[0]
    view = work / "venv-view"
    shutil.rmtree(view, ignore_errors=True)
    view.mkdir(parents=True)
    for entry in venv.iterdir():
        if not entry.name.startswith(".installed-"):
            (view / entry.name).symlink_to(entry)
    (view / f".installed-{checksum}").touch()
    return view


def bench_first_run(ctx: Context) -> dict:
    """`make run` (default sample: a month of all four datasets) on a fresh `git clone` of HEAD in the
    system temp dir, `.venv` present: its own embedded PostgreSQL (initdb included), sample, Spark, dbt.
    Timed from `make run` to the last line of its summary; the stages' own times from its run report."""
    import re
    import tempfile

    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PG", "SPARK_", "PYSPARK_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV", "MAKEFLAGS")
    }
    runs = []
    say(f"first impression: {ctx.first_run_reps} x `make run` on a fresh clone of {commit[:7]}")
    for rep in range(ctx.first_run_reps):
        base = Path(tempfile.mkdtemp(prefix="tlc-first-run-"))
        clone = base / "repo"
        try:
            subprocess.run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], check=True)
            subprocess.run(["git", "checkout", "-q", commit], cwd=clone, check=True)
            (clone / ".venv").symlink_to(_venv_view(ctx.work / "first-run", clone))
            load_average = _load_average()
            began = time.perf_counter()
            proc = subprocess.Popen(
                ["make", "run"], cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            last_line_at, lines = began, []
            with PeakMemory(proc.pid) as memory:
                for line in proc.stdout:
                    last_line_at = time.perf_counter()
                    lines.append(line.rstrip("\n"))
                code = proc.wait()
            wall = time.perf_counter() - began
            if code != 0:
                raise RuntimeError("make run failed on a fresh clone:\n" + "\n".join(lines[-40:]))
            report = json.loads((clone / ".local" / "runs" / "latest.json").read_text())
            stages = {stage["name"]: stage["seconds"] for stage in report["stages"]}
            ingest_detail = next((st["detail"] for st in report["stages"] if st["name"] == "Ingest"), "")
            spark = re.search(r"Spark start ([0-9.]+)s", ingest_detail)
            run = {
                "seconds": last_line_at - began,
                "process_seconds": wall,
                "load_average": load_average,
                "stages": stages,
                "spark_start_seconds": float(spark.group(1)) if spark else None,
                "outside_stages_seconds": (last_line_at - began) - sum(stages.values()),
                "peak_rss_mb": memory.client_mb,
            }
            runs.append(run)
            say(
                f"  rep {rep + 1} (load average {load_average:.1f}): summary after {run['seconds']:.1f}s ("
                + ", ".join(f"{name} {sec:.1f}s" for name, sec in stages.items() if sec >= 0.5)
                + f", outside the stages {run['outside_stages_seconds']:.1f}s)"
            )
        finally:
            if (clone / "Makefile").exists():
                subprocess.run(["make", "stop"], cwd=clone, env=env, capture_output=True)
            shutil.rmtree(base, ignore_errors=True)
    seconds = [r["seconds"] for r in runs]
    return {"commit": commit, "runs": runs, "seconds": seconds, "median_seconds": median(seconds)}


# ---------- environment


def environment(ctx: Context) -> dict:
    import duckdb
    import psutil
    import psycopg2
    import pyarrow
    import pyspark

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    conn = psycopg2.connect(ctx.dsn)
    with conn.cursor() as cur:
        cur.execute("show server_version")
        pg_version = cur.fetchone()[0]
        settings = {}
        for name in ("shared_buffers", "work_mem", "max_wal_size", "wal_level", "max_parallel_workers_per_gather"):
            cur.execute(f"show {name}")
            settings[name] = cur.fetchone()[0]
    conn.close()
    dbt_versions = subprocess.run([DBT, "--version"], capture_output=True, text=True).stdout
    core = next((line.split(":")[-1].strip() for line in dbt_versions.splitlines() if "installed" in line), "?")
    postgres_plugin = next(
        (line.split(":")[1].split("-")[0].strip() for line in dbt_versions.splitlines() if "postgres:" in line), "?"
    )
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True)
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{model}, {psutil.cpu_count(logical=True)} cores,"
        f" {psutil.virtual_memory().total / 2**30:.0f} GiB RAM",
        "os": f"{platform.system()} {platform.release()}",
        "commit": commit.stdout.strip() or "?",
        "versions": {
            "Python": platform.python_version(),
            "PySpark": pyspark.__version__,
            "Java": java[0] if java else "?",
            "DuckDB": duckdb.__version__,
            "pyarrow": pyarrow.__version__,
            "psycopg2": psycopg2.__version__.split()[0],
            "PostgreSQL": pg_version,
            "dbt-core": core,
            "dbt-postgres": postgres_plugin,
        },
        "postgres_settings": settings,
    }


def dedicated_server(pgdata: Path, database: str, settings: str):
    """A second embedded server (experiments only), restarted with `settings` applied."""
    import psycopg2

    from orchestration.local import embedded_postgres

    connection = embedded_postgres.start(pgdata=pgdata, database=database)
    pairs = [item.split("=", 1) for item in settings.split(",") if item.strip()]
    if pairs:
        conn = psycopg2.connect(connection.dsn())
        conn.autocommit = True
        with conn.cursor() as cur:
            for key, value in pairs:
                cur.execute(f"alter system set {key.strip()} = %s", (value.strip(),))
        conn.close()
        embedded_postgres._pg_ctl(["-w", "-m", "fast", "restart"], pgdata)
        connection = embedded_postgres.start(pgdata=pgdata, database=database)
    return connection


# ---------- main


def _exclusive(lock_path: Path, what: str):
    """Hold an exclusive lock on `lock_path` until the process exits, or stop with a clear message."""
    import fcntl

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = lock_path.open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(
            f"another benchmark is running with {what} ({lock_path} is locked); "
            "wait for it, or pass a different --work-dir and --database"
        ) from None
    return handle


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=DEFAULT_SCALE, help="rows in the ingest/load month")
    parser.add_argument(
        "--dbt-rows",
        type=int,
        default=None,
        help=f"rows per month in the dbt section (default: min(scale, {DBT_ROWS_CAP:,}))",
    )
    parser.add_argument("--reps", type=int, default=3, help="repetitions per measurement (median reported)")
    parser.add_argument("--history", default="1,3,6,12", help="months of history for the incremental runs")
    parser.add_argument("--year-months", type=int, default=12, help="months of history in the year section")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "BENCHMARKS.md")
    parser.add_argument("--chart-dir", type=Path, default=REPO_ROOT / "docs" / "bench")
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / ".local" / "bench" / "run")
    parser.add_argument("--database", default="tlc_bench")
    parser.add_argument(
        "--hvfhv-rows",
        type=int,
        default=None,
        help=f"rows of the HVFHV month (default: the scale x 20/3, TLC's ratio, at most {HVFHV_REAL_ROWS:,})",
    )
    parser.add_argument("--zone-points", type=int, default=None, help="points for the zones section (default: scale)")
    parser.add_argument(
        "--first-run-reps",
        type=int,
        default=None,
        help=f"`make run` on a fresh clone, this many times (default: 5 at SCALE >= {FIRST_RUN_MIN_SCALE:,}, else 0)",
    )
    parser.add_argument(
        "--sections",
        default="ingest,load,dbt,many,hvfhv,zones,year,first-run",
        help="subset to run (for experiments)",
    )
    parser.add_argument(
        "--pgdata",
        type=Path,
        default=None,
        help="experiments: a separate embedded server in this folder (default: the project's .local/pg)",
    )
    parser.add_argument(
        "--pg-settings",
        default="",
        help="experiments, with --pgdata: ALTER SYSTEM settings applied before the run, e.g. shared_buffers=2GB",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import warnings

    from orchestration.local import embedded_postgres

    warnings.filterwarnings("ignore", module="platformdirs")  # XDG_RUNTIME_DIR unset (CI, root)

    args = parse_args(argv)
    if args.scale < 1000:
        raise SystemExit("--scale must be at least 1000 rows")
    ctx = Context(
        scale=args.scale,
        dbt_rows=args.dbt_rows or min(args.scale, DBT_ROWS_CAP),
        reps=max(1, args.reps),
        history=[int(h) for h in args.history.split(",") if h.strip()],
        work=args.work_dir.resolve(),
        database=args.database,
        hvfhv_rows=args.hvfhv_rows or hvfhv_rows_for(args.scale),
        zone_points=args.zone_points or args.scale,
        first_run_reps=args.first_run_reps
        if args.first_run_reps is not None
        else (5 if args.scale >= FIRST_RUN_MIN_SCALE else 0),
    )
    # Two benchmarks sharing a work folder or database would delete each other's data mid-run.
    held = [_exclusive(REPO_ROOT / ".local" / "bench" / f"db-{ctx.database}.lock", f"--database {ctx.database}")]
    held.append(_exclusive(ctx.work.with_name(ctx.work.name + ".lock"), f"--work-dir {ctx.work}"))
    shutil.rmtree(ctx.work, ignore_errors=True)
    ctx.work.mkdir(parents=True)
    if args.pgdata:
        ctx.connection = dedicated_server(args.pgdata.resolve(), ctx.database, args.pg_settings)
    else:
        ctx.connection = embedded_postgres.connection_for_run(ctx.database)
    sections = set(args.sections.split(","))
    began = time.perf_counter()
    results: dict = {"scale": ctx.scale, "dbt_rows": ctx.dbt_rows, "reps": ctx.reps, "hvfhv_rows": ctx.hvfhv_rows}
    if args.pgdata or os.environ.get("BENCH_DBT_PROJECT"):
        results["experiment"] = {
            "pgdata": str(args.pgdata) if args.pgdata else None,
            "pg_settings": args.pg_settings,
            "dbt_project": os.environ.get("BENCH_DBT_PROJECT"),
        }
    results["environment"] = environment(ctx)
    if "ingest" in sections or "load" in sections:
        results["ingest"] = bench_ingest(ctx)
    if "load" in sections:
        results["load"] = bench_load(ctx, results["ingest"])
    if "dbt" in sections:
        results["dbt"] = bench_dbt(ctx)
    if "many" in sections:
        results["many_files"] = bench_many_files(ctx)
    if "hvfhv" in sections:
        results["hvfhv"] = bench_hvfhv(ctx)
    if "zones" in sections:
        results["zones"] = bench_zones(ctx)
    if "year" in sections:
        results["year"] = year_bench.bench_year(ctx, args.year_months, say)
    if "first-run" in sections:
        if ctx.first_run_reps:
            results["first_run"] = bench_first_run(ctx)
        else:
            reason = (
                f"skipped at SCALE={ctx.scale:,}: each `make run` on a fresh clone starts its own PostgreSQL and"
                f" takes ~30-60 s (runs at SCALE >= {FIRST_RUN_MIN_SCALE:,}, or with --first-run-reps N)"
            )
            say(f"first impression: {reason}")
            results["first_run"] = {"skipped": reason}
    results["bench_seconds"] = time.perf_counter() - began
    chart = report.write_chart(results, args.chart_dir / f"bench-{ctx.scale}.png")
    (args.chart_dir / f"results-{ctx.scale}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    report.write_markdown(results, args.out, chart)
    say(f"done in {results['bench_seconds'] / 60:.1f} min: {args.out} ({chart})")
    print(report.summary_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
