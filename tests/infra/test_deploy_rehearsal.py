"""The deploy rehearsal (tests/infra/rehearsal.py): infra/envs/dev applied to moto, then one upload.

It found what `terraform validate` could not: `count`/`for_each` on values only known after apply (the
access-log bucket's name, the dbt task's security group ID), a provider-side conflict (`etag` with
`kms_key_id` on aws_s3_object), and an ordering fault (S3 refuses a logging target whose policy is not
there yet). Each now has its fix in infra/ and fails this apply if it comes back.
"""

from __future__ import annotations

import json
import re
import warnings

import boto3
from botocore.config import Config

from tests.infra.rehearsal import NOT_REHEARSED, NOT_REHEARSED_FILES, REGION, Rehearsal
from tests.orchestration.tools import REPO_ROOT

MODULES = REPO_ROOT / "infra" / "modules"
INFRA_ENVS = REPO_ROOT / "infra" / "envs"
# Resources with for_each over lists that are empty in dev (no e-mail subscribers are given).
EMPTY_IN_DEV = {"aws_sns_topic_subscription.success_email", "aws_sns_topic_subscription.failure_email"}


def _client(rehearsal: Rehearsal, service: str):
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    return boto3.client(
        service,
        endpoint_url=rehearsal.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        verify=False,  # moto's self-signed certificate
        config=Config(s3={"addressing_style": "path"}),
    )


def test_apply_of_dev_succeeds(rehearsal: Rehearsal) -> None:
    assert rehearsal.errors() == [], "\n".join(rehearsal.errors())
    assert rehearsal.apply_code == 0, rehearsal.apply_log[-3000:]


def test_every_resource_is_created_but_those_moto_has_no_api_for(rehearsal: Rehearsal) -> None:
    declared = {
        ".".join(found)
        for path in MODULES.rglob("*.tf")
        for found in re.findall(r'^resource "(\w+)" "(\w+)"', path.read_text(), flags=re.MULTILINE)
    }
    created = {f"{r['type']}.{r['name']}" for r in rehearsal.resources() if r["mode"] == "managed"}
    assert declared - created == set(NOT_REHEARSED) | EMPTY_IN_DEV
    for name in NOT_REHEARSED_FILES:
        assert (MODULES.parent / name).is_file(), f"{name} moved: update tests/infra/rehearsal.py"


def test_an_upload_to_landing_starts_one_execution_with_its_event(rehearsal: Rehearsal) -> None:
    """S3 (EventBridge notifications on) -> the rehearsed rule's pattern -> its target, the state machine.
    moto's EventBridge has no Step Functions target: tests/infra/moto_server_for_rehearsal.py adds it."""
    s3, sfn = _client(rehearsal, "s3"), _client(rehearsal, "stepfunctions")
    landing = rehearsal.resource("module.platform.module.storage.module.landing.aws_s3_bucket.this")["bucket"]
    machine = rehearsal.resource("module.platform.module.pipeline.aws_sfn_state_machine.pipeline")["arn"]
    for key in ("landing/notes.txt", "elsewhere/yellow_tripdata_2024-01.parquet"):
        s3.put_object(Bucket=landing, Key=key, Body=b"not for the pipeline")
    put = s3.put_object(Bucket=landing, Key="landing/yellow_tripdata_2024-01.parquet", Body=b"PAR1 rehearsal PAR1")

    started = sfn.list_executions(stateMachineArn=machine)["executions"]
    inputs = [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in started]
    assert len(inputs) == 1, f"the other two keys do not match the rule; started: {json.dumps(inputs, indent=1)}"
    [event] = inputs
    assert event["source"] == "aws.s3" and event["detail-type"] == "Object Created"
    assert event["detail"]["bucket"]["name"] == landing
    assert event["detail"]["object"]["key"] == "landing/yellow_tripdata_2024-01.parquet"
    assert event["detail"]["object"]["version-id"] == put["VersionId"], "the event pins the uploaded version"


def test_every_file_ending_of_the_contract_starts_an_execution(rehearsal: Rehearsal) -> None:
    """The rule's key wildcards come from the lake contract (infra/lake_contract.json): a for-hire file
    and a gzip-compressed CSV start executions like a yellow Parquet file does."""
    s3, sfn = _client(rehearsal, "s3"), _client(rehearsal, "stepfunctions")
    landing = rehearsal.resource("module.platform.module.storage.module.landing.aws_s3_bucket.this")["bucket"]
    machine = rehearsal.resource("module.platform.module.pipeline.aws_sfn_state_machine.pipeline")["arn"]
    before = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    keys = [
        "landing/fhvhv_tripdata_2024-02.parquet",
        "landing/fhv_tripdata_2019-01.csv",
        "landing/green_tripdata_2014-01.csv.gz",
    ]
    for key in keys:
        s3.put_object(Bucket=landing, Key=key, Body=b"rehearsal")
    started = [e for e in sfn.list_executions(stateMachineArn=machine)["executions"] if e["executionArn"] not in before]
    inputs = [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in started]
    assert sorted(event["detail"]["object"]["key"] for event in inputs) == sorted(keys)
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=machine)["definition"])
    rules = definition["States"]["ValidateObjectKey"]["Choices"][0]["And"][1]["Or"]
    contract = json.loads((REPO_ROOT / "infra" / "lake_contract.json").read_text())
    assert [rule["StringMatches"] for rule in rules] == [f"landing/{p}" for p in contract["landing"]["key_patterns"]]


def test_the_subnets_are_in_the_az_ids_the_environment_names(rehearsal: Rehearsal) -> None:
    """infra/envs/dev places its subnets by AZ ID (a name is a different physical zone in each account):
    moto's EC2 knows us-east-1's AZ IDs, and the subnets it made are in exactly those asked for."""
    named = re.search(r"availability_zone_ids\s*=\s*(\[[^\]]*\])", (INFRA_ENVS / "dev" / "main.tf").read_text())
    assert named, "infra/envs/dev/main.tf names no availability_zone_ids"
    asked = json.loads(named.group(1))
    subnets = sorted(
        (r for r in rehearsal.resources() if r["type"] == "aws_subnet" and r["mode"] == "managed"),
        key=lambda r: r["index"],
    )
    assert [s["values"]["availability_zone_id"] for s in subnets] == asked
    described = _client(rehearsal, "ec2").describe_subnets(SubnetIds=[s["values"]["id"] for s in subnets])["Subnets"]
    assert sorted(s["AvailabilityZoneId"] for s in described) == sorted(asked)
