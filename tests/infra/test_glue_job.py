"""The Glue job as the deploy rehearsal created it: Glue 5.0 logging, run queuing, its Python modules."""

from __future__ import annotations

import re

from tests.infra.iam_policy import decide
from tests.infra.rehearsal import ACCOUNT_ID, Rehearsal
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


def test_the_security_configuration_leaves_the_log_group_names_to_glue_5(rehearsal: Rehearsal) -> None:
    """With CloudWatch encryption in a job's security configuration, Glue writes to log groups whose names carry
    the configuration's name: "<group>-<security configuration>" ("Enabling continuous logging for AWS Glue
    4.0 and earlier jobs", https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging-enable.html),
    "/aws-glue/jobs-<role>-<configuration>/" (the Glue API's JobRun.LogGroupName), and no page says what Glue
    5.0's --custom-logGroup-prefix does then; the job role may write only <prefix>/error and <prefix>/output.
    So the configuration encrypts no logs, and the two groups are encrypted by their own key (kms_key_id,
    checked above; CloudWatch Logs encrypts a group's data with its key: "Encrypt log data in CloudWatch Logs
    using AWS KMS", https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html)."""
    configuration = rehearsal.resource(f"{INGEST}.aws_glue_security_configuration.this")
    [encryption] = configuration["encryption_configuration"]
    [cloudwatch] = encryption["cloudwatch_encryption"]
    assert cloudwatch["cloudwatch_encryption_mode"] == "DISABLED", (
        "the security configuration encrypts CloudWatch logs: Glue would name the groups after it"
    )
    [s3] = encryption["s3_encryption"]
    assert s3["s3_encryption_mode"] == "SSE-KMS", "the configuration still encrypts what the job writes to S3"


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


def test_the_job_is_given_the_column_statistics_role_schedule_and_encrypted_logs(rehearsal: Rehearsal) -> None:
    """Each lake table's Glue column statistics settings are the job's (ingestion/lake_statistics.py): its
    arguments name the statistics role, the schedule (daily, 04:00 UTC by default) and a security configuration
    that encrypts the task's CloudWatch logs with the platform key ("Column statistics API": SecurityConfiguration
    is "used to encrypt CloudWatch logs")."""
    arguments = rehearsal.resource(f"{INGEST}.aws_glue_job.ingest")["default_arguments"]
    role = rehearsal.resource(f"{INGEST}.aws_iam_role.column_statistics")
    configuration = rehearsal.resource(f"{INGEST}.aws_glue_security_configuration.column_statistics")
    assert arguments["--column_stats_role"] == role["arn"]
    assert arguments["--column_stats_schedule"] == "cron(0 4 * * ? *)"
    assert arguments["--column_stats_security_configuration"] == configuration["name"]
    key = rehearsal.resource("module.platform.module.storage.aws_kms_key.data")["arn"]
    [encryption] = configuration["encryption_configuration"]
    [cloudwatch] = encryption["cloudwatch_encryption"]
    assert (cloudwatch["cloudwatch_encryption_mode"], cloudwatch["kms_key_arn"]) == ("SSE-KMS", key)


def test_only_glue_may_assume_the_column_statistics_role(rehearsal: Rehearsal) -> None:
    """The trust policy the prerequisites page gives: glue.amazonaws.com, sts:AssumeRole; no other service and
    no identity of the account (column-stats-prereqs.html). Without a source condition: see column_statistics.tf."""
    role = rehearsal.resource(f"{INGEST}.aws_iam_role.column_statistics")
    trust = [role["assume_role_policy"]]
    assert decide(trust, "sts:AssumeRole", role["arn"], {}, {"Service": "glue.amazonaws.com"}) == "allow"
    for other in (
        {"Service": "ec2.amazonaws.com"},
        {"Service": "lambda.amazonaws.com"},
        {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
    ):
        assert decide(trust, "sts:AssumeRole", role["arn"], {}, other) != "allow", other


def test_the_job_brings_a_boto3_that_knows_the_statistics_settings_api(rehearsal: Rehearsal) -> None:
    """Glue 5.0 provides botocore 1.34.131 (tests/infra/glue5_runtime.txt), whose Glue model has no
    Create/Get/UpdateColumnStatisticsTaskSettings: the job installs the locked boto3/botocore, whose model has
    them (checked on this environment's botocore, installed from the same lock)."""
    import botocore
    import botocore.session

    modules = rehearsal.resource(f"{INGEST}.aws_glue_job.ingest")["default_arguments"]["--additional-python-modules"]
    pinned = dict(module.partition("==")[::2] for module in modules.split(","))
    assert pinned["botocore"] == botocore.__version__ and "boto3" in pinned and "s3transfer" in pinned
    runtime = (REPO_ROOT / "tests" / "infra" / "glue5_runtime.txt").read_text()
    assert re.search(r"^botocore==1\.34\.131$", runtime, re.M), "Glue 5.0's botocore changed: re-check the upgrade"
    operations = botocore.session.get_session().get_service_model("glue").operation_names
    for name in (
        "CreateColumnStatisticsTaskSettings",
        "GetColumnStatisticsTaskSettings",
        "UpdateColumnStatisticsTaskSettings",
    ):
        assert name in operations
