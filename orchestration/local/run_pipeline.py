"""`make run`: the whole pipeline on this machine, in the same stages and order as the Step Functions
state machine (both read orchestration/stages.json).

    python -m orchestration.local.run_pipeline                 # synthetic sample, embedded PostgreSQL
    python -m orchestration.local.run_pipeline --source DIR    # real TLC files from DIR

Exit status: see below (orchestration/local/failures.py, EXIT_STATUS). `make` itself exits 2 whenever
the pipeline fails; the pipeline's own status is on the last line of its output, which names the stage
and the cause, also when the run was interrupted (Ctrl-C, SIGTERM), the disk filled up or a child
process was killed. A refused file is copied to `<work-dir>/quarantine/_rejected_files/` beside its
`<name>.error.json`; every run, failed or not, leaves its report in `<work-dir>/runs/`, and a failed
one its details in `<work-dir>/runs/<run_id>.log`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ingestion import lake_lock
from ingestion.contract import FILE_NAME, FILE_NAME_HELP, landing_suffixes
from orchestration.container.entrypoint import RECONCILIATION_TEST
from orchestration.local import embedded_postgres, failures
from orchestration.local.environment import environment
from orchestration.local.summary import RunReport, StageReport

REPO_ROOT = Path(__file__).resolve().parents[2]
# Arbitrary but fixed: the advisory-lock id every run on a warehouse takes (see run_lock).
RUN_LOCK_KEY = 7_263_001


class InputError(Exception):
    """The input cannot be used; the message is one line naming the path and the problem."""


def stage_names() -> list[str]:
    """The stage order shared with the state machine."""
    from orchestration.aws.definition import stage_names as shared

    return shared()


# The default sample: yellow for every --months month, and one month (the first) of each other dataset.
SAMPLE_OTHER_SERVICES = ("green", "fhv", "fhvhv")


@dataclass
class RunConfig:
    source: Path | None
    work_dir: Path
    months: list[str]
    rows_per_month: int
    seed: int
    database: str | None = None
    other_rows: int = 0  # rows of the month of each SAMPLE_OTHER_SERVICES dataset; 0: yellow only

    def sample_files(self) -> list[tuple[str, int, int, int]]:
        """(service, year, month, rows) of every file of the synthetic sample."""
        months = [tuple(int(part) for part in month.split("-")) for month in self.months]
        files = [("yellow", year, month, self.rows_per_month) for year, month in months]
        if self.other_rows and months:
            files += [(service, *months[0], self.other_rows) for service in SAMPLE_OTHER_SERVICES]
        return files

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
    plan: object | None = None  # ingestion.job.Plan
    connection: embedded_postgres.Connection | None = None


def say(message: str) -> None:
    # One write per line: dbt reports from several threads, and print() would interleave the newline.
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


# A file with one of these endings (the contract's formats, or other ways data comes) or "tripdata" in its
# name is meant as trip data: a name the job does not know refuses the run. Other files (a README,
# provenance notes) are passed over, and listed.
_DATA_ENDINGS = (*landing_suffixes(), ".gz", ".zip", ".json", ".jsonl")


def _looks_like_data(name: str) -> bool:
    return name.lower().endswith(_DATA_ENDINGS) or "tripdata" in name.lower()


def _passed_over_below(folder: Path, source: Path) -> list[str]:
    """Every file under a sub-folder of SOURCE (not read: SOURCE's own files are the delivery), as
    `<path relative to SOURCE> (<why>)`; links to folders are not followed, so a loop cannot recurse."""
    found: list[str] = []

    def unreadable(error: OSError) -> None:
        found.append(f"{Path(error.filename).relative_to(source)}/ (folder not readable: {error.strerror})")

    for root, folders, files in os.walk(folder, onerror=unreadable):
        here = Path(root)
        for name in sorted(files) + sorted(n for n in folders if (here / n).is_symlink()):
            found.append(f"{(here / name).relative_to(source)} (in a sub-folder; only SOURCE's own files are read)")
        folders.sort()
    return found or [f"{folder.relative_to(source)}/ (an empty sub-folder)"]


def list_source_files(source: Path, ignored: list[str] | None = None) -> list[Path]:
    """The TLC files in `source`, sorted; refuses, naming each, what a user would not want ignored:
    data files with other names, folders or odd files (FIFO, link loop, unreadable) with TLC names, and
    broken links. Every other entry under `source` (notes, hidden files, whatever sub-folders hold) is
    not read, and goes to `ignored` by its path relative to `source`: a file is read or named."""
    from ingestion.raw_files import local_file_problem

    if not source.exists():
        raise InputError(f"{source}: SOURCE does not exist")
    if not source.is_dir():
        raise InputError(f"{source}: SOURCE must be a folder of TLC files, this is not a folder")
    if not os.access(source, os.R_OK | os.X_OK):
        raise InputError(f"{source}: SOURCE folder is not readable")
    problems: list[str] = []
    files: list[Path] = []
    passed_over: list[str] = []
    for path in sorted(source.iterdir()):
        tlc_name = bool(FILE_NAME.match(path.name))
        problem = local_file_problem(str(path))
        if path.is_symlink() and not path.exists():
            problems.append(f"{path}: {problem}")  # a broken link or a loop, whatever its name
        elif path.is_dir():
            if tlc_name:
                problems.append(f"{path}: is a folder, not a file; SOURCE must hold the TLC files themselves")
            elif path.is_symlink():
                passed_over.append(f"{path.name}/ (a link to a folder, not followed)")
            else:
                passed_over += _passed_over_below(path, source)
        elif tlc_name:
            if problem is None:
                files.append(path)
            else:
                problems.append(f"{path}: {problem}")
        elif path.name.endswith(".expected.json"):
            passed_over.append(path.name)  # the synthetic generator's expectations, beside its files
        elif _looks_like_data(path.name) and not path.name.startswith("."):
            problems.append(
                f"{path}: not a TLC trip file (expected names like {FILE_NAME_HELP}); move it out of SOURCE"
            )
        else:
            passed_over.append(path.name if problem is None else f"{path.name} ({problem})")
    if problems:
        more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:4])})" if len(problems) > 1 else ""
        raise InputError(problems[0] + more)
    if not files:
        raise InputError(f"{source}: SOURCE folder holds no TLC trip files ({FILE_NAME_HELP})")
    if ignored is not None:
        ignored += passed_over
    return files


def ensure_sample(config: RunConfig) -> list[Path]:
    """Generate the synthetic sample once; later runs reuse the same files (same seed, same bytes)."""
    from ingestion import synthetic

    config.sample_dir.mkdir(parents=True, exist_ok=True)
    for service, year, month, rows in config.sample_files():
        target = config.sample_dir / synthetic.file_name(service, year, month)
        if not target.exists():
            say(f"  generating {target.name} ({rows:,} rows)")
            synthetic.generate_month(
                out_dir=config.sample_dir, service=service, year=year, month=month, rows=rows, seed=config.seed
            )
    return list_source_files(config.sample_dir)


# ---------- stages (names match orchestration/stages.json)


def _dispose(state: RunState, results: list) -> list:
    """Each raw file where the job puts it (`ingestion.job.dispose`: a refused one copied beside its
    report in `<quarantine>/_rejected_files/`; SOURCE, the user's folder, is left alone)."""
    from ingestion.job import dispose

    return dispose(results, str(state.config.lake_root), str(state.config.quarantine_root))


def _stop_refused(state: RunState, refused: list) -> None:
    state.report.rejected += [result.moved_to or result.rejection_report for result in refused]
    raise InputError("; ".join(result.error for result in refused))


def validate_input(state: RunState) -> StageReport:
    """Name, header/footer and columns of every file, and its sha256 (the one full read before the
    job), without Spark: a refused file stops the run here, before anything is written."""
    from ingestion.errors import InputSetError
    from ingestion.job import plan, refusal

    cfg = state.config
    ignored = state.report.passed_over
    state.inputs = list_source_files(cfg.source, ignored) if cfg.source else ensure_sample(cfg)
    for entry in ignored:
        say(f"  passed over, not read: {entry}")
    try:
        state.plan = plan([str(p) for p in state.inputs], str(cfg.lake_root), str(cfg.quarantine_root))
        state.plan.orphan_min_age = dt.timedelta(0)  # the run holds the lake (ingestion.lake_lock)
    except InputSetError as exc:
        refused = [refusal(error.path, error, str(cfg.quarantine_root)) for error in exc.refusals]
        _stop_refused(state, _dispose(state, refused))
    state.report.files = [r.to_dict() for r in state.plan.refused]
    if state.plan.refused:
        _stop_refused(state, _dispose(state, state.plan.refused))
    unchanged = len(state.inputs) - len(state.plan.to_ingest)
    return StageReport(
        "ValidateInput",
        detail=f"{len(state.inputs)} file(s) accepted, {unchanged} already in the lake (same sha256)"
        + (f"; {len(ignored)} passed over, not read (named above and in the summary)" if ignored else ""),
    )


def ingest(state: RunState) -> StageReport:
    from ingestion.job import describe, execute
    from ingestion.results import FAILED, INGESTED, REFUSED

    timing: dict[str, float] = {}

    def spark():
        from ingestion.spark_session import get_spark

        started = time.perf_counter()
        session = get_spark(output=str(run_log(state.config, state.report)))
        failures.reinstall()  # a new SparkContext takes SIGINT over
        timing["spark"] = time.perf_counter() - started
        return session

    if state.plan.to_ingest:
        say(f"  ingesting {len(state.plan.to_ingest)} file(s) on Spark (one job, one task per core)")
    results = _dispose(state, execute(state.plan, spark, lambda message: say(f"  {message}")))
    for result in results:
        say(f"  {describe(result)}")
    state.report.files = [r.to_dict() for r in results]
    fresh = [r for r in results if r.status == INGESTED]
    failed = [r for r in results if r.status == FAILED]
    if failed:
        raise RuntimeError("; ".join(r.error for r in failed))
    refused = [r for r in results if r.status == REFUSED]
    if refused:
        _stop_refused(state, refused)
    rows_read = sum(r.count("rows_read") for r in fresh)
    accepted = sum(r.count("rows_accepted") for r in fresh)
    quarantined = sum(r.count("rows_quarantined") for r in fresh)
    spark_note = f"Spark start {timing['spark']:.1f}s" if "spark" in timing else "Spark not started"
    detail = f"{len(fresh)} file(s) ingested, {len(results) - len(fresh)} unchanged (skipped); {spark_note}"
    return StageReport("Ingest", rows_in=rows_read, rows_out=accepted, quarantined=quarantined, detail=detail)


def load_warehouse(state: RunState) -> StageReport:
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
        "LoadWarehouse",
        rows_in=sum(load.rows_loaded + load.rows_quarantined for load in fresh),
        rows_out=sum(load.rows_loaded for load in fresh),
        quarantined=sum(load.rows_quarantined for load in fresh),
        detail=f"{len(fresh)} month(s) loaded into PostgreSQL, {len(loads) - len(fresh)} unchanged",
    )


def transform(state: RunState) -> StageReport:
    from orchestration.local.dbt_runner import run_dbt_build

    def build(*extra: str):
        return run_dbt_build(
            state.connection, progress=lambda msg: say(f"  {msg}"), work_dir=state.config.work_dir, extra=list(extra)
        )

    outcome = build()
    if outcome.out_of_sync:
        # Tables an earlier release built with other columns: everything is rebuilt from the raw layer,
        # as a first run would, instead of stopping every run at the same check.
        say(
            f"  {', '.join(outcome.out_of_sync)}: built by an earlier release with other columns or layout;"
            " rebuilding every model in full (dbt build --full-refresh)"
        )
        outcome = build("--full-refresh")
    state.report.dbt = outcome
    if RECONCILIATION_TEST in outcome.failed_tests:
        # The same check as NotifySuccess, run now so the failure names the months, as on AWS.
        notify_success(state)
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
    """Before saying success: the warehouse must reconcile with the lake, month by month."""
    from orchestration.local.reconcile import reconcile

    state.report.reconciled = reconcile(state.connection.dsn(), state.config.lake_root, state.config.quarantine_root)
    if not state.report.reconciled.ok:
        mismatches = "; ".join(state.report.reconciled.mismatches())
        raise RuntimeError(f"warehouse does not reconcile with the lake: {mismatches}")
    return StageReport("NotifySuccess", detail="warehouse reconciles with the lake; summary below")


STAGES: dict[str, Callable[[RunState], StageReport]] = {
    "ValidateInput": validate_input,
    "Ingest": ingest,
    "LoadWarehouse": load_warehouse,
    "Transform": transform,
    "PublishArtifacts": publish_artifacts,
    "NotifySuccess": notify_success,
}


def run_log(config: RunConfig, report: RunReport) -> Path:
    """Where a run's details go: Spark's console output, library logging, a failure's traceback."""
    return config.work_dir / "runs" / f"{report.run_id}.log"


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
    # dbt (in-process) reads its profile from the connection's PG* variables
    with environment(state.connection.env()), run_lock(state.connection), lake_lock.holding(str(config.lake_root), say):
        _run_stages(names, state)
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
        report.stage = name
        _save(report)  # a run killed in this stage cannot say so: its parent reads it here (failures.main)
        say(f"[{index}/{len(names)}] {name}")  # after the save: once the stage is shown, it is on record
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
    parser = argparse.ArgumentParser(
        description=__doc__, epilog=failures.exit_status_help(), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", type=Path, default=None, help="folder of TLC files (default: synthetic sample)")
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / ".local", help="lake, quarantine, artifacts")
    parser.add_argument("--months", default="2024-01,2024-02,2024-03", help="synthetic sample months (yellow)")
    parser.add_argument("--rows", type=int, default=100_000, help="synthetic yellow rows per month")
    parser.add_argument(
        "--other-rows",
        type=int,
        default=30_000,
        help="synthetic rows of one month (the first of --months) of green, fhv and fhvhv each; 0: yellow only",
    )
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
        other_rows=args.other_rows,
    )


def _save(report: RunReport) -> Path | None:
    try:
        return report.write_json()
    except OSError:
        return None  # a full disk: the run goes on, or fails on it in its own words


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
    log = run_log(config, report)
    with failures.handling_signals(), failures.logging_to(log):
        try:
            run(config, report)
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            if report.rejected:
                print(f"refused file(s) and error report(s) in {Path(report.rejected[0]).parent}", file=sys.stderr)
            bad_input = f"exit status {failures.BAD_INPUT}: bad input"
            print(f"nothing was loaded into the warehouse ({bad_input})", file=sys.stderr)
            report.exit_status = failures.BAD_INPUT
            _record_failure(report, exc)
            return failures.BAD_INPUT
        except BaseException as exc:  # noqa: BLE001 - one line: the stage and the cause; the traceback to the log
            if isinstance(exc, SystemExit | GeneratorExit):
                raise
            line, code, what = failures.failure_line(report.failed_stage or "setup", exc)
            failures.log_traceback(log, exc)
            report.exit_status = code
            if code != failures.FAILED:
                report.error = what  # not the exception's text ("SIGINT", or a py4j error once the JVM is gone)
            _record_failure(report, exc)
            print(line, file=sys.stderr, flush=True)
            return code
    report.exit_status = 0
    report.print()
    report.write_json()
    return 0


if __name__ == "__main__":
    sys.exit(main())
