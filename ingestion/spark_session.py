"""The Spark session: a fast, quiet local[*] one on a laptop/CI, the existing one on Glue."""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from pyspark.sql import SparkSession

LOG4J2 = Path(__file__).with_name("log4j2.properties")

# The rows never enter the JVM: each task reads, checks and writes its files with Arrow in Python
# (ingestion/file_ingest.py), so the job needs no SQL setting, on Glue or here. None is set at run
# time either: the first `spark.conf.set` builds the SQL session state, ~0.4 s of every start.
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
# What the driver commits with (pyiceberg and the local catalog on sqlite3: ~0.3 s of CPU),
# imported while the JVM starts, when the driver only waits. The session is returned only once the
# imports are done: an import still running beside the job crashed the process (SIGSEGV in pyarrow's
# output stream, seen under load when the thread ran at the lowest priority). A session that already
# exists (Glue) starts nothing.
IMPORTED_WHILE_STARTING = ("ingestion.lake_commit", "ingestion.lake_maintenance", "ingestion.lake_sqlite_catalog")


def _import_quietly(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the import where it is needed reports it
            return


@contextlib.contextmanager
def _stderr_to(path: str | None) -> Iterator[None]:
    """This process's stderr (file descriptor 2) appended to `path` for the block: what it starts then
    (the JVM, and through it the Python workers) keeps writing there."""
    if path is None:
        yield
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(target, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(target)


def get_spark(app_name: str = "tlc-ingestion", driver_memory: str = "1g", output: str | None = None) -> SparkSession:
    """The active session if there is one (Glue, tests), else a new local[*] session.

    Local settings suit 2 cores / 24 GiB: no UI, errors-only logging, parallel GC, local scratch
    under the system temp dir, workers that find this checkout's `ingestion`. None of them reach
    Glue, whose session is the active one. `output`: a file that receives the new JVM's console output
    (Spark's errors, with the stack traces, and its Python workers' tracebacks) instead of this
    process's stderr, so that a failed job is told in one line by the caller, not in hundreds.
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # Parallel GC: the throughput collector; G1's concurrent threads compete with the two task
    # threads on a 2-core machine (measured: 8-21% less JVM CPU per 3M-row file, BENCHMARKS.md).
    java_options = f"-Dlog4j2.configurationFile={LOG4J2.as_uri()} -XX:+UseParallelGC"
    scratch = os.path.join(tempfile.gettempdir(), "tlc-ingestion-spark")
    # Python workers import `ingestion` (the task function lives there): locally it is this checkout.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers run this interpreter (this venv)
    python_path = os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    builder = (
        SparkSession.builder.master(os.environ.get("SPARK_MASTER", "local[*]"))
        .appName(app_name)
        .config("spark.driver.memory", driver_memory)
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.local.dir", scratch)
        .config("spark.sql.warehouse.dir", os.path.join(scratch, "warehouse"))
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .config("spark.executorEnv.PYTHONPATH", python_path)
        # one task per core, whose Python worker holds a file's batches: no second worker per core
        .config("spark.python.worker.reuse", "true")
    )
    importing = threading.Thread(target=_import_quietly, args=(IMPORTED_WHILE_STARTING,), daemon=True)
    importing.start()
    try:
        with _stderr_to(output):
            spark = builder.getOrCreate()
    except BaseException:
        _kill_starting_jvms()
        raise
    finally:  # nor may it run on while the process exits (an interrupted start)
        importing.join()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _kill_starting_jvms() -> None:
    """The JVM this process was starting, killed: interrupted (Ctrl-C) before it handed its port back, it
    would never read the end of its stdin and outlive this process, orphaned (seen: a JVM still running
    18 minutes after its driver). The child whose command ends in `pyspark-shell` (spark-submit, then the
    JVM it becomes); Linux (/proc), elsewhere nothing is done."""
    me = str(os.getpid())
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit():
            continue
        try:
            with open(os.path.join(entry.path, "stat")) as stat, open(os.path.join(entry.path, "cmdline")) as cmd:
                parent = stat.read().rsplit(")", 1)[1].split()[1]
                command = cmd.read()
            if parent == me and command.rstrip("\0").endswith("pyspark-shell"):
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, IndexError):
            continue
