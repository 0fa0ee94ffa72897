"""The Glue job run as AWS Glue 5.0 runs it, on this machine.

- The runtime: a fresh Python 3.11 environment holding Glue 5.0's documented modules and Spark 3.5.4
  (glue5_runtime.txt, a lock of its own), then the job's `--additional-python-modules` installed the way
  Glue does it, by pip with the job's `--python-modules-installer-option` on top of the provided modules
  (no virtual environment of the job's own: "Using Python libraries with AWS Glue"). Cached under
  .local/glue5-runtime/<hash of all three>.
- The code: the script and the `--extra-py-files` package as Terraform uploaded them (read back from the
  deploy rehearsal's S3), the package on the Python path of the driver and of every Python worker through
  spark-submit's --py-files, as Glue does with --extra-py-files.
- The arguments: the job's default arguments, overridden by the run's (what StartJobRun sent), plus Glue's
  own (--JOB_ID, --JOB_RUN_ID, --JOB_NAME, --job-bookmark-option), as `--name value` pairs after the script.
- `awsglue`, which is not on PyPI: glue_standin/ on the driver's path (getResolvedOptions, GlueContext).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.orchestration.tools import REPO_ROOT

LOCK = Path(__file__).with_name("glue5_runtime.txt")
STAND_IN = Path(__file__).with_name("glue_standin")
CACHE = REPO_ROOT / ".local" / "glue5-runtime"
INSTALLER_FIRST = ("pip", "setuptools")  # installed before the rest, at the lock's versions
# Glue 5.0 runs on Amazon Linux 2023, glibc 2.34, Java 17 ("AWS Glue versions"; "Using Python libraries with
# AWS Glue"): a wheel pip picks here (glibc 2.36) must also load there.
GLUE_GLIBC = (2, 34)
GLUE_JAVA = 17


def _pip(python: Path, *args: str, log: Path) -> None:
    with log.open("a") as out:
        out.write(f"$ pip {shlex.join(args)}\n")
        out.flush()
        result = subprocess.run([str(python), "-m", "pip", *args], stdout=out, stderr=subprocess.STDOUT, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"pip {' '.join(args[:3])} failed in the Glue 5.0 runtime; see {log}")


def runtime(job_arguments: Mapping[str, str]) -> Path:
    """The Glue 5.0 runtime's Python, with the job's modules installed; built once per lock and modules."""
    modules = [m for m in job_arguments.get("--additional-python-modules", "").split(",") if m]
    options = shlex.split(job_arguments.get("--python-modules-installer-option", ""))
    key = hashlib.sha256("\n".join([LOCK.read_text(), *modules, "--", *options]).encode()).hexdigest()[:16]
    home = CACHE / key
    python = home / "bin" / "python"
    if (home / ".complete").is_file():
        return python
    if CACHE.exists():
        shutil.rmtree(CACHE)  # one runtime at a time: an old lock's is never used again
    CACHE.mkdir(parents=True)
    log = CACHE / "install.log"
    subprocess.run([sys._base_executable, "-m", "venv", str(home)], check=True, timeout=300)
    pins = [line for line in LOCK.read_text().splitlines() if line and not line.startswith("#")]
    first = [pin for pin in pins if pin.split("==")[0] in INSTALLER_FIRST]
    _pip(python, "install", "--quiet", *first, log=log)
    rest = CACHE / "provided.txt"
    rest.write_text("\n".join(pin for pin in pins if pin not in first) + "\n")
    _pip(python, "install", "--quiet", "-r", str(rest), log=log)
    # What Glue runs at job start for --additional-python-modules, on top of the provided modules.
    _pip(python, "install", *modules, *options, log=log)
    (home / ".complete").touch()
    return python


def wheel_tags(python: Path, distribution: str) -> list[str]:
    """The platform tags of an installed distribution's wheel (the Tag lines of its .dist-info/WHEEL)."""
    code = "import importlib.metadata as m, sys; print(m.distribution(sys.argv[1]).read_text('WHEEL'))"
    out = subprocess.run([str(python), "-c", code, distribution], capture_output=True, text=True, check=True)
    return [line.split(":", 1)[1].strip() for line in out.stdout.splitlines() if line.startswith("Tag:")]


def loads_on_glue(tag: str) -> bool:
    """A wheel tag's platform is pure or a manylinux no newer than Glue 5.0's glibc, on x86_64."""
    platform = tag.split("-")[-1]
    if platform == "any":
        return True
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)_x86_64|manylinux(2014|2010|1)_x86_64", platform)
    if not match:
        return False
    legacy = {"2014": (2, 17), "2010": (2, 12), "1": (2, 5)}
    glibc = legacy[match.group(3)] if match.group(3) else (int(match.group(1)), int(match.group(2)))
    return glibc <= GLUE_GLIBC


def java_major() -> int | None:
    """The major version of the `java` Spark will start (JAVA_HOME's, else the PATH's)."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java:
        return None
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else None


def glue_argv(script: Path, default_arguments: Mapping[str, str], run_arguments: Mapping[str, str]) -> list[str]:
    """sys.argv as the script sees it: the script, then every argument as `--name value`."""
    merged = {
        "--JOB_ID": "j_rehearsal",
        "--JOB_RUN_ID": "jr_rehearsal",
        "--JOB_NAME": "tlc-dev-ingest",
        "--job-bookmark-option": "job-bookmark-disable",
        **default_arguments,
        **run_arguments,
    }
    return [str(script), *(word for name, value in merged.items() for word in (name, value))]


def run_job(
    python: Path, script: Path, package: Path, argv: list[str], env: Mapping[str, str], work: Path, timeout: float = 900
) -> subprocess.CompletedProcess:
    """spark-submit of the script, the package as --py-files, workers on the runtime's Python, in an empty
    folder `work` (Python workers put their working folder on sys.path: this checkout must not be it)."""
    spark_submit = python.parent / "spark-submit"
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("PYSPARK", "SPARK", "PYTHON"))},
        **env,
        "PYSPARK_PYTHON": str(python),
        "PYSPARK_DRIVER_PYTHON": str(python),
        "PYTHONPATH": str(STAND_IN),  # awsglue, on the driver, as Glue provides it
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    command = [str(spark_submit), "--master", "local[2]", "--py-files", str(package), *argv]
    work.mkdir(parents=True, exist_ok=True)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment, cwd=work)
