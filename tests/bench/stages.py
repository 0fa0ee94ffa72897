"""What the benchmark runs in child processes, one process per measurement series, so the parent can
sample each stage's memory (the process tree: Python plus, for Spark, the JVM) on its own.

    python tests/bench/stages.py <stage> --args-json '{...}' --out result.json

Every stage writes a JSON result; timings come from time.perf_counter() around the work itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
for extra in (REPO_ROOT, Path(__file__).resolve().parent):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))


def _file_counts(manifest: dict | None, status: str | None = None) -> dict:
    manifest = manifest or {}
    return {
        "source_file": manifest.get("source_file"),
        "status": status,
        "rows_read": manifest.get("rows_read"),
        "rows_accepted": manifest.get("rows_accepted"),
        "rows_quarantined": manifest.get("rows_quarantined"),
        "quarantined_by_reason": manifest.get("quarantined_by_reason"),
        "warnings_by_code": manifest.get("warnings_by_code"),
    }


def _files(args: dict) -> list[str]:
    return list(args.get("files") or [args["file"]])


def spark_ingest(args: dict) -> dict:
    """A cold process: session start (JVM launch included), then the job on the files, `runs` times
    (run 1 is what a user's `make run` pays; later runs show the warm-JVM cost). The job is
    `plan` + `execute` (what `run_ingestion` does without an archive), each timed, and every file's
    own time inside its Spark task (`FileResult.seconds`)."""
    started = time.perf_counter()
    from ingestion.spark_session import get_spark

    spark = get_spark()
    session_seconds = time.perf_counter() - started
    from ingestion.job import execute, plan

    runs = []
    for index in range(int(args.get("runs", 1))):
        out = Path(args["work_dir"]) / f"spark-{index}"
        shutil.rmtree(out, ignore_errors=True)
        began = time.perf_counter()
        planned = plan(_files(args), str(out / "lake"), str(out / "quarantine"))
        planned_at = time.perf_counter()
        results = execute(planned, lambda: spark)
        done = time.perf_counter()
        runs.append(
            {
                "seconds": done - began,
                "plan_seconds": planned_at - began,
                "execute_seconds": done - planned_at,
                "file_seconds": [r.seconds for r in results],
                "lake_root": str(out / "lake"),
                "quarantine_root": str(out / "quarantine"),
                "files": [_file_counts(r.manifest, r.status) for r in results],
            }
        )
    spark.stop()
    return {"session_seconds": session_seconds, "runs": runs}


def floor_ingest(args: dict) -> dict:
    """The DuckDB floor on the same files (one connection, each file in turn), `runs` times in one process."""
    started = time.perf_counter()
    import duckdb  # noqa: F401 - import cost reported as the floor's "start"
    import floor_ingest as floor

    start_seconds = time.perf_counter() - started
    runs = []
    for index in range(int(args.get("runs", 1))):
        out = Path(args["work_dir"]) / f"floor-{index}"
        shutil.rmtree(out, ignore_errors=True)
        result = floor.ingest_files(_files(args), str(out / "lake"), str(out / "quarantine"), args.get("threads"))
        runs.append(
            {
                "seconds": result["seconds"],
                "lake_root": str(out / "lake"),
                "quarantine_root": str(out / "quarantine"),
                "files": [_file_counts(m, "ingested") for m in result["manifests"]],
            }
        )
    return {"start_seconds": start_seconds, "runs": runs}


def zones(args: dict) -> dict:
    """Throughput of ingestion.zones.assign_zones (tests/bench/zones_bench.py) in a fresh process."""
    import zones_bench

    return zones_bench.measure(int(args["points"]), int(args.get("reps", 3)))


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load(args: dict) -> dict:
    """One lake month swapped into PostgreSQL `runs` times by a loader variant (tests/bench/load_variants.py;
    default: orchestration/local/load_postgres.py as shipped), each a real reload: a new lake version, so
    the month is swapped in again."""
    import load_variants
    import psycopg2

    from orchestration.local import load_postgres

    conn = psycopg2.connect(args["dsn"])
    load_postgres.ensure_raw_schema(conn)
    conn.close()
    variant = args.get("variant", "loader")
    manifest = json.loads(Path(args["manifest"]).read_text())
    key = (manifest["service"], manifest["year"], manifest["month"])
    [month] = [
        m
        for m in load_postgres.lake_months(Path(args["lake_root"]), Path(args["quarantine_root"]))
        if (m.service, m.year, m.month) == key
    ]
    runs = []
    for index in range(int(args.get("runs", 1))):
        month = dataclasses.replace(month, version=f"bench-{time.time_ns()}-{index}")  # a reload every run
        began, cpu = time.perf_counter(), _cpu_seconds()
        result = load_variants.load(variant, args["dsn"], month)
        runs.append(
            {
                "seconds": time.perf_counter() - began,
                "client_cpu_seconds": _cpu_seconds() - cpu,  # every thread of this process (read, encode, send)
                "rows_loaded": result.rows_loaded,
                "rows_quarantined": result.rows_quarantined,
            }
        )
    return {"variant": variant, "runs": runs}


def copy_floor(args: dict) -> dict:
    """A raw COPY of the same rows: files already rendered (by Postgres itself, from the loaded month)
    streamed into fresh plain tables in one transaction; nothing else (no partition, no ANALYZE)."""
    import psycopg2

    conn = psycopg2.connect(args["dsn"])
    results = {}
    for fmt in args["formats"]:
        runs = []
        for _ in range(int(args.get("runs", 1))):
            began = time.perf_counter()
            with conn.cursor() as cur:
                for table, like, path in args["tables"]:
                    cur.execute(f"drop table if exists {table}")
                    cur.execute(f"create table {table} (like {like})")
                    with open(path[fmt], "rb") as handle:
                        cur.copy_expert(f"copy {table} from stdin with (format {fmt})", handle, size=1 << 20)
            conn.commit()
            runs.append({"seconds": time.perf_counter() - began})
        results[fmt] = runs
    conn.close()
    return {"formats": results}


STAGES = {
    "spark-ingest": spark_ingest,
    "floor-ingest": floor_ingest,
    "zones": zones,
    "load": load,
    "copy-floor": copy_floor,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("stage", choices=sorted(STAGES))
    parser.add_argument("--args-json", required=True)
    parser.add_argument("--out", required=True)
    options = parser.parse_args(argv)
    result = STAGES[options.stage](json.loads(options.args_json))
    Path(options.out).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
