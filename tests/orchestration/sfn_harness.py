"""The pipeline's AWS side in moto: the real state machine definition, executed by moto's interpreter.

Glue and ECS run nothing in moto, so two fakes stand in for the compute, at the API boundary: the
Glue job run and the dbt container see exactly the arguments and overrides the state machine sent,
and report back what the test scripts (a job that fails, a container that exits 1, ...). SNS topics
deliver to SQS queues, so the tests read the notifications as a subscriber would.
"""

from __future__ import annotations

import copy
import inspect
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from unittest import mock

import boto3
from moto.ecs.models import EC2ContainerServiceBackend
from moto.glue.models import FakeJob
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from orchestration.aws.definition import contract_variables, render_definition

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"

BUCKETS = {
    "landing": "tlc-test-landing",
    "lake": "tlc-test-lake",
    "quarantine": "tlc-test-quarantine",
    "archive": "tlc-test-archive",
    "artifacts": "tlc-test-artifacts",
}
LANDING_PREFIX = "landing/"
GLUE_DATABASE = "tlc_lake"
GLUE_JOB = "tlc-test-ingest"
LOCK_TABLE = "tlc-test-locks"
DBT_CONTAINER = "dbt"


def s3_object_created_event(key: str, bucket: str = BUCKETS["landing"]) -> dict[str, Any]:
    """An S3 'Object Created' event exactly as EventBridge delivers it (S3 EventBridge notifications)."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT_ID,
        "time": "2024-02-03T04:05:06Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": 48954531,
                "etag": "b7a1f8f3c6a4e5d2c1b0a9f8e7d6c5b4",
                "version-id": "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY",
                "sequencer": "00617F08299329D189",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": ACCOUNT_ID,
            "source-ip-address": "203.0.113.15",
            "reason": "PutObject",
        },
    }


def scheduled_event() -> dict[str, Any]:
    """The event an EventBridge schedule rule sends."""
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": "2024-02-03T06:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/tlc-test-daily"],
        "detail": {},
    }


# What the weekly rule's target sends instead of the event (its constant `input`, infra/modules/pipeline/triggers.tf;
# tests/infra/test_alarms.py checks the rehearsed target sends exactly this).
WEEKLY_TEST_INPUT: dict[str, Any] = {"schedule": "weekly-dbt-test"}


@dataclass
class GlueRun:
    arguments: dict[str, str]
    state: str = "SUCCEEDED"
    error_message: str | None = None


@dataclass
class ContainerRun:
    command: list[str]
    environment: dict[str, str]
    exit_code: int = 0


@dataclass
class Execution:
    arn: str
    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]

    def entered_states(self) -> list[str]:
        return [
            event["stateEnteredEventDetails"]["name"] for event in self.history if "stateEnteredEventDetails" in event
        ]


@dataclass
class Pipeline:
    """Everything the state machine touches, created in moto, plus the two compute fakes."""

    glue_job: Callable[[GlueRun], None] = lambda run: None
    dbt_container: Callable[[ContainerRun, Any], None] | None = None
    # Containers beside dbt's in the task (e.g. a monitoring agent); each stops with exit code 137 (killed).
    sidecars: tuple[str, ...] = ()
    glue_runs: list[GlueRun] = field(default_factory=list)
    retry_waits: list[float] = field(default_factory=list)
    container_runs: list[ContainerRun] = field(default_factory=list)

    def __post_init__(self) -> None:
        session = boto3.Session(region_name=REGION)
        self.s3 = session.client("s3")
        self.glue = session.client("glue")
        self.ecs = session.client("ecs")
        self.ec2 = session.client("ec2")
        self.sns = session.client("sns")
        self.sqs = session.client("sqs")
        self.dynamodb = session.client("dynamodb")
        self.sfn = session.client("stepfunctions")
        if self.dbt_container is None:
            self.dbt_container = self.container_uploading_artifacts
        for bucket in BUCKETS.values():
            self.s3.create_bucket(Bucket=bucket)
        self.glue.create_database(DatabaseInput={"Name": GLUE_DATABASE})
        # The lake's Iceberg tables are the job's to create (ingestion/lake_tables.py); the stubbed job here
        # writes nothing, and no state reads the catalog.
        self.glue.create_job(
            Name=GLUE_JOB,
            Role=f"arn:aws:iam::{ACCOUNT_ID}:role/glue",
            Command={"Name": "glueetl", "ScriptLocation": "s3://tlc-test-artifacts/glue/glue_entry.py"},
            ExecutionProperty={"MaxConcurrentRuns": 4},
        )
        self.dynamodb.create_table(
            TableName=LOCK_TABLE,
            KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        vpc = self.ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
        # As in infra/: the interface endpoints' private DNS needs DNS hostnames (and moto's awsvpc tasks too).
        self.ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        self.subnets = [
            self.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)
        ]
        self.security_group = self.ec2.create_security_group(GroupName="dbt", Description="dbt task", VpcId=vpc)[
            "GroupId"
        ]
        self.cluster_arn = self.ecs.create_cluster(clusterName="tlc-test")["cluster"]["clusterArn"]
        self.task_definition_arn = self.ecs.register_task_definition(
            family="tlc-test-dbt",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="1024",
            memory="2048",
            containerDefinitions=[
                {"name": DBT_CONTAINER, "image": f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/dbt:1", "memory": 2048},
                *(
                    {"name": name, "image": f"public.ecr.aws/{name}:1", "essential": False, "memory": 128}
                    for name in self.sidecars
                ),
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        self.topics = {
            name: self.sns.create_topic(Name=f"tlc-test-{name}")["TopicArn"] for name in ("success", "failure")
        }
        self.queues = {}
        for name, topic in self.topics.items():
            queue_url = self.sqs.create_queue(QueueName=f"tlc-test-{name}-inbox")["QueueUrl"]
            queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            self.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
            self.queues[name] = queue_url
        self.variables = {
            "landing_bucket": BUCKETS["landing"],
            "landing_prefix": LANDING_PREFIX,
            "lake_bucket": BUCKETS["lake"],
            "quarantine_bucket": BUCKETS["quarantine"],
            "archive_bucket": BUCKETS["archive"],
            "artifacts_bucket": BUCKETS["artifacts"],
            "glue_job_name": GLUE_JOB,
            "glue_database": GLUE_DATABASE,
            "lock_table": LOCK_TABLE,
            "ecs_cluster_arn": self.cluster_arn,
            "task_definition_arn": self.task_definition_arn,
            "dbt_container_name": DBT_CONTAINER,
            "subnet_ids": json.dumps(self.subnets),
            "security_group_ids": json.dumps([self.security_group]),
            "success_topic_arn": self.topics["success"],
            "failure_topic_arn": self.topics["failure"],
            **contract_variables(LANDING_PREFIX),
        }
        self.definition = render_definition(self.variables)
        self.state_machine_arn = self.sfn.create_state_machine(
            name="tlc-test-pipeline",
            definition=json.dumps(self.definition),
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/tlc-test-sfn",
        )["stateMachineArn"]

    # ---------- the compute fakes

    def container_uploading_artifacts(self, run: ContainerRun, s3: Any) -> None:
        """What the real entrypoint does on success: dbt artifacts under ARTIFACTS_URI."""
        bucket, _, prefix = run.environment["ARTIFACTS_URI"].removeprefix("s3://").partition("/")
        for name in ("index.html", "catalog.json", "manifest.json", "run_results.json"):
            s3.put_object(Bucket=bucket, Key=f"{prefix}{name}", Body=json.dumps({"run": run.environment["RUN_ID"]}))

    def _start_job_run(self, original: Callable[..., str]) -> Callable[..., str]:
        pipeline = self

        def start_job_run(job: FakeJob, **kwargs: Any) -> str:
            called = inspect.signature(original).bind(job, **kwargs).arguments
            run = GlueRun(arguments=dict(called.get("arguments") or {}))
            pipeline.glue_runs.append(run)
            pipeline.glue_job(run)  # may raise a Glue API error, as StartJobRun itself can
            run_id = original(job, **kwargs)
            job_run = job.get_job_run(run_id)
            # The fake decides how the run ends; moto then reports it through GetJobRun.
            job_run._transitions = [("STARTING", "RUNNING"), ("RUNNING", run.state)]
            return run_id

        return start_job_run

    def _run_task(self, original: Callable[..., Any]) -> Callable[..., Any]:
        pipeline = self

        def run_task(backend: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> Any:
            tasks = original(backend, *args, **kwargs)
            called = inspect.signature(original).bind(backend, *args, **kwargs).arguments
            overrides = (called.get("overrides") or {}).get("containerOverrides", [])
            override = next(o for o in overrides if o["name"] == DBT_CONTAINER)
            run = ContainerRun(
                command=list(override.get("command", [])),
                environment={e["name"]: e["value"] for e in override.get("environment", [])},
            )
            pipeline.container_runs.append(run)
            pipeline.dbt_container(run, pipeline.s3)
            for task in tasks:
                for name in pipeline.sidecars:  # moto gives a task its first container only
                    sidecar = copy.copy(task.containers[0])
                    sidecar.name, sidecar.image = name, f"public.ecr.aws/{name}:1"
                    task.containers.append(sidecar)
                for container in task.containers:
                    container.exitCode = run.exit_code if container.name == DBT_CONTAINER else 137
            return tasks

        return run_task

    # ---------- running and reading

    def run(self, execution_input: dict[str, Any], name: str, timeout: float = 60.0) -> Execution:
        with (
            mock.patch.object(FakeJob, "start_job_run", self._start_job_run(FakeJob.start_job_run)),
            mock.patch.object(
                EC2ContainerServiceBackend, "run_task", self._run_task(EC2ContainerServiceBackend.run_task)
            ),
            # Retry waits are recorded instead of slept: the definition's real intervals, no real time.
            mock.patch.object(retrier_decl, "time", SimpleNamespace(sleep=self.retry_waits.append)),
        ):
            arn = self.sfn.start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(execution_input)
            )["executionArn"]
            deadline = time.monotonic() + timeout
            while True:
                described = self.sfn.describe_execution(executionArn=arn)
                if described["status"] != "RUNNING":
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"execution {name} still RUNNING after {timeout}s")
                time.sleep(0.1)
        history = self.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return Execution(
            arn=arn,
            status=described["status"],
            output=json.loads(described["output"]) if described.get("output") else None,
            error=described.get("error"),
            cause=described.get("cause"),
            history=history,
        )

    def messages(self, topic: str) -> list[dict[str, Any]]:
        """The notifications a subscriber of `topic` ('success' or 'failure') received, decoded."""
        received = self.sqs.receive_message(QueueUrl=self.queues[topic], MaxNumberOfMessages=10).get("Messages", [])
        envelopes = [json.loads(m["Body"]) for m in received]
        return [{"subject": e.get("Subject"), "message": json.loads(e["Message"])} for e in envelopes]

    def locks(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=LOCK_TABLE)["Items"]
