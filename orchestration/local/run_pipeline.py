"""`make run`: the whole pipeline on this machine, in the same stages and order as the Step Functions
state machine (both read orchestration/stages.json).

    python -m orchestration.local.run_pipeline                 # synthetic sample, embedded PostgreSQL
    python -m orchestration.local.run_pipeline --source DIR    # real TLC files from DIR

Exit codes: 0 success; 1 a stage failed (dbt model/test failure, reconciliation broken);
2 bad input (nothing was loaded). A refused file is copied to `<work-dir>/quarantine/_rejected_files/`
beside its `<name>.error.json`; every run, failed or not, leaves its report in `<work-dir>/runs/`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.local import embedded_postgres
from orchestration.local.summary import RunReport, StageReport

REPO_ROOT = Path(__file__).resolve().parents[2]
STAGES_FILE = REPO_ROOT / "orchestration" / "stages.json"
# Arbitrary but fixed: the advisory-lock id every run on a warehouse takes (see run_lock).
RUN_LOCK_KEY = 7_263_001
TLC_FILE = re.compile(r"^(yellow|green)_tripdata_\d{4}-\d{2}\.(parquet|csv)$")


class InputError(Exception):
    """The input cannot be used; the message is one line naming the path and the problem."""


def stage_names() -> list[str]:
    """The stage order shared with the state machine."""
    return [stage["name"] for stage in json.loads(STAGES_FILE.read_text())["stages"]]


@dataclass
class RunConfig:
    source: Path | None
    work_dir: Path
    months: list[str]
    rows_per_month: int
    seed: int
    database: str | None = None

    @property
    def lake_root(self) -> Path:
        return self.work_dir / "lake"

    @property
    def quarantine_root(self) -> Path:
        return self.work_dir / "quarantine"

    @property
    def sample_dir(self) -> Path:
        return self.work_dir / "sample"


@dataclass
class RunState:
    """What the stages hand each other."""

    config: RunConfig
    report: RunReport
    inputs: list[Path] = field(default_factory=list)
    manifests: list[dict] = field(default_factory=list)
    connection: embedded_postgres.Connection | None = None


def say(message: str) -> None:
    # One write per line: dbt reports from several threads, and print() would interleave the newline.
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def list_source_files(source: Path) -> list[Path]:
    """The TLC files in `source`, sorted; refuses what a user would not want silently ignored."""
    if not source.exists():
        raise InputError(f"{source}: SOURCE does not exist")
    if not source.is_dir():
        raise InputError(f"{source}: SOURCE must be a folder of TLC files, this is not a folder")
    if not os.access(source, os.R_OK | os.X_OK):
        raise InputError(f"{source}: SOURCE folder is not readable")
    entries = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))
    files = [p for p in entries if TLC_FILE.match(p.name)]
    strays = [p.name for p in entries if not TLC_FILE.match(p.name) and not p.name.endswith(".expected.json")]
    if strays:
        raise InputError(
            f"{source / strays[0]}: not a TLC trip file (expected names like yellow_tripdata_2024-01.parquet"
            f" or green_tripdata_2019-06.csv); move it out of SOURCE"
            + (f" (and {len(strays) - 1} more)" if len(strays) > 1 else "")
        )
    if not files:
        raise InputError(f"{source}: SOURCE folder holds no TLC trip files (yellow_/green_tripdata_YYYY-MM.*)")
    return files


def ensure_sample(config: RunConfig) -> list[Path]:
    """Generate the synthetic sample once; later runs reuse the same files (same seed, same bytes)."""
    from ingestion import synthetic

    config.sample_dir.mkdir(parents=True, exist_ok=True)
    for month in config.months:
        year, mm = (int(part) for part in month.split("-"))
        target = config.sample_dir / f"yellow_tripdata_{year:04d}-{mm:02d}.parquet"
        if not target.exists():
            say(f"  generating {target.name} ({config.rows_per_month:,} rows)")
            synthetic.generate_month(
                out_dir=config.sample_dir,
                service="yellow",
                year=year,
                month=mm,
                rows=config.rows_per_month,
                seed=config.seed,
            )
    return list_source_files(config.sample_dir)


# ---------- stages (names match orchestration/stages.json)


def quarantine_refused(state: RunState, path: Path, problem: str | None) -> None:
    """Put a refused file where refused files go: a copy in `<quarantine>/_rejected_files/` beside its
    `<name>.error.json` (docs/data_contracts.md), which is written here unless the ingestion job already
    wrote it (`problem` None). The source is left alone: SOURCE is the user's folder."""
    from ingestion.manifest import REJECTED_DIR, write_rejection

    quarantine = state.config.quarantine_root
    if problem is not None:
        write_rejection(str(quarantine), path.name, str(path), problem)
    if path.is_file():
        shutil.copy2(path, quarantine / REJECTED_DIR / path.name)
    state.report.rejected.append(str(quarantine / REJECTED_DIR / path.name))


def validate_input(state: RunState) -> StageReport:
    from ingestion.reader import BadFileError, preflight

    cfg = state.config
    state.inputs = list_source_files(cfg.source) if cfg.source else ensure_sample(cfg)
    try:
        preflight([str(p) for p in state.inputs])
    except BadFileError as exc:
        by_name = {p.name: p for p in state.inputs}
        for problem in getattr(exc, "problems", None) or [str(exc)]:
            name, _, text = problem.partition(": ")
            if name in by_name:
                quarantine_refused(state, by_name[name], text)
        raise InputError(str(exc)) from exc
    return StageReport("ValidateInput", rows_in=None, rows_out=None, detail=f"{len(state.inputs)} file(s) accepted")


def ingest(state: RunState) -> StageReport:
    from ingestion.job import run_ingestion
    from ingestion.spark_session import get_spark

    cfg = state.config
    unchanged = _unchanged_files(state)
    if len(unchanged) == len(state.inputs):
        # Nothing new: no JVM to start (5-10 s on a laptop) for a run that would only skip.
        for manifest in unchanged:
            say(f"  {manifest['source_file']}: unchanged (sha256 already ingested), skipped")
        state.manifests, spark_note = unchanged, "Spark not started"
    else:
        spark_started = time.perf_counter()
        spark = get_spark()
        spark_note = f"Spark start {time.perf_counter() - spark_started:.1f}s"
        state.manifests = run_ingestion(
            spark,
            [str(p) for p in state.inputs],
            str(cfg.lake_root),
            str(cfg.quarantine_root),
            progress=lambda msg: say(f"  {msg}"),
        )
    state.report.files = state.manifests
    fresh = [m for m in state.manifests if not m.get("skipped") and not m.get("refused")]
    rows_read = sum(m["rows_read"] for m in fresh)
    accepted = sum(m["rows_accepted"] for m in fresh)
    quarantined = sum(m["rows_quarantined"] for m in fresh)
    if rows_read != accepted + quarantined:
        raise RuntimeError(
            f"reconciliation failed: read {rows_read} != accepted {accepted} + quarantined {quarantined}"
        )
    refused = [m for m in state.manifests if m.get("refused")]
    skipped = sum(1 for m in state.manifests if m.get("skipped"))
    detail = f"{len(fresh)} file(s) ingested, {skipped} unchanged (skipped); {spark_note}"
    for m in state.manifests:
        if m.get("refused"):  # the job wrote the error report; keep the file beside it
            quarantine_refused(state, Path(m["source_path"]), None)
        elif m.get("status") == "ingested":  # a file refused earlier and now ingested: drop the stale copy
            (cfg.quarantine_root / "_rejected_files" / m["source_file"]).unlink(missing_ok=True)
    if refused:
        raise InputError("; ".join(m["error"] for m in refused))
    return StageReport("Ingest", rows_in=rows_read, rows_out=accepted, quarantined=quarantined, detail=detail)


def _unchanged_files(state: RunState) -> list[dict]:
    """The skipped-file results of the inputs the lake already holds byte for byte (sha256)."""
    from ingestion.errors import BadFileError
    from ingestion.job import already_ingested
    from ingestion.reader import fingerprint, inspect_file

    unchanged = []
    for path in state.inputs:
        try:
            inspection = inspect_file(str(path))
            digest = fingerprint(inspection)  # also proves a CSV is UTF-8 past the preflight's 64 KiB
        except BadFileError:
            continue  # not unchanged: the ingestion job refuses it and writes its report
        previous = already_ingested(inspection.raw.name, digest, str(state.config.lake_root))
        if previous is not None:
            unchanged.append(previous)
    return unchanged


def register_partitions(state: RunState) -> StageReport:
    import psycopg2

    from orchestration.local.load_postgres import load_lake

    cfg = state.config
    conn = psycopg2.connect(state.connection.dsn())
    try:
        loads = load_lake(conn, cfg.lake_root, cfg.quarantine_root, progress=lambda msg: say(f"  {msg}"))
    finally:
        conn.close()
    fresh = [load for load in loads if not load.skipped]
    return StageReport(
        "RegisterPartitions",
        rows_in=sum(load.rows_loaded + load.rows_quarantined for load in fresh),
        rows_out=sum(load.rows_loaded for load in fresh),
        quarantined=sum(load.rows_quarantined for load in fresh),
        detail=f"{len(fresh)} partition(s) swapped into PostgreSQL, {len(loads) - len(fresh)} unchanged",
    )


def transform(state: RunState) -> StageReport:
    from orchestration.local.dbt_runner import run_dbt_build

    outcome = run_dbt_build(state.connection, progress=lambda msg: say(f"  {msg}"), work_dir=state.config.work_dir)
    state.report.dbt = outcome
    if not outcome.success:
        raise RuntimeError(f"dbt build failed: {outcome.failures_text()}")
    return StageReport(
        "Transform",
        rows_in=None,
        rows_out=outcome.fact_rows,
        detail=f"{outcome.models_ok} model(s), {outcome.tests_passed} test(s) passed, {outcome.tests_failed} failed",
    )


def publish_artifacts(state: RunState) -> StageReport:
    target = state.config.work_dir / "dbt" / "target"
    dest = state.config.work_dir / "artifacts" / state.report.run_id
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in ("run_results.json", "manifest.json"):
        if (target / name).exists():
            shutil.copy2(target / name, dest / name)
            copied.append(name)
    state.report.artifacts_dir = dest
    return StageReport("PublishArtifacts", detail=f"{', '.join(copied) or 'nothing'} -> {dest}")


def notify_success(state: RunState) -> StageReport:
    return StageReport("NotifySuccess", detail="summary below")


STAGES: dict[str, Callable[[RunState], StageReport]] = {
    "ValidateInput": validate_input,
    "Ingest": ingest,
    "RegisterPartitions": register_partitions,
    "Transform": transform,
    "PublishArtifacts": publish_artifacts,
    "NotifySuccess": notify_success,
}


def new_report(config: RunConfig) -> RunReport:
    return RunReport(run_id=time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6], work_dir=config.work_dir)


def run(config: RunConfig, report: RunReport | None = None) -> RunReport:
    """Run every stage in order; stop at the first failure (as the state machine's Catch does).

    On a failure `report` (when given) holds the failed stage and the error for the caller to record.
    """
    names = stage_names()
    missing = [n for n in names if n not in STAGES]
    if missing:
        raise RuntimeError(f"orchestration/stages.json names stages the local runner lacks: {missing}")
    report = report or new_report(config)
    state = RunState(config=config, report=report)
    state.connection = embedded_postgres.connection_for_run(config.database)
    report.connection = state.connection
    saved_env = dict(os.environ)
    os.environ.update(state.connection.env())  # dbt (in-process) reads its profile from these PG* variables
    try:
        with run_lock(state.connection):
            _run_stages(names, state)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
    report.collect_warehouse_counts()
    return report


@contextmanager
def run_lock(connection: embedded_postgres.Connection) -> Iterator[None]:
    """Serialize runs on one warehouse: a session advisory lock, held for the whole run.

    Two runs at once would race on the same lake partitions and the same fact months; the second
    waits here with a message instead. The lock dies with the session, so a killed run never leaves
    it behind.
    """
    import psycopg2

    conn = psycopg2.connect(connection.dsn())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("select pg_try_advisory_lock(%s)", (RUN_LOCK_KEY,))
            if not cur.fetchone()[0]:
                say(f"another pipeline run holds the lock on database {connection.database}; waiting for it to finish")
                cur.execute("select pg_advisory_lock(%s)", (RUN_LOCK_KEY,))
        yield
    finally:
        conn.close()


def _run_stages(names: list[str], state: RunState) -> None:
    report = state.report
    for index, name in enumerate(names, start=1):
        say(f"[{index}/{len(names)}] {name}")
        started = time.perf_counter()
        try:
            stage = STAGES[name](state)
        except BaseException as exc:
            report.failed_stage = name
            report.error = str(exc)
            report.stages.append(StageReport(name, seconds=time.perf_counter() - started, detail="FAILED"))
            raise
        stage.seconds = time.perf_counter() - started
        report.stages.append(stage)


def parse_args(argv: list[str] | None) -> RunConfig:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=None, help="folder of TLC files (default: synthetic sample)")
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / ".local", help="lake, quarantine, artifacts")
    parser.add_argument("--months", default="2024-01,2024-02,2024-03", help="synthetic sample months")
    parser.add_argument("--rows", type=int, default=100_000, help="synthetic rows per month")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database", default=None, help="PostgreSQL database (default: PGDATABASE or tlc)")
    args = parser.parse_args(argv)
    return RunConfig(
        source=args.source.expanduser().resolve() if args.source else None,
        work_dir=args.work_dir.resolve(),
        months=[m.strip() for m in args.months.split(",") if m.strip()],
        rows_per_month=args.rows,
        seed=args.seed,
        database=args.database,
    )


def _record_failure(report: RunReport, exc: BaseException) -> Path | None:
    """The failure notification's durable half: the run report with failed_stage and error."""
    report.error = report.error or str(exc)
    try:
        return report.write_json()
    except OSError:
        return None  # the one-line error on stderr (and the exit code) still tell the story


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    report = new_report(config)
    try:
        run(config, report)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("nothing was loaded.", file=sys.stderr)
        if report.rejected:
            print(f"refused file(s) and error report(s) in {Path(report.rejected[0]).parent}", file=sys.stderr)
        _record_failure(report, exc)
        return 2
    except Exception as exc:  # noqa: BLE001 - the stage name and one line; the traceback is in the log
        print(f"error: pipeline failed in stage {report.failed_stage or 'setup'}: {exc}", file=sys.stderr)
        _record_failure(report, exc)
        return 1
    report.print()
    report.write_json()
    return 0


if __name__ == "__main__":
    sys.exit(main())
