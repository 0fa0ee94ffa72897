"""The state machine executed by moto's Step Functions interpreter, on the success and failure paths.

The inputs are what EventBridge really sends (an S3 'Object Created' event, a 'Scheduled Event', the
weekly rule's constant input) or a hand-written request; the outputs are read where a person would: the
SNS topics' SQS subscribers, the Glue Data Catalog, the artifacts bucket, the lock table.
"""

from __future__ import annotations

import json

import pytest
from moto import mock_aws
from moto.glue.exceptions import ConcurrentRunsExceededException

from ingestion import glue_entry
from orchestration.container import entrypoint
from tests.orchestration.moto_patches import patched_moto_stepfunctions
from tests.orchestration.sfn_harness import (
    BUCKETS,
    GLUE_DATABASE,
    GLUE_JOB,
    LOCK_TABLE,
    WEEKLY_TEST_INPUT,
    ContainerRun,
    GlueRun,
    Pipeline,
    s3_object_created_event,
    scheduled_event,
)

KEY = "landing/yellow_tripdata_2024-01.parquet"


def _dbt_run(command: list[str], execution: str) -> ContainerRun:
    """The dbt container as Transform starts it: the command, no vars, the execution's artifacts folder."""
    return ContainerRun(
        command=command,
        environment={
            "DBT_VARS": "{}",
            "RUN_ID": execution,
            "ARTIFACTS_URI": f"s3://{BUCKETS['artifacts']}/dbt/runs/{execution}/",
        },
    )


def test_s3_event_runs_every_stage_and_notifies_success(pipeline) -> None:
    execution = pipeline.run(s3_object_created_event(KEY), name="upload-2024-01")

    assert execution.status == "SUCCEEDED", execution.cause
    entered = execution.entered_states()
    stages = ["ValidateInput", "Ingest", "Transform", "PublishArtifacts", "NotifySuccess"]
    assert [s for s in entered if s in stages] == stages

    # Ingest: exactly the object version of the event (pinned: a re-upload during the run is another
    # version), with the lake, quarantine and archive roots.
    event = s3_object_created_event(KEY)
    assert [run.arguments for run in pipeline.glue_runs] == [
        {
            "--inputs": json.dumps(
                [{"uri": f"s3://{BUCKETS['landing']}/{KEY}", "version_id": event["detail"]["object"]["version-id"]}],
                separators=(",", ":"),
            ),
            "--lake_root": f"s3://{BUCKETS['lake']}/",
            "--quarantine_root": f"s3://{BUCKETS['quarantine']}/",
            "--archive_root": f"s3://{BUCKETS['archive']}/",
            "--catalog": f"glue:{GLUE_DATABASE}",
        }
    ]
    # No partition to register: Spectrum reads the Iceberg tables the job committed to the catalog.
    # Transform: the dbt container with the default command, the run's vars and where to put artifacts.
    assert pipeline.container_runs == [_dbt_run(["build"], "upload-2024-01")]
    # PublishArtifacts: the run's docs site and artifacts are now the latest.
    latest = pipeline.s3.list_objects_v2(Bucket=BUCKETS["artifacts"], Prefix="dbt/latest/")["Contents"]
    assert sorted(o["Key"] for o in latest) == [
        "dbt/latest/catalog.json",
        "dbt/latest/index.html",
        "dbt/latest/manifest.json",
        "dbt/latest/run_results.json",
    ]
    # NotifySuccess: one message on the success topic, none on the failure topic.
    [success] = pipeline.messages("success")
    assert success["subject"] == "TLC warehouse run succeeded"
    message = success["message"]
    assert message["status"] == "SUCCEEDED"
    assert message["execution_id"] == execution.arn
    assert message["trigger"] == "s3"
    assert message["object"]["uri"] == f"s3://{BUCKETS['landing']}/{KEY}"
    assert (message["object"]["service"], message["object"]["year"], message["object"]["month"]) == (
        "yellow",
        "2024",
        "01",
    )
    assert message["ingest"]["JobRunState"] == "SUCCEEDED"
    assert message["transform"]["LastStatus"] == "STOPPED"
    assert message["artifacts"] == f"s3://{BUCKETS['artifacts']}/dbt/runs/upload-2024-01/"
    assert pipeline.messages("failure") == []
    assert pipeline.locks() == [], "every lock is released"
    assert pipeline.retry_waits == []


@pytest.mark.parametrize(
    "key",
    [
        "landing/fhvhv_tripdata_2024-10.parquet",
        "landing/fhv_tripdata_2015-01.csv",
        "landing/yellow_tripdata_2019-12.csv.gz",
        "landing/green_tripdata_2013-08.csv",
    ],
)
def test_every_dataset_and_format_of_the_contract_routes_end_to_end(pipeline, key) -> None:
    """Issue 14 / 11: the for-hire datasets and gzip CSV are accepted keys, and the job is started on
    exactly that object, with the lake's catalog."""
    execution = pipeline.run(s3_object_created_event(key), name=key.split("/")[-1].replace(".", "-"))
    assert execution.status == "SUCCEEDED", execution.cause
    [run] = pipeline.glue_runs
    assert json.loads(run.arguments["--inputs"])[0]["uri"] == f"s3://{BUCKETS['landing']}/{key}"
    assert run.arguments["--catalog"] == f"glue:{GLUE_DATABASE}"


def test_a_reload_of_a_month_succeeds(pipeline) -> None:
    """A second delivery of a month runs the same way: the job replaces the month in one commit."""
    assert pipeline.run(s3_object_created_event(KEY), name="first").status == "SUCCEEDED"
    csv_key = "landing/yellow_tripdata_2024-01.csv"
    assert pipeline.run(s3_object_created_event(csv_key), name="again").status == "SUCCEEDED"
    assert len(pipeline.messages("success")) == 2


def test_daily_schedule_builds_dbt_without_ingesting(pipeline) -> None:
    execution = pipeline.run(scheduled_event(), name="daily-2024-02-03")

    assert execution.status == "SUCCEEDED", execution.cause
    assert pipeline.glue_runs == []
    assert "Ingest" not in execution.entered_states()
    assert [run.command for run in pipeline.container_runs] == [["build"]]
    [success] = pipeline.messages("success")
    assert success["message"]["trigger"] == "schedule"
    assert success["message"]["object"] is None
    assert pipeline.locks() == []


def test_weekly_schedule_tests_every_month_without_ingesting_or_publishing(pipeline) -> None:
    """Issue 21: the whole-history test run. `dbt test` alone (a build scopes its tests to the months it rebuilt),
    under the transform lock, notified like the daily run; it built nothing, so dbt/latest/ stays the last build's."""
    execution = pipeline.run(WEEKLY_TEST_INPUT, name="weekly-2024-02-04")

    assert execution.status == "SUCCEEDED", execution.cause
    assert pipeline.glue_runs == []
    assert pipeline.container_runs == [_dbt_run(["test"], "weekly-2024-02-04")]
    entered = execution.entered_states()
    assert "AcquireTransformLock" in entered
    assert "Ingest" not in entered and "PublishArtifacts" not in entered
    assert "Contents" not in pipeline.s3.list_objects_v2(Bucket=BUCKETS["artifacts"], Prefix="dbt/latest/")
    [success] = pipeline.messages("success")
    assert success["message"]["trigger"] == "weekly-dbt-test"
    assert success["message"]["object"] is None
    assert success["message"]["artifacts"] == f"s3://{BUCKETS['artifacts']}/dbt/runs/weekly-2024-02-04/"
    assert pipeline.messages("failure") == []
    assert pipeline.locks() == []


def test_request_overrides_the_dbt_command_and_vars(pipeline) -> None:
    request = {
        "bucket": BUCKETS["landing"],
        "key": "landing/green_tripdata_2023-12.csv",
        "dbt": {"command": ["build", "--select", "fact_trips+"], "vars": {"rebuild_months": ["2023-12"]}},
    }
    execution = pipeline.run(request, name="backfill-green")

    assert execution.status == "SUCCEEDED", execution.cause
    # A request names no version: the job pins the one current when it starts.
    assert glue_entry.parse_inputs(pipeline.glue_runs[0].arguments["--inputs"]) == [
        glue_entry.PinnedInput(f"s3://{BUCKETS['landing']}/landing/green_tripdata_2023-12.csv", None)
    ]
    [container] = pipeline.container_runs
    assert container.command == ["build", "--select", "fact_trips+"]
    assert json.loads(container.environment["DBT_VARS"]) == {"rebuild_months": ["2023-12"]}


@pytest.mark.parametrize(
    ("execution_input", "why"),
    [
        (s3_object_created_event(KEY, bucket="someone-elses-bucket"), "another bucket"),
        (s3_object_created_event("landing/taxi_zone_lookup.csv"), "not a TLC trip file name"),
        (s3_object_created_event("landing/fhv_tripdata_2024-01.zip"), "not a format of the contract"),
        (s3_object_created_event("elsewhere/yellow_tripdata_2024-01.parquet"), "outside the landing prefix"),
        (s3_object_created_event("landing/yellow_tripdata_2024-01.parquet.tmp"), "not parquet/csv"),
        # `*` matches any characters, '/' and '_' included: names the next states could not take apart.
        (s3_object_created_event("landing/yellow_tripdata_2024-01/part-0.parquet"), "a folder below the prefix"),
        (s3_object_created_event("landing/yellow_tripdata_2024_01-x.parquet"), "a third underscore"),
        (s3_object_created_event("landing/yellow_tripdata_2024.01-x.parquet"), "the month's '-' after a '.'"),
        (s3_object_created_event("landing/yellow_tripdata_-01.parquet"), "no year"),
        (s3_object_created_event("landing/yellow_tripdata_2024-.parquet"), "no month"),
        ({"detail-type": "Object Deleted", "source": "aws.s3", "detail": {}}, "another event"),
        ({"bucket": BUCKETS["landing"], "key": KEY, "dbt": {"command": ["run-operation", "drop_all"]}}, "dbt command"),
        ({"hello": "world"}, "unknown shape"),
    ],
)
def test_invalid_input_is_rejected_before_any_work(pipeline, execution_input, why) -> None:
    execution = pipeline.run(execution_input, name="rejected")

    assert execution.status == "FAILED", why
    assert execution.error == "PipelineFailed"
    assert execution.cause.startswith("InvalidInput: ")
    assert pipeline.glue_runs == [] and pipeline.container_runs == []
    [failure] = pipeline.messages("failure")
    assert failure["message"]["error"] == "InvalidInput"
    assert failure["message"]["input"] == execution_input
    assert pipeline.messages("success") == []


def test_failing_glue_job_notifies_failure_and_stops(pipeline) -> None:
    def job_fails(run: GlueRun) -> None:
        run.state = "FAILED"

    pipeline.glue_job = job_fails
    execution = pipeline.run(s3_object_created_event(KEY), name="glue-fails")

    assert execution.status == "FAILED"
    assert execution.cause.startswith("States.TaskFailed: ")
    assert len(pipeline.glue_runs) == 1, "a failed job is not a transient error: no retry"
    assert pipeline.retry_waits == []
    assert pipeline.container_runs == [], "nothing after Ingest ran"
    [failure] = pipeline.messages("failure")
    message = failure["message"]
    assert failure["subject"] == "TLC warehouse run FAILED"
    assert message["status"] == "FAILED"
    assert message["execution_id"] == execution.arn
    assert message["error"] == "States.TaskFailed"
    assert json.loads(message["cause"])["JobRunState"] == "FAILED"
    assert pipeline.messages("success") == []
    assert pipeline.locks() == [], "the failure path releases the locks"


def test_failing_dbt_container_notifies_failure_and_publishes_nothing(pipeline) -> None:
    def dbt_test_fails(run: ContainerRun, s3) -> None:
        pipeline.container_uploading_artifacts(run, s3)  # run_results.json is uploaded on failure too
        run.exit_code = 1

    pipeline.dbt_container = dbt_test_fails
    execution = pipeline.run(s3_object_created_event(KEY), name="dbt-fails")

    assert execution.status == "FAILED"
    assert len(pipeline.container_runs) == 1, "a failed dbt build is not retried"
    [failure] = pipeline.messages("failure")
    assert failure["message"]["error"] == "States.TaskFailed"
    task = json.loads(failure["message"]["cause"])
    assert [c["ExitCode"] for c in task["Containers"]] == [1]
    assert failure["message"]["artifacts"] == f"s3://{BUCKETS['artifacts']}/dbt/runs/dbt-fails/"
    assert "Contents" not in pipeline.s3.list_objects_v2(Bucket=BUCKETS["artifacts"], Prefix="dbt/latest/")
    assert pipeline.messages("success") == []
    assert pipeline.locks() == []


def test_a_dbt_exit_code_the_sync_integration_lets_through_still_fails_the_run(aws_env) -> None:
    """Whether runTask.sync itself fails on a non-zero exit code is not documented: with moto's own
    integration, which reports the stopped task as a success, the run still fails at CheckDbtExitCode."""
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        patched_moto_stepfunctions(ecs_sync_fails_on_exit_code=False),
    ):
        pipeline = Pipeline()

        def dbt_test_fails(run: ContainerRun, s3) -> None:
            pipeline.container_uploading_artifacts(run, s3)
            run.exit_code = 1

        pipeline.dbt_container = dbt_test_fails
        execution = pipeline.run(s3_object_created_event(KEY), name="dbt-exit-1")

        assert execution.status == "FAILED"
        assert "CheckDbtExitCode" in execution.entered_states()
        [failure] = pipeline.messages("failure")
        assert failure["message"]["error"] == "TransformFailed"
        assert '"ExitCodes":"[1]"' in failure["message"]["cause"]
        assert "Contents" not in pipeline.s3.list_objects_v2(Bucket=BUCKETS["artifacts"], Prefix="dbt/latest/")
        assert pipeline.messages("success") == []
        assert pipeline.locks() == []


UNRECONCILED = [
    {
        "service": "yellow",
        "pickup_month": "2024-01-01",
        "source_file": "yellow_tripdata_2024-01.parquet",
        "lake_trips": 2964624,
        "warehouse_trips": 2964623,
        "lake_quarantined": 12,
        "warehouse_quarantined": 12,
    }
]


def container_not_reconciling(pipeline: Pipeline):
    """What the real entrypoint does when dbt's reconciliation test fails: run_results.json,
    manifest.json and reconciliation.json (its own report format) uploaded, exit code 4."""

    def run_container(run: ContainerRun, s3) -> None:
        pipeline.container_uploading_artifacts(run, s3)
        bucket, _, prefix = run.environment["ARTIFACTS_URI"].removeprefix("s3://").partition("/")
        report = entrypoint.reconciliation_report(UNRECONCILED, other_failures=[])
        s3.put_object(Bucket=bucket, Key=f"{prefix}{entrypoint.RECONCILIATION_FILE}", Body=json.dumps(report))
        run.exit_code = entrypoint.EXIT_NOT_RECONCILED

    return run_container


def assert_failure_names_the_unreconciled_month(pipeline: Pipeline) -> None:
    [failure] = pipeline.messages("failure")
    assert failure["message"]["error"] == "NotReconciled"
    cause = failure["message"]["cause"]
    assert cause.startswith("The warehouse does not reconcile with the lake in 1 month(s): yellow 2024-01")
    assert "trips lake 2,964,624, warehouse 2,964,623" in cause
    assert "Contents" not in pipeline.s3.list_objects_v2(Bucket=BUCKETS["artifacts"], Prefix="dbt/latest/")
    assert pipeline.messages("success") == []
    assert pipeline.locks() == []


def test_a_warehouse_that_does_not_reconcile_fails_the_run_naming_the_months(pipeline) -> None:
    pipeline.dbt_container = container_not_reconciling(pipeline)
    execution = pipeline.run(s3_object_created_event(KEY), name="not-reconciled")

    assert execution.status == "FAILED"
    assert "ReadReconciliation" in execution.entered_states()
    assert_failure_names_the_unreconciled_month(pipeline)


def test_the_months_are_named_when_the_sync_integration_lets_exit_code_4_through(aws_env) -> None:
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        patched_moto_stepfunctions(ecs_sync_fails_on_exit_code=False),
    ):
        pipeline = Pipeline()
        pipeline.dbt_container = container_not_reconciling(pipeline)
        execution = pipeline.run(s3_object_created_event(KEY), name="not-reconciled-exit-4")

        assert execution.status == "FAILED"
        assert "CheckDbtExitCode" in execution.entered_states()
        assert_failure_names_the_unreconciled_month(pipeline)


def test_a_sidecar_container_does_not_decide_the_dbt_outcome(aws_env) -> None:
    """Only the dbt container's exit code counts: a container AWS may add to the task (GuardDuty's runtime
    agent, "Runtime coverage for Fargate") stops with its own code."""
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        patched_moto_stepfunctions(ecs_sync_fails_on_exit_code=False),
    ):
        pipeline = Pipeline(sidecars=("aws-guardduty-agent",))
        execution = pipeline.run(s3_object_created_event(KEY), name="with-sidecar")

        assert execution.status == "SUCCEEDED", execution.cause
        assert pipeline.messages("failure") == []


def test_glue_retries_exhausted_notifies_failure(pipeline) -> None:
    def always_busy(run: GlueRun) -> None:
        raise ConcurrentRunsExceededException(f"Job with name {GLUE_JOB} already running")

    pipeline.glue_job = always_busy
    execution = pipeline.run(s3_object_created_event(KEY), name="glue-busy")

    assert execution.status == "FAILED"
    assert len(pipeline.glue_runs) == 5, "one attempt and four retries"
    assert len(pipeline.retry_waits) == 4
    assert all(0 <= wait <= 300 for wait in pipeline.retry_waits), "full jitter under MaxDelaySeconds"
    [failure] = pipeline.messages("failure")
    assert failure["message"]["error"] == "Glue.ConcurrentRunsExceededException"
    assert "already running" in failure["message"]["cause"]
    assert pipeline.container_runs == []
    assert pipeline.locks() == []


def test_a_month_already_being_written_waits_then_fails_clearly(pipeline) -> None:
    """Another execution holds the month (via its .parquet); this one (.csv, same month) never writes it."""
    other = "arn:aws:states:us-east-1:123456789012:execution:tlc-test-pipeline:still-running"
    pipeline.dynamodb.put_item(
        TableName=LOCK_TABLE,
        Item={"lock_id": {"S": "partition#yellow_tripdata_2024-01"}, "owner": {"S": other}},
    )
    execution = pipeline.run(s3_object_created_event("landing/yellow_tripdata_2024-01.csv"), name="second-writer")

    assert execution.status == "FAILED"
    assert execution.cause.startswith("PartitionBusy: ")
    assert len(pipeline.retry_waits) == 30, "it waited (30 tries) before giving up"
    assert sum(pipeline.retry_waits) == 30 * 60, "a minute between tries, no jitter: the 30 minutes PartitionBusy says"
    assert pipeline.glue_runs == [], "the partition was never written twice at once"
    [failure] = pipeline.messages("failure")
    assert failure["message"]["error"] == "PartitionBusy"
    assert "yellow_tripdata_2024-01.csv" in failure["message"]["cause"]
    [lock] = pipeline.locks()
    assert lock["owner"]["S"] == other, "the other execution's lock is left alone"


def test_a_held_transform_lock_waits_then_fails_without_touching_the_warehouse(pipeline) -> None:
    pipeline.dynamodb.put_item(TableName=LOCK_TABLE, Item={"lock_id": {"S": "transform"}, "owner": {"S": "other"}})
    execution = pipeline.run(scheduled_event(), name="daily-blocked")

    assert execution.status == "FAILED"
    assert execution.cause.startswith("TransformBusy: ")
    assert pipeline.container_runs == []
    assert len(pipeline.retry_waits) == 60
    assert sum(pipeline.retry_waits) == 60 * 60, "a minute between tries, no jitter: the hour TransformBusy says"
    [failure] = pipeline.messages("failure")
    assert failure["message"]["error"] == "TransformBusy"
