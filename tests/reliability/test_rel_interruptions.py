"""Interruptions: every one ends in one line naming the stage and the cause, with the documented exit
status, and the next run converges on the clean run's warehouse (RELIABILITY.md, guarantee 8c).

One warehouse, runs of `python -m orchestration.local.run_pipeline` as child processes in their own
process group, each interrupted differently, each the rerun of the one before:

1. the disk fills up while the Spark tasks write the lake (a real ENOSPC from the kernel: the run in a
   private mount namespace with a tiny tmpfs over the lake table's data folder);
2. the Spark JVM is SIGKILLed mid-job, as the kernel's out-of-memory killer does: the runner names it;
3. Ctrl-C while the Spark JVM starts (it was left running, orphaned, before);
4. Ctrl-C during Ingest (SIGINT to the whole process group, as a terminal sends it);
5. SIGTERM to the runner during LoadWarehouse (`kill PID`, a service manager);
6. Ctrl-C during Transform (the issue's case: a 48-line traceback and `dbt build failed: ` before);
7. SIGKILL to the runner itself during Transform (dbt runs in it): `make run`'s recipe speaks for it;
8. a last run to the end: the reference run's fingerprint, manifests, and no uncommitted lake file.

Each interrupted run's output must end in exactly one line naming the stage and the cause, hold no
traceback and no Java stack frame, and exit with the status orchestration/local/failures.py lists;
the details are in the run's log. Each interruption is asserted to have hit the stage aimed at.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orchestration.local import failures
from tests.reliability import harness

pytestmark = pytest.mark.integration

DATABASE = harness.name("interrupts")
REPO_ROOT = harness.REPO_ROOT
# What no interrupted run may print: a Python traceback, a Java stack frame, a py4j complaint.
NOISE = re.compile(r"Traceback \(most recent call last\)|^\s+at [\w.$]+\(|^\tat |py4j|Exception while sending", re.M)


@dataclass
class Scene:
    work_dir: Path
    logs: Path
    database: str
    watch: harness.ActivityWatch
    done: set[str] = field(default_factory=set)
    broken: bool = False

    def step(self, name: str, prefix: tuple[str, ...] = ()) -> harness.Child:
        if self.broken:
            pytest.skip("an earlier step of this scenario failed")
        self.broken = True  # cleared by the step once its assertions pass
        return harness.start(harness.pipeline_args(self.work_dir, self.database), self.logs / f"{name}.log", prefix)


@pytest.fixture(scope="module")
def scene(reference, tmp_path_factory):
    root = tmp_path_factory.mktemp("interrupts")
    work_dir = root / "work"
    shutil.copytree(reference.work_dir / "sample", work_dir / "sample")  # the same input bytes
    harness.fresh_database(DATABASE)
    watch = harness.ActivityWatch(DATABASE)
    yield Scene(work_dir=work_dir, logs=root, database=DATABASE, watch=watch)
    watch.close()


# ---------- the child's processes, seen from outside


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command name) of the processes whose parent is `pid`."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        if int(rest[1]) == pid:
            found.append((int(entry.name), name))
    return found


def _spark_jvm(child: harness.Child) -> int | None:
    return next((pid for pid, name in _children(child.pid) if name == "java"), None)


def spark_tasks_running(child: harness.Child) -> Callable[[], bool]:
    """True once the run's Spark JVM has started its Python workers (pyspark.daemon): the job's tasks run.
    (Not any child of the JVM: Hadoop's start-up runs a shell or two.)"""

    def condition() -> bool:
        jvm = _spark_jvm(child)
        return jvm is not None and any(name.startswith("python") for _, name in _children(jvm))

    return condition


def signal_when(child: harness.Child, condition: Callable[[], bool], what: str, send: Callable[[], None]) -> None:
    """Poll `condition` and `send` the signal the moment it holds; fails if the run ends first."""
    started = time.monotonic()
    while not condition():
        code = child.process.poll()
        if code is not None:
            raise AssertionError(f"the run ended (exit {code}) before {what} was seen:\n{child.tail()}")
        if time.monotonic() - started > 240:
            harness.kill_group(child)
            raise AssertionError(f"{what} not seen within 240s:\n{child.tail()}")
        time.sleep(0.01)
    send()


def _ctrl_c(child: harness.Child) -> Callable[[], None]:
    return lambda: os.killpg(child.pid, signal.SIGINT)  # a terminal signals its whole foreground group


def _sigterm(child: harness.Child) -> Callable[[], None]:
    return lambda: os.kill(child.pid, signal.SIGTERM)


def _ended_in_one_line(child: harness.Child, stage: str, cause: str, status: int) -> str:
    """The run exited `status` (a documented one), its last stage header is `stage`, and its output ends
    in the one line naming the stage and `cause`, with no traceback or stack frame anywhere."""
    code = harness.finish(child, timeout=120)
    output = child.output()
    assert code == status, f"exit {code}, not {status}:\n{child.tail()}"
    assert status in failures.EXIT_STATUS
    headers = re.findall(r"^\[\d+/\d+\] (\w+)$", output, re.MULTILINE)
    assert headers and headers[-1] == stage, f"ended in {headers[-1:]}, not {stage}:\n{child.tail()}"
    last = output.rstrip("\n").splitlines()[-1]
    assert re.fullmatch(rf"error: pipeline \w+ in stage {stage} (by \w+ )?\(exit status {status}\)(: .+)?", last), last
    assert cause in last, last
    assert [line for line in output.splitlines() if line.startswith("error:")] == [last], child.tail()
    assert not NOISE.search(output), f"a traceback or stack frame:\n{child.output()[-3000:]}"
    # the process group is gone with it: no Spark JVM or Python worker outlives the run
    deadline = time.monotonic() + 30
    while True:
        try:
            os.killpg(child.pid, 0)
        except ProcessLookupError:
            break
        if time.monotonic() > deadline:
            harness.kill_group(child)
            raise AssertionError("processes of the interrupted run outlived it")
        time.sleep(0.05)
    assert "holds the lock" not in output, "an earlier run's lock outlived it"
    return last


def _private_tmpfs_over(folder: Path, size: str) -> tuple[str, ...]:
    """A command prefix: the rest runs in a private mount namespace where `folder` is a tmpfs of `size`
    (root: a mount namespace; otherwise a user namespace as well)."""
    folder.mkdir(parents=True, exist_ok=True)
    namespaces = ("--mount",) if os.geteuid() == 0 else ("--user", "--map-root-user", "--mount")
    mount = f'mount -t tmpfs -o size={size} tmpfs "{folder}" && exec "$@"'
    return ("unshare", *namespaces, "--propagation", "private", "sh", "-c", mount, "sh")


# ---------- the scenario


def test_1_a_full_disk_in_ingest_ends_in_one_line(scene):
    data = scene.work_dir / "lake" / "yellow_trips" / "data"
    child = scene.step("1-disk-full", prefix=_private_tmpfs_over(data, "16k"))
    _ended_in_one_line(child, "Ingest", f"{failures.DISK_FULL}: ", failures.FAILED)
    log = next((scene.work_dir / "runs").glob("*.log")).read_text()
    assert "No space left on device" in log, "the details are in the run's log"
    assert harness.manifests(scene.work_dir) == {}, "nothing was committed"
    assert harness.loaded_versions(scene.database) == {}
    scene.broken = False


def test_2_a_spark_jvm_killed_as_out_of_memory_is_named_by_the_runner(scene):
    child = scene.step("2-jvm-killed")
    killed: list[int] = []

    def kill_the_jvm() -> None:
        killed.append(_spark_jvm(child))
        os.kill(killed[0], signal.SIGKILL)  # what the kernel's OOM killer does to the biggest process

    signal_when(child, spark_tasks_running(child), "the Spark job's tasks", kill_the_jvm)
    _ended_in_one_line(child, "Ingest", f"Spark's JVM (pid {killed[0]}) was killed by SIGKILL", failures.FAILED)
    assert harness.manifests(scene.work_dir) == {}
    scene.broken = False


def test_3_ctrl_c_while_the_spark_jvm_starts_leaves_no_jvm_behind(scene):
    child = scene.step("3-ctrl-c-jvm-start")
    signal_when(child, lambda: _spark_jvm(child) is not None, "the Spark JVM starting", _ctrl_c(child))
    _ended_in_one_line(child, "Ingest", "interrupted in stage Ingest by SIGINT", 128 + signal.SIGINT)
    scene.broken = False


def test_4_ctrl_c_in_ingest_ends_in_one_line(scene):
    child = scene.step("4-ctrl-c-ingest")
    signal_when(child, spark_tasks_running(child), "the Spark job's tasks", _ctrl_c(child))
    _ended_in_one_line(child, "Ingest", "interrupted in stage Ingest by SIGINT", 128 + signal.SIGINT)
    report = (scene.work_dir / "runs" / "latest.json").read_text()
    assert '"exit_status": 130' in report and '"error": "interrupted by SIGINT"' in report
    scene.broken = False


def test_5_sigterm_in_the_load_ends_in_one_line(scene):
    child = scene.step("5-sigterm-load")
    signal_when(child, scene.watch.active(harness.COPY_STATEMENT), "a COPY into the raw layer", _sigterm(child))
    _ended_in_one_line(child, "LoadWarehouse", "interrupted in stage LoadWarehouse by SIGTERM", 128 + signal.SIGTERM)
    harness.wait_until_idle(scene.database)
    manifests = harness.manifests(scene.work_dir)
    assert len(manifests) == len(harness.MONTHS), "the rerun ingested every month"
    assert len(harness.loaded_versions(scene.database)) < len(manifests), "the load was interrupted"
    scene.broken = False


def test_6_ctrl_c_in_transform_ends_in_one_line(scene):
    child = scene.step("6-ctrl-c-dbt")
    signal_when(child, scene.watch.active(*harness.FACT_WRITE), "dbt writing analytics.fact_trips", _ctrl_c(child))
    _ended_in_one_line(child, "Transform", "interrupted in stage Transform by SIGINT", 128 + signal.SIGINT)
    harness.wait_until_idle(scene.database)
    assert "dbt build failed" not in child.output()
    assert harness.warehouse_state(scene.database)["analytics.fact_trips"] is None, "dbt's writes rolled back"
    scene.broken = False


def test_7_a_runner_killed_in_transform_is_named_by_its_parent(scene):
    """The runner itself SIGKILLed, as the OOM killer does when dbt (in-process) takes the memory: it
    cannot speak; `make run`'s recipe hands its status to `python -m orchestration.local.failures`."""
    child = scene.step("7-runner-killed")
    in_transform = lambda: re.search(r"^\[\d+/\d+\] Transform$", child.output(), re.MULTILINE) is not None  # noqa: E731
    signal_when(child, in_transform, "the Transform stage", lambda: os.kill(child.pid, signal.SIGKILL))
    assert harness.finish(child) == -signal.SIGKILL
    harness.wait_until_idle(scene.database)
    status = 128 + signal.SIGKILL  # what the recipe's shell sees
    recipe = re.search(r"^run:.*\n((?:\t.*\n)+)", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE).group(1)
    assert "-m orchestration.local.failures $$status" in recipe and "exit $$status" in recipe
    parent = subprocess.run(
        [sys.executable, "-m", "orchestration.local.failures", str(status), "--work-dir", str(scene.work_dir)],
        cwd=REPO_ROOT,
        env=harness.child_env(),
        capture_output=True,
        text=True,
    )
    assert parent.returncode == status
    assert parent.stderr.splitlines() == [
        "error: pipeline killed in stage Transform by SIGKILL (out of memory? the kernel's OOM killer sends"
        f" SIGKILL: see dmesg) (exit status {status})"
    ]
    scene.broken = False


def test_8_the_next_run_converges_to_the_clean_run(scene, reference):
    child = scene.step("8-final")
    assert harness.finish(child) == 0, child.tail()
    assert "holds the lock" not in child.output()
    assert harness.warehouse_state(scene.database) == reference.state
    assert harness.comparable_manifests(scene.work_dir) == reference.manifests
    assert harness.unreferenced_files(scene.work_dir) == []
    scene.broken = False


# ---------- the exit statuses, documented in one place


def test_the_exit_statuses_are_documented_where_the_runner_lists_them():
    doc = (REPO_ROOT / "RELIABILITY.md").read_text()
    table = dict(re.findall(r"^\| `(\d+)` \| (.+?) \|$", doc, re.MULTILINE))
    assert {int(code): meaning for code, meaning in table.items()} == failures.EXIT_STATUS
    usage = subprocess.run(
        [sys.executable, "-m", "orchestration.local.run_pipeline", "--help"],
        cwd=REPO_ROOT,
        env=harness.child_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert " ".join(failures.exit_status_help().split()) in " ".join(usage.split())
