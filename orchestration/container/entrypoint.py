"""The dbt container's entrypoint: `dbt build` (or the command given) on one target, then artifacts to S3.

    entrypoint.py [build|run|test|seed [dbt options...]]      (no arguments: build)

Environment (the state machine's Transform state sets the last three per execution):
    DBT_TARGET           profile target: prod (Redshift) in the container, dev (PostgreSQL) in the tests
    DBT_PROJECT_DIR      the dbt project baked into the image (default: ./dbt_project)
    DBT_PROFILES_DIR     where profiles.yml is (default: the folder holding the project)
    SCRATCH_DIR          writable folder for dbt's target/ and logs/ (the image's root is read-only)
    REDSHIFT_SECRET_ARN  optional, for a Redshift reached with a password: Secrets Manager secret
                         {"username", "password"}, read at start and passed to dbt only through its
                         environment. The AWS deployment (infra/) sets none: the task signs in with IAM
                         (REDSHIFT_AUTH_METHOD=iam, GetCredentials on REDSHIFT_WORKGROUP) as the
                         restricted user infra/modules/warehouse/sql/dbt_user.sql creates for its role.
    DBT_VARS             JSON object handed to dbt as --vars
    DBT_TIMEOUT_SECONDS  optional: stop dbt (and the docs) after this long, exit 124. The task definition
                         sets it below the state machine's Transform timeout: Step Functions does not stop
                         a task whose state timed out, and its locks are released then.
    RUN_ID               names this run's artifact folder
    ARTIFACTS_URI        s3://bucket/prefix/ for run_results.json, manifest.json and the docs site
                         (index.html, catalog.json); empty: keep them local only

Guarantees: the exit code is dbt's (non-zero when a model or test failed or dbt could not run),
or 2 for bad input, or 3 when the artifacts could not be uploaded, or 4 when the only failure is the
warehouse not reconciling with the lake, or 124 when dbt ran out of time. run_results.json and
manifest.json are uploaded whether dbt succeeded or not; the docs site only after a success. When the
reconciliation test (rpt_lake_reconciliation) fails, its months are read back and uploaded as
reconciliation.json, {"message": "<one line per month>", "months": [...]}: the state machine puts the
message in its failure notification.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LOG = logging.getLogger("entrypoint")

ALLOWED_COMMANDS = ("build", "run", "test", "seed")
ALWAYS_UPLOADED = ("run_results.json", "manifest.json")
DOCS_SITE = ("index.html", "catalog.json")
RECONCILIATION_FILE = "reconciliation.json"
# The data test on rpt_lake_reconciliation.reconciliation_status (its `name:` in rpt_lake_reconciliation.yml).
RECONCILIATION_TEST = "warehouse_reconciles_with_lake"
UNRECONCILED_MONTHS_SQL = (
    "select service, pickup_month, source_file, lake_trips, warehouse_trips, lake_quarantined,"
    " warehouse_quarantined from {{ ref('rpt_lake_reconciliation') }}"
    " where reconciliation_status = 'mismatch' order by 1, 2"
)
MAX_MONTHS_NAMED = 50
EXIT_BAD_INPUT = 2
EXIT_UPLOAD_FAILED = 3
EXIT_NOT_RECONCILED = 4
EXIT_TIMED_OUT = 124  # as timeout(1)


class InputError(ValueError):
    """The command or the environment cannot be used; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    command: list[str]
    target: str
    vars_json: str
    project_dir: Path
    profiles_dir: Path
    scratch_dir: Path
    run_id: str
    artifacts_uri: str
    timeout_seconds: float | None = None

    @property
    def target_path(self) -> Path:
        return self.scratch_dir / "target"

    @property
    def log_path(self) -> Path:
        return self.scratch_dir / "logs"


# The project's vars and the shape each value must have: exactly the names under `vars:` in
# dbt_project.yml (tests/orchestration/test_container.py fails when the two differ). DBT_VARS comes from
# the Step Functions input, and some vars end up inside SQL (schema names in source relations, months in
# fact_trips' predicates, which dbt does not escape): only these names, only these shapes.
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,126}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MAX_REBUILD_MONTHS = 240


def _is_month_list(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= MAX_REBUILD_MONTHS
        and all(isinstance(month, str) and _MONTH.match(month) for month in value)
    )


VAR_SHAPES: dict[str, tuple[str, Callable[[object], bool]]] = {
    "raw_schema": ("a schema name (letters, digits, _)", lambda v: isinstance(v, str) and bool(_IDENTIFIER.match(v))),
    "spectrum_schema": (
        "a schema name (letters, digits, _)",
        lambda v: isinstance(v, str) and bool(_IDENTIFIER.match(v)),
    ),
    "lookback_months": (
        "a whole number from 0 to 240",
        lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 240,
    ),
    "rebuild_months": (f"a list of at most {MAX_REBUILD_MONTHS} months 'YYYY-MM'", _is_month_list),
    "date_spine_start": ("a date YYYY-MM-DD", lambda v: isinstance(v, str) and bool(_DATE.match(v))),
    "date_spine_end": ("a date YYYY-MM-DD", lambda v: isinstance(v, str) and bool(_DATE.match(v))),
    "assume_incremental": ("true or false", lambda v: isinstance(v, bool)),
}


def check_vars(dbt_vars: Mapping[str, object]) -> None:
    """Refuse a var the project does not define, or a value not of its shape (InputError names it)."""
    for name, value in dbt_vars.items():
        if name not in VAR_SHAPES:
            raise InputError(f"DBT_VARS: unknown var {name!r}; allowed: {', '.join(sorted(VAR_SHAPES))}")
        shape, ok = VAR_SHAPES[name]
        if not ok(value):
            raise InputError(f"DBT_VARS: {name} must be {shape}, got {str(value)[:80]!r}")


def parse_settings(argv: Sequence[str], env: Mapping[str, str]) -> Settings:
    """Read and check the command line and environment; raises InputError naming the problem."""
    command = list(argv) or ["build"]
    if command[0] not in ALLOWED_COMMANDS:
        raise InputError(f"dbt command {command[0]!r} is not allowed here: use one of {', '.join(ALLOWED_COMMANDS)}")
    for flag in ("--target", "-t", "--vars", "--profiles-dir", "--project-dir", "--target-path", "--log-path"):
        if flag in command[1:]:
            raise InputError(f"{flag} is set by the entrypoint (from DBT_TARGET, DBT_VARS, ...), not in the command")
    raw_vars = env.get("DBT_VARS", "").strip() or "{}"
    try:
        dbt_vars = json.loads(raw_vars)
    except json.JSONDecodeError as exc:
        raise InputError(f"DBT_VARS is not JSON ({exc.msg} at character {exc.pos}): {raw_vars[:200]}") from exc
    if not isinstance(dbt_vars, dict):
        raise InputError(f"DBT_VARS must be a JSON object, got {type(dbt_vars).__name__}: {raw_vars[:200]}")
    check_vars(dbt_vars)
    artifacts_uri = env.get("ARTIFACTS_URI", "").strip()
    if artifacts_uri and not (artifacts_uri.startswith("s3://") and len(artifacts_uri) > len("s3://")):
        raise InputError(f"ARTIFACTS_URI must look like s3://bucket/prefix/, got {artifacts_uri!r}")
    project_dir = Path(env.get("DBT_PROJECT_DIR", "dbt_project")).resolve()
    if not (project_dir / "dbt_project.yml").is_file():
        raise InputError(f"no dbt_project.yml in {project_dir} (set DBT_PROJECT_DIR)")
    profiles_dir = Path(env.get("DBT_PROFILES_DIR", str(project_dir.parent))).resolve()
    if not (profiles_dir / "profiles.yml").is_file():
        raise InputError(f"no profiles.yml in {profiles_dir} (set DBT_PROFILES_DIR)")
    timeout = env.get("DBT_TIMEOUT_SECONDS", "").strip()
    if timeout and not (timeout.isdigit() and int(timeout) > 0):
        raise InputError(f"DBT_TIMEOUT_SECONDS must be a whole number of seconds above 0, got {timeout!r}")
    scratch = env.get("SCRATCH_DIR") or tempfile.mkdtemp(prefix="dbt-")
    return Settings(
        command=command,
        target=env.get("DBT_TARGET", "prod"),
        vars_json=json.dumps(dbt_vars, sort_keys=True),
        project_dir=project_dir,
        profiles_dir=profiles_dir,
        scratch_dir=Path(scratch),
        run_id=env.get("RUN_ID", "").strip() or "manual",
        artifacts_uri=artifacts_uri,
        timeout_seconds=float(timeout) if timeout else None,
    )


def redshift_credentials(env: Mapping[str, str], secrets_client=None) -> dict[str, str]:
    """Environment for dbt's Redshift profile from the Secrets Manager secret, if one is configured.

    Returns {} when no secret is named or a password is already given (IAM authentication, or a
    password ECS injected). The secret's values are never logged nor written to disk.
    """
    secret_arn = env.get("REDSHIFT_SECRET_ARN", "").strip()
    if not secret_arn or env.get("REDSHIFT_PASSWORD"):
        return {}
    if secrets_client is None:
        import boto3

        secrets_client = boto3.client("secretsmanager")
    secret = json.loads(secrets_client.get_secret_value(SecretId=secret_arn)["SecretString"])
    try:
        return {
            "REDSHIFT_AUTH_METHOD": "database",
            "REDSHIFT_USER": secret["username"],
            "REDSHIFT_PASSWORD": secret["password"],
        }
    except KeyError as exc:
        raise InputError(f"secret {secret_arn} has no {exc.args[0]!r} key (expected username and password)") from None


def dbt_executable() -> str:
    """The dbt installed beside this interpreter (the image's venv, or the project's .venv)."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else "dbt"


def dbt_command(settings: Settings, *args: str) -> list[str]:
    return [
        dbt_executable(),
        *args,
        "--target",
        settings.target,
        "--vars",
        settings.vars_json,
        "--project-dir",
        str(settings.project_dir),
        "--profiles-dir",
        str(settings.profiles_dir),
        "--target-path",
        str(settings.target_path),
        "--log-path",
        str(settings.log_path),
    ]


def _run(command: list[str], env: Mapping[str, str], deadline: float | None) -> int:
    """One dbt command; past the deadline it is interrupted and EXIT_TIMED_OUT returned. SIGINT first, as Ctrl-C:
    dbt then cancels the queries it has open on the warehouse (a SIGTERM would leave them running); SIGKILL if it
    has not stopped a minute later."""
    process = subprocess.Popen(command, env=dict(env))
    try:
        return process.wait(timeout=None if deadline is None else max(deadline - time.monotonic(), 0.001))
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return EXIT_TIMED_OUT


def failed_nodes(target_path: Path) -> list[str]:
    """Names of the nodes dbt's run_results.json reports as failed or errored (none when it is missing)."""
    try:
        results = json.loads((target_path / "run_results.json").read_text())["results"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [r["unique_id"].split(".")[2] for r in results if r.get("status") in ("fail", "error")]


def _show_rows(output: str) -> list[dict] | None:
    """The rows `dbt show --output json --log-format json` printed (its ShowNode event), or None."""
    for line in output.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("info", {}).get("name") == "ShowNode":
            return json.loads(event["data"]["preview"])
    return None


def reconciliation_report(rows: list[dict], other_failures: Sequence[str]) -> dict:
    """reconciliation.json: the unreconciled months, and one line naming them (and whatever else
    failed) for a notification."""
    lines = [
        f"{r['service']} {str(r['pickup_month'])[:7]} ({r['source_file']}): trips lake {r['lake_trips']:,},"
        f" warehouse {r['warehouse_trips']:,}; quarantined lake {r['lake_quarantined']:,},"
        f" warehouse {r['warehouse_quarantined']:,}"
        for r in rows[:MAX_MONTHS_NAMED]
    ]
    more = f"; and {len(rows) - MAX_MONTHS_NAMED} more month(s)" if len(rows) > MAX_MONTHS_NAMED else ""
    message = f"The warehouse does not reconcile with the lake in {len(rows)} month(s): " + "; ".join(lines) + more
    if other_failures:
        message += f". dbt also failed on: {', '.join(sorted(other_failures))} (run_results.json)"
    return {"message": message, "months": rows}


def report_unreconciled_months(
    settings: Settings, env: Mapping[str, str], deadline: float | None, other_failures: Sequence[str]
) -> dict | None:
    """Read the months rpt_lake_reconciliation marks unreconciled and write reconciliation.json."""
    command = dbt_command(settings, "show", "--inline", UNRECONCILED_MONTHS_SQL, "--limit", str(MAX_MONTHS_NAMED + 1))
    command += ["--output", "json", "--log-format", "json"]
    timeout = None if deadline is None else max(deadline - time.monotonic(), 1.0)
    try:
        shown = subprocess.run(command, env=dict(env), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    rows = _show_rows(shown.stdout)
    if rows is None:
        LOG.error("could not read the unreconciled months back (dbt show exit code %s)", shown.returncode)
        return None
    report = reconciliation_report(rows, other_failures)
    (settings.target_path / RECONCILIATION_FILE).write_text(json.dumps(report, indent=2, default=str))
    LOG.error("%s", report["message"])
    return report


def run_dbt(settings: Settings, env: Mapping[str, str]) -> int:
    """The dbt command, then (after a success) `dbt docs generate`; returns dbt's exit code, or
    EXIT_NOT_RECONCILED when the reconciliation test was its only failure, or EXIT_TIMED_OUT when
    they together ran longer than settings.timeout_seconds."""
    deadline = None if settings.timeout_seconds is None else time.monotonic() + settings.timeout_seconds
    for stale in ("run_results.json", RECONCILIATION_FILE):  # a reused scratch dir must not speak for this run
        (settings.target_path / stale).unlink(missing_ok=True)
    code = _run(dbt_command(settings, *settings.command), env, deadline)
    if code == EXIT_TIMED_OUT:
        LOG.error("dbt %s stopped after %ss (DBT_TIMEOUT_SECONDS)", settings.command[0], settings.timeout_seconds)
    if code != 0:
        LOG.error("dbt %s failed with exit code %s", settings.command[0], code)
        failed = failed_nodes(settings.target_path)
        if code != EXIT_TIMED_OUT and RECONCILIATION_TEST in failed:
            others = [name for name in failed if name != RECONCILIATION_TEST]
            report = report_unreconciled_months(settings, env, deadline, others)
            if report is not None and not others:
                return EXIT_NOT_RECONCILED
        return code
    docs = _run(dbt_command(settings, "docs", "generate"), env, deadline)
    if docs != 0:
        LOG.error("dbt docs generate failed with exit code %s", docs)
    return docs


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


def upload_artifacts(settings: Settings, succeeded: bool, s3_client=None) -> list[str]:
    """Upload what dbt wrote; returns the s3 URIs. Missing files are skipped (dbt may stop early)."""
    if not settings.artifacts_uri:
        return []
    if s3_client is None:
        import boto3

        s3_client = boto3.client("s3")
    bucket, prefix = split_s3_uri(settings.artifacts_uri)
    names = ALWAYS_UPLOADED + (DOCS_SITE if succeeded else ())
    if (settings.target_path / RECONCILIATION_FILE).is_file():
        names += (RECONCILIATION_FILE,)
    content_types = {".json": "application/json", ".html": "text/html"}
    uploaded = []
    for name in names:
        path = settings.target_path / name
        if not path.is_file():
            LOG.warning("no %s to upload (dbt did not write it)", name)
            continue
        key = f"{prefix}{name}"
        s3_client.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_types[path.suffix]})
        uploaded.append(f"s3://{bucket}/{key}")
    return uploaded


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s entrypoint %(levelname)s %(message)s")
    env = dict(os.environ if env is None else env)
    try:
        settings = parse_settings(sys.argv[1:] if argv is None else argv, env)
        dbt_env = {**env, **redshift_credentials(env), "DBT_TARGET": settings.target}
    except InputError as exc:
        LOG.error("%s", exc)
        return EXIT_BAD_INPUT
    dbt_env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    LOG.info("run %s: dbt %s on target %s", settings.run_id, " ".join(settings.command), settings.target)
    code = run_dbt(settings, dbt_env)
    try:
        for uri in upload_artifacts(settings, succeeded=code == 0):
            LOG.info("uploaded %s", uri)
    except Exception:
        LOG.exception("uploading the artifacts to %s failed", settings.artifacts_uri)
        return code or EXIT_UPLOAD_FAILED
    return code


if __name__ == "__main__":
    sys.exit(main())
