"""A 24-month backfill uploaded at once, in the moto harness (issue 13, item 7).

Glue runs at most `max_concurrent_runs` runs of a job at a time. Past that, StartJobRun fails with
ConcurrentRunsExceededException, unless the job has run queuing on: then the run waits (state WAITING)
for a slot ("AWS Glue job run statuses"). The fake below has exactly that behaviour, with the limit
and the queuing setting read from infra/modules/ingest. Runs end when the test says so, not after some
time: the test finishes them one at a time and lets each execution complete before the next, so the
outcome does not depend on timing (the state machine's retry waits are recorded, not slept).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from unittest import mock

from moto.ecs.models import EC2ContainerServiceBackend
from moto.glue.exceptions import ConcurrentRunsExceededException
from moto.glue.models import FakeJob, glue_backends
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from tests.orchestration.sfn_harness import ACCOUNT_ID, GLUE_JOB, REGION, GlueRun, Pipeline, s3_object_created_event
from tests.orchestration.tools import REPO_ROOT

INGEST = REPO_ROOT / "infra" / "modules" / "ingest"
MONTHS = [(year, month) for year in (2022, 2023) for month in range(1, 13)]  # 24 files
HANG_GUARD_SECONDS = 120  # a broken run fails here instead of hanging; no assertion is about time


def glue_job_settings() -> tuple[int, bool]:
    """(max_concurrent_runs, job_run_queuing_enabled) as infra/modules/ingest configures the job."""
    variables = (INGEST / "variables.tf").read_text()
    limit = int(re.search(r'variable "max_concurrent_runs" \{.*?default\s*=\s*(\d+)', variables, re.S).group(1))
    job = re.search(r'resource "aws_glue_job" "ingest" \{.*?^\}', (INGEST / "job.tf").read_text(), re.S | re.M)
    queuing = re.search(r"^\s+job_run_queuing_enabled\s*=\s*(true|false)$", job.group(0), re.M)
    return limit, bool(queuing and queuing.group(1) == "true")


@dataclass
class GlueSlots:
    """One Glue job's concurrency: RUNNING up to `limit` runs, WAITING (queuing) or refused past it."""

    limit: int
    queuing: bool
    state: dict[str, str] = field(default_factory=dict)  # --inputs -> JobRunState
    order: list[str] = field(default_factory=list)  # admission order
    lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, run: GlueRun) -> None:
        """Called as StartJobRun is: raises ConcurrentRunsExceededException as Glue does without queuing."""
        key = run.arguments["--inputs"]
        with self.lock:
            running = sum(1 for s in self.state.values() if s == "RUNNING")
            if running < self.limit:
                self.state[key] = "RUNNING"
            elif self.queuing:
                self.state[key] = "WAITING"
            else:
                raise ConcurrentRunsExceededException(f"Concurrent runs exceeded for {GLUE_JOB}")
            self.order.append(key)

    def finish(self, key: str) -> None:
        with self.lock:
            assert self.state[key] == "RUNNING", f"{key} is {self.state[key]}"
            self.state[key] = "SUCCEEDED"
            waiting = [k for k in self.order if self.state[k] == "WAITING"]
            if waiting:
                self.state[waiting[0]] = "RUNNING"

    def get_job_run(self, original):
        slots = self

        def get_job_run(job, run_id):
            job_run = original(job, run_id)
            job_run._transitions = []  # the state is the slots' alone
            with slots.lock:
                job_run.status = slots.state[job_run.arguments["--inputs"]]
            return job_run

        return get_job_run


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


def test_configured_limit_is_what_the_harness_models() -> None:
    limit, _ = glue_job_settings()
    assert 1 <= limit < len(MONTHS), "a backfill of MONTHS must exceed the limit for this test to mean something"


def test_a_24_month_backfill_ingests_every_month(pipeline: Pipeline) -> None:
    limit, queuing = glue_job_settings()
    keys = [f"landing/yellow_tripdata_{year}-{month:02d}.parquet" for year, month in MONTHS]
    slots = GlueSlots(limit=limit, queuing=queuing)
    pipeline.glue_job = slots.admit
    # The slots are the only limit: moto's own MaxConcurrentRuns check knows no queuing.
    glue_backends[ACCOUNT_ID][REGION].jobs[GLUE_JOB].execution_property["MaxConcurrentRuns"] = len(keys) + 1

    with (
        mock.patch.object(FakeJob, "start_job_run", pipeline._start_job_run(FakeJob.start_job_run)),
        mock.patch.object(FakeJob, "get_job_run", slots.get_job_run(FakeJob.get_job_run)),
        mock.patch.object(EC2ContainerServiceBackend, "run_task", pipeline._run_task(EC2ContainerServiceBackend.run_task)),  # noqa: E501
        mock.patch.object(retrier_decl, "time", SimpleNamespace(sleep=pipeline.retry_waits.append)),
    ):  # fmt: skip
        arns = {
            key: pipeline.sfn.start_execution(
                stateMachineArn=pipeline.state_machine_arn,
                name=f"backfill-{i:02d}",
                input=json.dumps(s3_object_created_event(key)),
            )["executionArn"]
            for i, key in enumerate(keys)
        }

        def status(arn: str) -> str:
            return pipeline.sfn.describe_execution(executionArn=arn)["status"]

        # Every upload reaches Glue: its run admitted (RUNNING or WAITING), or refused and its execution failed.
        _wait_for(
            lambda: len(slots.order) + sum(status(a) == "FAILED" for a in arns.values()) == len(keys),
            "every execution to start its Glue run or fail",
        )
        refused = sorted(key for key, arn in arns.items() if status(arn) == "FAILED")
        assert refused == [], f"{len(refused)} of {len(keys)} months failed at Ingest: {refused[:3]}..."
        assert len(slots.order) == len(keys)
        assert sum(1 for s in slots.state.values() if s == "RUNNING") == limit, "the rest wait for a slot"

        # Glue finishes the runs in the order it admitted them; each execution then runs to its end
        # before the next run finishes, so the dbt builds never contend for the transform lock.
        for inputs in list(slots.order):
            _wait_for(lambda inputs=inputs: slots.state[inputs] == "RUNNING", f"{inputs} to get a slot")
            slots.finish(inputs)
            [arn] = [arns[k] for k in keys if k in inputs]
            _wait_for(lambda arn=arn: status(arn) != "RUNNING", f"execution of {inputs}")
            assert status(arn) == "SUCCEEDED", pipeline.sfn.describe_execution(executionArn=arn).get("cause")

    assert len(_drain(pipeline, "success")) == len(keys)
    assert _drain(pipeline, "failure") == []
    assert len(pipeline.container_runs) == len(keys)
    assert pipeline.locks() == []


def _drain(pipeline: Pipeline, topic: str) -> list[dict]:
    """Every notification on the topic (one read returns at most 10)."""
    messages = []
    while batch := pipeline.messages(topic):
        messages.extend(batch)
    return messages
