"""`make bench`: every pipeline stage measured beside the fastest way to do the same work here.

    .venv/bin/python tests/bench/run_bench.py [--scale ROWS] [--dbt-rows ROWS] [--reps N]
                                              [--history 1,3,6,12] [--out BENCHMARKS.md]

1. Ingest: the PySpark job (ingestion/job.py) on one synthetic month, each repetition a fresh process
   (session/JVM start timed on its own), vs the DuckDB floor (tests/bench/floor_ingest.py) on the
   same file. Both must accept and quarantine exactly the rows the generator's .expected.json says.
2. Load: orchestration/local/load_postgres.py swapping that lake month into PostgreSQL vs a raw COPY
   of the same rows (CSV and binary, files rendered beforehand by Postgres itself) into plain tables.
3. dbt: a full `dbt build`, then `dbt run --select fact_trips` for +1 month with 1, 3, 6, 12 months
   already built, and `--full-refresh` at the largest history; model time from run_results.json and
   the wall time of the dbt process.
4. Peak memory of every stage: RSS of the process tree (Python, the JVM) and PSS of the PostgreSQL
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

PY = sys.executable
DBT = str(Path(sys.executable).with_name("dbt"))
DEFAULT_SCALE = 200_000
# The dbt section loads 13 months: above this many rows per month it uses this many (stated in the
# report), so a real-size run (SCALE=3000000) stays within about an hour and ~15 GB of disk.
DBT_ROWS_CAP = 1_000_000
INGEST_MONTH = (2024, 1)
DBT_FIRST_MONTH = (2023, 1)
FACT = "analytics.fact_trips"
FACT_NODE = "model.tlc_warehouse.fact_trips"


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
    connection: object = None
    results: dict = field(default_factory=dict)

    @property
    def dsn(self) -> str:
        return self.connection.dsn()

    @property
    def pg(self) -> tuple[str, str]:
        return self.dsn, self.database


def generate(directory: Path, year: int, month: int, rows: int) -> tuple[Path, dict]:
    """A synthetic yellow month (reused when the same rows were generated before: same seed, same bytes)."""
    from ingestion import synthetic

    name = synthetic.file_name("yellow", year, month)
    path = directory / name
    expected_path = directory / f"{name}.expected.json"
    if path.exists() and expected_path.exists():
        expected = json.loads(expected_path.read_text())
        if expected.get("rows") == rows:
            return path, expected
    expected = synthetic.generate_month(directory, "yellow", year, month, rows=rows, seed=42)
    return path, expected


def _counts(run: dict) -> tuple:
    return run["rows_read"], run["rows_accepted"], run["rows_quarantined"], dict(run["quarantined_by_reason"])


def bench_ingest(ctx: Context) -> dict:
    source_dir = ctx.work.parent / f"source-{ctx.scale}"
    say(f"generating one synthetic month of {ctx.scale:,} yellow trips")
    began = time.perf_counter()
    path, expected = generate(source_dir, *INGEST_MONTH, ctx.scale)
    generate_seconds = time.perf_counter() - began
    want = (
        expected["rows"],
        expected["rows_accepted"],
        expected["rows_quarantined"],
        expected["quarantined_by_reason"],
    )
    work = ctx.work / "ingest"
    work.mkdir(parents=True, exist_ok=True)

    say(f"ingest: {ctx.reps} rep(s), each the DuckDB floor then the Spark job (a fresh process: cold + warm run)")
    floor_runs, floor_starts, floor_peak, floor_walls = [], [], 0.0, []
    spark_runs, session, cold, warm, spark_peak, spark_walls = [], [], [], [], 0.0, []
    for rep in range(ctx.reps):  # interleaved, so load from other users hits both sides alike
        result, memory, wall = run_child("floor-ingest", {"file": str(path), "work_dir": str(work), "runs": 1}, work)
        floor_runs += result["runs"]
        floor_starts.append(result["start_seconds"])
        floor_peak = max(floor_peak, memory.client_mb)
        floor_walls.append(wall)
        result, memory, wall = run_child(
            "spark-ingest", {"file": str(path), "work_dir": str(work / f"rep{rep}"), "runs": 2}, work
        )
        spark_runs.append(result)
        session.append(result["session_seconds"])
        cold.append(result["runs"][0]["seconds"])
        warm.append(result["runs"][1]["seconds"])
        spark_peak = max(spark_peak, memory.client_mb)
        spark_walls.append(wall)
        say(
            f"  rep {rep + 1}: floor {floor_runs[-1]['seconds']:.1f}s; Spark session {session[-1]:.1f}s,"
            f" cold {cold[-1]:.1f}s, warm {warm[-1]:.1f}s"
        )
    identical = all(_counts(r) == want for r in floor_runs) and all(
        _counts(run) == want for result in spark_runs for run in result["runs"]
    )
    floor_times = [r["seconds"] for r in floor_runs]
    totals = [s + c for s, c in zip(session, cold, strict=True)]
    out = {
        "rows": ctx.scale,
        "source_file": path.name,
        "source_mb": path.stat().st_size / 2**20,
        "generate_seconds": generate_seconds,
        "expected": expected,
        "counts_identical": identical,
        "spark": {
            "session_seconds": session,
            "cold_seconds": cold,
            "warm_seconds": warm,
            "total_seconds": totals,
            "process_wall_seconds": spark_walls,
            "peak_rss_mb": spark_peak,
            "runs": spark_runs,
        },
        "floor": {
            "seconds": floor_times,
            "start_seconds": floor_starts,
            "process_wall_seconds": floor_walls,
            "peak_rss_mb": floor_peak,
        },
    }
    f = median(floor_times)
    out["ratio_total"] = median(totals) / f
    out["ratio_cold"] = median(cold) / f
    out["ratio_warm"] = median(warm) / f
    out["lake_root"] = spark_runs[0]["runs"][0]["lake_root"]
    out["quarantine_root"] = spark_runs[0]["runs"][0]["quarantine_root"]
    if not identical:
        say("WARNING: the Spark job or the floor did not accept/quarantine exactly the expected rows")
    return out


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


def bench_load(ctx: Context, ingest: dict) -> dict:
    import psycopg2

    work = ctx.work / "load"
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
    say("load: first load of the month (untimed), then the rows rendered for the raw COPY floor")
    first, _, _ = run_child("load", load_args, work, ctx.pg)
    expected_counts = (first["runs"][0]["rows_loaded"], first["runs"][0]["rows_quarantined"])
    rows = sum(expected_counts)
    year, month = INGEST_MONTH
    child = f"raw.yellow_trips_{year:04d}_{month:02d}"
    files = {}
    conn = psycopg2.connect(ctx.dsn)
    with conn.cursor() as cur:
        cur.execute("create schema if not exists bench_floor")
        for fmt in ("csv", "binary"):
            for name, query in (
                ("trips", f"select * from {child}"),
                ("quarantine", f"select * from raw.quarantined_trips where year = {year} and month = {month}"),
            ):
                target = work / f"{name}.{fmt}"
                with open(target, "wb") as handle:
                    cur.copy_expert(f"copy ({query}) to stdout with (format {fmt})", handle)
                files.setdefault(name, {})[fmt] = str(target)
    conn.commit()
    conn.close()
    floor_args = {
        "dsn": ctx.dsn,
        "formats": ["csv", "binary"],
        "runs": 1,
        "tables": [
            ["bench_floor.trips", "raw.yellow_trips", files["trips"]],
            ["bench_floor.quarantine", "raw.quarantined_trips", files["quarantine"]],
        ],
    }
    variants = list(load_variants.VARIANTS)
    say(
        f"load: {ctx.reps} rep(s), each a reload of the month by every loader variant ({', '.join(variants)}),"
        " then the raw COPY (csv, binary)"
    )
    seconds = {v: [] for v in variants}
    cpu = {v: [] for v in variants}
    peaks = {v: (0.0, 0.0) for v in variants}
    floor_runs = {"csv": [], "binary": []}
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
            f"  rep {rep + 1} (load average {load_average[-1]:.1f}): "
            + ", ".join(f"{v} {seconds[v][-1]:.1f}s" for v in variants)
            + f"; raw COPY csv {floor_runs['csv'][-1]['seconds']:.1f}s,"
            + f" binary {floor_runs['binary'][-1]['seconds']:.1f}s"
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
    def __init__(self, ctx: Context) -> None:
        from orchestration.local.dbt_runner import PROJECT_DIR

        self.ctx = ctx
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
        fact = next((r for r in results["results"] if r["unique_id"] == FACT_NODE), None)
        return {
            "wall_seconds": wall,
            "dbt_elapsed_seconds": results.get("elapsed_time"),
            "fact_seconds": fact["execution_time"] if fact else None,
            "nodes": len(results["results"]),
            "peak_rss_mb": memory.client_mb,
            "peak_server_mb": memory.server_mb,
        }


def _month(index: int) -> tuple[int, int]:
    year, month = DBT_FIRST_MONTH
    total = year * 12 + (month - 1) + index
    return total // 12, total % 12 + 1


def bench_dbt(ctx: Context) -> dict:
    import floor_ingest
    import psycopg2

    from orchestration.local import load_postgres

    work = ctx.work / "dbt"
    source_dir = ctx.work.parent / f"source-{ctx.dbt_rows}"
    lake_root, quarantine_root = work / "lake", work / "quarantine"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    history = sorted(set(ctx.history))
    months = max(history) + 1
    say(f"dbt: preparing {months} months x {ctx.dbt_rows:,} rows (generator + DuckDB floor ingest)")
    manifests = []
    for index in range(months):
        path, _ = generate(source_dir, *_month(index), ctx.dbt_rows)
        manifests.append(floor_ingest.ingest_file(str(path), str(lake_root), str(quarantine_root)))
    reset_database(ctx)
    conn = psycopg2.connect(ctx.dsn)
    conn.autocommit = False
    load_postgres.ensure_raw_schema(conn)
    load_seconds = []

    def load(index: int) -> None:
        result = load_postgres.load_partition(conn, manifests[index], lake_root, quarantine_root)
        load_seconds.append(result.seconds)

    def maintain() -> None:
        # Each timed run starts from the same steady state: no dead rows left by the previous one.
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"vacuum analyze {FACT}")
        conn.autocommit = False

    def bump(index: int) -> None:
        year, month = _month(index)
        with conn.cursor() as cur:
            cur.execute(
                "update raw.partition_loads set loaded_at = clock_timestamp()"
                " where service = 'yellow' and year = %s and month = %s",
                (year, month),
            )
        conn.commit()

    dbt = Dbt(ctx)
    say("dbt: seeds + first full `dbt build` (1 month loaded)")
    load(0)
    full_build = dbt("build")
    say(f"  full build {full_build['wall_seconds']:.1f}s wall, fact_trips {full_build['fact_seconds']:.1f}s")
    loaded = 1
    incremental: dict[int, list[dict]] = {}
    full_refresh: list[dict] = []
    for h in history:
        while loaded < h:
            load(loaded)
            loaded += 1
        catch_up = dbt("run", "--select", "fact_trips")  # history built, untimed
        say(f"  history {h} month(s) built (catch-up {catch_up['wall_seconds']:.1f}s)")
        if h == max(history):
            refresh_reps = 1 if ctx.dbt_rows * h >= 5_000_000 else max(1, min(ctx.reps, 2))  # minutes each
            for rep in range(refresh_reps):
                full_refresh.append(dbt("run", "--select", "fact_trips", "--full-refresh"))
                say(f"  full refresh at {h} months, rep {rep + 1}: fact_trips {full_refresh[-1]['fact_seconds']:.1f}s")
        load(loaded)  # the new month
        new_month = loaded
        loaded += 1
        runs = []
        for rep in range(ctx.reps):
            if rep:
                bump(new_month)
            maintain()
            runs.append(dbt("run", "--select", "fact_trips"))
            say(
                f"  +1 month on {h} month(s): fact_trips {runs[-1]['fact_seconds']:.1f}s,"
                f" wall {runs[-1]['wall_seconds']:.1f}s"
            )
        incremental[h] = runs
    with conn.cursor() as cur:
        cur.execute(f"select count(*), count(distinct pickup_month) from {FACT}")
        fact_rows, fact_months = cur.fetchone()
    conn.close()
    first, last = history[0], history[-1]
    inc = {h: median([r["fact_seconds"] for r in runs]) for h, runs in incremental.items()}
    inc_wall = {h: median([r["wall_seconds"] for r in runs]) for h, runs in incremental.items()}
    refresh = median([r["fact_seconds"] for r in full_refresh])
    refresh_wall = median([r["wall_seconds"] for r in full_refresh])
    return {
        "rows_per_month": ctx.dbt_rows,
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
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "BENCHMARKS.md")
    parser.add_argument("--chart-dir", type=Path, default=REPO_ROOT / "docs" / "bench")
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / ".local" / "bench" / "run")
    parser.add_argument("--database", default="tlc_bench")
    parser.add_argument("--sections", default="ingest,load,dbt", help="subset to run (for experiments)")
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
    results: dict = {"scale": ctx.scale, "dbt_rows": ctx.dbt_rows, "reps": ctx.reps}
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
    results["bench_seconds"] = time.perf_counter() - began
    chart = report.write_chart(results, args.chart_dir / f"bench-{ctx.scale}.png")
    (args.chart_dir / f"results-{ctx.scale}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    report.write_markdown(results, args.out, chart)
    say(f"done in {results['bench_seconds'] / 60:.1f} min: {args.out} ({chart})")
    print(report.summary_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
