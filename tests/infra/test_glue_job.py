"""The Glue job as the deploy rehearsal created it: Glue 5.0 logging, run queuing, its Python modules."""

from __future__ import annotations

import re

from tests.infra.rehearsal import Rehearsal
from tests.orchestration.tools import REPO_ROOT

INGEST = "module.platform.module.ingest"


def test_glue_5_logging_goes_to_its_own_encrypted_groups(rehearsal: Rehearsal) -> None:
    """Glue 5.0 writes <prefix>/error and <prefix>/output; the 4.0 continuous-logging flags are not 5.0
    arguments ("Logging for AWS Glue jobs")."""
    job = rehearsal.resource(f"{INGEST}.aws_glue_job.ingest")
    arguments = job["default_arguments"]
    assert job["glue_version"] == "5.0"
    assert not {"--enable-continuous-cloudwatch-log", "--continuous-log-logGroup"} & set(arguments)
    prefix = arguments["--custom-logGroup-prefix"]
    key = rehearsal.resource("module.platform.module.storage.aws_kms_key.data")["arn"]
    for stream in ("error", "output"):
        group = rehearsal.resource(f'{INGEST}.aws_cloudwatch_log_group.glue["{stream}"]')
        assert group["name"] == f"{prefix}/{stream}"
        assert group["kms_key_id"] == key
    configuration = rehearsal.resource(f"{INGEST}.aws_glue_security_configuration.this")
    assert job["security_configuration"] == configuration["name"]


def test_a_backfill_queues_instead_of_failing() -> None:
    """Past max_concurrent_runs a run waits (WAITING) instead of failing with ConcurrentRunsExceeded.
    Read from the configuration: moto's Glue does not keep JobRunQueuingEnabled, so the rehearsal's state
    says false whatever was sent."""
    job = (REPO_ROOT / "infra" / "modules" / "ingest" / "job.tf").read_text()
    block = re.search(r'resource "aws_glue_job" "ingest" \{.*?^\}', job, re.S | re.M).group(0)
    assert re.search(r"^\s+job_run_queuing_enabled\s*=\s*true$", block, re.M)


def test_additional_python_modules_are_the_locked_versions_as_wheels(rehearsal: Rehearsal) -> None:
    arguments = rehearsal.resource(f"{INGEST}.aws_glue_job.ingest")["default_arguments"]
    locked = {
        name.lower(): version
        for name, version in re.findall(
            r"^([A-Za-z0-9_.-]+)==(\S+)$", (REPO_ROOT / "requirements.lock").read_text(), re.M
        )
    }
    modules = arguments["--additional-python-modules"].split(",")
    assert "shapely==2.2.0" in modules
    for module in modules:
        name, _, version = module.partition("==")
        assert version and locked.get(name.lower()) == version, f"{module}: requirements.lock has {locked.get(name)}"
    assert arguments["--python-modules-installer-option"] == "--only-binary=:all:", "Glue compiles no native code"
