"""Run dbt in-process for the local pipeline and turn its results into figures for the summary.

The same `dbt build` the ECS container runs on Redshift, here on the dev (PostgreSQL) target. The
profiles live in a project-local folder (`.local/dbt`) so the user's `~/.dbt` is never touched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.local.reconcile import count_fact_rows

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIR = REPO_ROOT / "dbt_project"
PROFILES_DIR = REPO_ROOT / ".local" / "dbt"
# dbt's parse of the project, per warehouse connection: a new work dir's first build starts from it
# instead of parsing every file again (~5 s here); dbt checks it and parses anew when anything changed.
PARSE_CACHE = PROFILES_DIR / "parse-cache"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


# dbt's words when an incremental model's table has other columns than the model builds now
# (on_schema_change='fail'): a table an earlier release created.
OUT_OF_SYNC = "schemas on this incremental model are out of sync"
# The project's words when a table is stored as an earlier release stored it (macros/month_tables.sql
# earlier_layout_message): the same columns, another layout; rebuilt in full, as OUT_OF_SYNC.
EARLIER_LAYOUT = "stored by an earlier release in another layout"
# dbt's console report of an exception that ended the invocation ("Encountered an error:" and the stack trace).
DBT_CRASH_REPORT = ("MainEncounteredError", "MainStackTrace")


@dataclass
class DbtOutcome:
    success: bool
    models_ok: int = 0
    models_failed: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    tests_warned: int = 0
    seeds_ok: int = 0
    fact_rows: int | None = None
    failures: list[str] = field(default_factory=list)
    failed_tests: list[str] = field(default_factory=list)
    # incremental models whose existing table has other columns or another layout than the model now builds
    out_of_sync: list[str] = field(default_factory=list)

    def failures_text(self) -> str:
        return "; ".join(self.failures[:5]) + (f" (+{len(self.failures) - 5} more)" if len(self.failures) > 5 else "")


def ensure_profiles(profiles_dir: Path = PROFILES_DIR) -> Path:
    """Copy profiles.yml.example into the project-local profiles folder when it is missing or older."""
    example = REPO_ROOT / "profiles.yml.example"
    target = profiles_dir / "profiles.yml"
    profiles_dir.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.stat().st_mtime < example.stat().st_mtime:
        shutil.copy2(example, target)
    return profiles_dir


def dbt_args(command: str, *extra: str, target: str = "dev") -> list[str]:
    return [
        command,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(ensure_profiles()),
        "--target",
        target,
        *extra,
    ]


def _parse_cache_entry(connection) -> Path:
    key = hashlib.sha256(f"{connection.host}:{connection.port}/{connection.database}".encode()).hexdigest()[:16]
    return PARSE_CACHE / f"{key}.msgpack"


def _start_from_cached_parse(target: Path, connection) -> None:
    cached = _parse_cache_entry(connection)
    if not (target / PARTIAL_PARSE_FILE).exists() and cached.exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, target / PARTIAL_PARSE_FILE)


def _keep_parse(target: Path, connection) -> None:
    """The build's parse as the cache entry, replaced whole (two runs at once never mix halves)."""
    parsed = target / PARTIAL_PARSE_FILE
    if not parsed.exists():
        return
    cached = _parse_cache_entry(connection)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
    shutil.copyfile(parsed, partial)
    os.replace(partial, cached)


def _summarise(results) -> DbtOutcome:
    outcome = DbtOutcome(success=True)
    for result in results:
        node = result.node
        status = str(result.status).lower()
        kind = str(node.resource_type).lower().split(".")[-1]
        if kind == "test" or kind == "unit_test":
            if status == "pass":
                outcome.tests_passed += 1
            elif status == "warn":
                outcome.tests_warned += 1
            else:
                outcome.tests_failed += 1
                outcome.failures.append(f"test {node.name}: {status}")
                outcome.failed_tests.append(node.name)
        elif kind in ("model", "snapshot"):
            if status == "success":
                outcome.models_ok += 1
            elif status != "skipped":
                outcome.models_failed += 1
                outcome.failures.append(f"{kind} {node.name}: {result.message or status}")
                if OUT_OF_SYNC in (result.message or "") or EARLIER_LAYOUT in (result.message or ""):
                    outcome.out_of_sync.append(node.name)
        elif kind == "seed":
            outcome.seeds_ok += status == "success"
    return outcome


def run_dbt_build(
    connection,
    progress: Callable[[str], None] | None = None,
    extra: list[str] | None = None,
    work_dir: Path | None = None,
) -> DbtOutcome:
    """`dbt build` on the dev target; returns counts, never raises for model/test failures."""
    from dbt.cli.main import dbtRunner

    def on_event(event) -> None:
        # Progress: one line per built model/seed/snapshot and per failure; passing tests are counted in
        # the summary instead of listed (there are hundreds). dbt's own console is off: its other errors
        # (a failure's details, a cancelled query) are passed on here, but not its crash report (the
        # exception and its stack trace: the run ends in one line naming it; dbt.log keeps the trace).
        if progress is None:
            return
        name = event.info.name
        if name in ("LogModelResult", "LogSeedResult", "LogSnapshotResult", "LogTestResult"):
            msg = " ".join(event.info.msg.split())
            if name != "LogTestResult" or "PASS" not in msg:
                progress(msg)
        elif event.info.level == "error" and name not in DBT_CRASH_REPORT:
            for line in event.info.msg.strip("\n").splitlines():
                progress(line.rstrip())

    runner = dbtRunner(callbacks=[on_event])
    paths = []
    target = None if work_dir is None else work_dir / "dbt" / "target"
    if target is not None:
        # Each work dir keeps its own dbt artifacts and logs: a test's run never overwrites (or publishes)
        # another run's run_results.json.
        paths = ["--target-path", str(target), "--log-path", str(work_dir / "dbt" / "logs")]
        _start_from_cached_parse(target, connection)
    console = ["--log-level", "none"] if progress is not None else ["--quiet"]
    res = runner.invoke(dbt_args("build", *console, "--no-use-colors", *paths, *(extra or [])))
    if target is not None:
        _keep_parse(target, connection)
    if isinstance(res.exception, KeyboardInterrupt | SystemExit):
        # Ctrl-C or SIGTERM (orchestration.local.failures.Interrupted): dbt has cancelled its queries and
        # handed the interruption back as a result; it is the run's to end, not a build failure.
        raise res.exception
    if res.result is None:
        exc = res.exception
        return DbtOutcome(success=False, failures=[f"{type(exc).__name__}: {exc}" if str(exc) else repr(exc)])
    outcome = _summarise(res.result)
    outcome.success = bool(res.success)
    if outcome.success or outcome.models_ok:
        outcome.fact_rows = count_fact_rows(connection.dsn())
    return outcome
