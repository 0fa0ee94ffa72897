"""How a local run that does not succeed ends: one line naming the stage and the cause, and its exit status.

Every interruption ends the same way (RELIABILITY.md, guarantee 8c):

- SIGINT (Ctrl-C) and SIGTERM raise `Interrupted` in the main thread, wherever the run is (Spark, the
  load, dbt, which cancels its queries as for Ctrl-C). The run unwinds: the lake and warehouse locks are
  released, the open transaction rolls back, nothing half-written is committed (guarantee 1), so the
  next run converges. It exits 128 + the signal's number. A second signal while the first one unwinds
  stops the process at once, with the same line.
- A full disk and a child process that was killed (the kernel's out-of-memory killer sends SIGKILL)
  fail the stage they hit, exit 1. A process that is killed cannot say so: its parent does (this run
  for the Spark JVM it started).

The line is the last the run prints, on stderr; the details (Spark's and its Python workers' output,
the traceback) go to the run's log, `<work-dir>/runs/<run_id>.log`:

    error: pipeline interrupted in stage Transform by SIGINT (exit status 130)
    error: pipeline failed in stage Ingest (exit status 1): disk full: ...
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ingestion.text import MAX_MESSAGE_CHARS, shown

# The signals that interrupt a run; each exits 128 + its number, as a shell reports a signal.
INTERRUPTING = (signal.SIGINT, signal.SIGTERM)
FAILED, BAD_INPUT = 1, 2
# Every exit status of `python -m orchestration.local.run_pipeline`: the one list (its --help, README and
# RELIABILITY.md, guarantee 5, say the same; tests/reliability/test_rel_interruptions.py checks them).
EXIT_STATUS: dict[int, str] = {
    0: "success",
    FAILED: "a stage failed (a dbt model or test, reconciliation, a full disk, a child process killed)",
    BAD_INPUT: "bad input: a file was refused, nothing was loaded into the warehouse",
    **{128 + s: f"interrupted by {s.name}{' (Ctrl-C)' if s == signal.SIGINT else ''}" for s in INTERRUPTING},
}

DISK_FULL = "disk full"
_DISK_FULL_TEXT = re.compile(r"No space left on device|database or disk is full|\[Errno 28\]", re.IGNORECASE)


def exit_status_help() -> str:
    return "Exit status: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_STATUS.items()) + "."


# ---------- signals


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived. A KeyboardInterrupt, so that dbt (in-process) cancels its queries and
    stops as it does for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_received: list[int] = []
_installed = False


def _on_signal(signum: int, frame) -> None:
    if _received:  # the first one is unwinding the run: stop now
        line = f"error: pipeline interrupted again by {signal.Signals(signum).name}; stopping now"
        os.write(2, f"{line} (exit status {128 + signum})\n".encode())
        os._exit(128 + signum)
    _received.append(signum)
    raise Interrupted(signum)


@contextmanager
def handling_signals() -> Iterator[None]:
    """For the block, SIGINT and SIGTERM raise `Interrupted` (main thread only: a signal handler can be
    set nowhere else; elsewhere nothing changes)."""
    global _installed
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in INTERRUPTING}
    _received.clear()
    _installed = True
    reinstall()
    try:
        yield
    finally:
        _installed = False
        for s, handler in previous.items():
            signal.signal(s, handler)


def reinstall() -> None:
    """Take SIGINT and SIGTERM back after a library set its own handler (a new SparkContext sets one for
    SIGINT that cancels its jobs and raises a bare KeyboardInterrupt, or a py4j error once the JVM is gone)."""
    if _installed and threading.current_thread() is threading.main_thread():
        for s in INTERRUPTING:
            signal.signal(s, _on_signal)


def interrupting_signal(exc: BaseException) -> int | None:
    """The signal that interrupted the run: the one received (whatever exception it surfaced as), or
    SIGINT for a KeyboardInterrupt raised by a handler not ours."""
    if _received:
        return _received[0]
    if isinstance(exc, Interrupted):
        return exc.signum
    if isinstance(exc, KeyboardInterrupt):
        return signal.SIGINT
    return None


# ---------- the cause in one line


def one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _is_java_error(exc: BaseException) -> bool:
    return type(exc).__name__ == "Py4JJavaError"


def java_root_cause(text: str) -> str:
    """The line that says what went wrong in a Spark job failure's text (a Py4JJavaError: a Java stack
    trace that may hold a Python worker's traceback): the Python exception line when a task raised one,
    else the last `Caused by:`, else the first line."""
    python = text.rsplit("PythonException: Traceback (most recent call last):", 1)
    if len(python) == 2:
        frames = python[1].split("\n\tat ", 1)[0]
        lines = [line for line in frames.splitlines() if line.strip() and not line.startswith(" ")]
        if lines:
            return lines[-1].strip()
    caused = re.findall(r"^Caused by: (.+)$", text, re.MULTILINE)
    if caused:
        return caused[-1].strip()
    lines = [line.strip(" :") for line in text.splitlines() if line.strip(" :")]
    return lines[1] if len(lines) > 1 and lines[0].startswith("An error occurred while calling") else lines[0]


def _message(exc: BaseException) -> str:
    text = java_root_cause(str(exc)) if _is_java_error(exc) else str(exc)
    text = shown(one_line(text), MAX_MESSAGE_CHARS)  # bounded and escaped: it may quote a file's values
    return text or type(exc).__name__


def _dead_spark_jvm(wait: float = 0.0) -> str | None:
    """'Spark's JVM (pid N) was killed by SIGKILL' when the JVM this process started has died of a signal.
    `wait`: seconds to let a dying JVM finish exiting (its sockets close before the kernel reports it dead)."""
    try:
        from pyspark import SparkContext
    except ImportError:
        return None
    gateway = getattr(SparkContext, "_gateway", None)
    process = getattr(gateway, "proc", None)
    if process is None:
        return None
    code = process.poll()
    if code is None and wait > 0:
        try:
            code = process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return None
    if code is None or code >= 0:
        return None
    name = signal.Signals(-code).name
    why = " (out of memory? the kernel's OOM killer sends SIGKILL: see dmesg)" if -code == signal.SIGKILL else ""
    return f"Spark's JVM (pid {process.pid}) was killed by {name}{why}"


def cause(exc: BaseException) -> str:
    """One line: what stopped the stage. A killed child is named (it cannot say so itself); a full disk
    says so first, whatever layer (Spark task, pyiceberg, SQLite, PostgreSQL, dbt) reported it."""
    chain = list(_chain(exc))
    # A JVM killed mid-call surfaces as a py4j error, or as the bare socket error of py4j's next call
    # ("[Errno 111] Connection refused"), which can come before the kernel reports the JVM dead.
    network = any(isinstance(e, ConnectionError) or type(e).__name__ == "Py4JNetworkError" for e in chain)
    talks_to_jvm = network or any(type(e).__module__.startswith(("py4j", "pyspark")) for e in chain)
    dead = _dead_spark_jvm(wait=5.0 if network else 0.0) if talks_to_jvm else None
    if dead:
        return dead
    message = _message(exc)
    full = any(isinstance(e, OSError) and e.errno == errno.ENOSPC for e in chain) or any(
        _DISK_FULL_TEXT.search(str(e)) for e in chain
    )
    if full and not message.startswith(DISK_FULL):
        if not _DISK_FULL_TEXT.search(message):  # the Java text's chosen line may not be the one saying it
            message = f"No space left on device ({message})"
        message = f"{DISK_FULL}: {message}"
    return message


def failure_line(stage: str, exc: BaseException) -> tuple[str, int, str]:
    """The last line a failed run prints, its exit status, and the cause alone (for the run's report)."""
    signum = interrupting_signal(exc)
    if signum is not None:
        code, what = 128 + signum, f"interrupted by {signal.Signals(signum).name}"
        return f"error: pipeline {what.replace('by', f'in stage {stage} by', 1)} (exit status {code})", code, what
    what = cause(exc)
    return f"error: pipeline failed in stage {stage} (exit status {FAILED}): {what}", FAILED, what


# ---------- the run's log


@contextmanager
def logging_to(path: Path) -> Iterator[None]:
    """Python logging of the libraries (py4j's "Exception while sending command" and its traceback, once
    the JVM is gone) to the run's log instead of the console, for the block."""
    root = logging.getLogger()
    handler: logging.Handler
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, delay=True)
    except OSError:
        handler = logging.NullHandler()
    handler.setLevel(logging.WARNING)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()


def log_traceback(path: Path, exc: BaseException) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as log:
            log.write("".join(traceback.format_exception(exc)))
    except OSError:
        pass  # a full disk: the one line on stderr still tells the story


# ---------- speaking for a run that was killed


def killed_line(status: int, work_dir: Path) -> str | None:
    """The line for a run that died of a signal it could not catch (its shell reports 128 + n, e.g. 137
    after SIGKILL, the out-of-memory killer's), naming the stage its report was in; None when the run
    ended by itself (it said why)."""
    if status <= 128 or status in EXIT_STATUS:
        return None
    try:
        name = signal.Signals(status - 128).name
    except ValueError:
        return None
    try:
        report = json.loads((work_dir / "runs" / "latest.json").read_text())
    except (OSError, ValueError):
        report = {}
    # an exit status recorded: that report is an earlier run's, the killed one had not started a stage
    stage = report.get("stage") if report.get("exit_status") is None else None
    why = " (out of memory? the kernel's OOM killer sends SIGKILL: see dmesg)" if name == "SIGKILL" else ""
    return f"error: pipeline killed in stage {stage or 'setup'} by {name}{why} (exit status {status})"


def main(argv: list[str] | None = None) -> int:
    """`make run`'s epilogue: `python -m orchestration.local.failures STATUS` after the pipeline exited
    with STATUS speaks for it when it was killed."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("status", type=int)
    parser.add_argument("--work-dir", type=Path, default=Path(__file__).resolve().parents[2] / ".local")
    args = parser.parse_args(argv)
    line = killed_line(args.status, args.work_dir)
    if line:
        print(line, file=sys.stderr)
    return args.status


if __name__ == "__main__":
    sys.exit(main())
