"""The Step Functions definition, read as a document: renders like templatefile(), validates, and is
built the way the issue asks (stage order, Retry only on transient errors, every failure caught)."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from orchestration.aws.definition import (
    TEMPLATE_PATH,
    aws_stage_names,
    contract_variables,
    render,
    render_definition,
    stage_names,
    success_path,
    template_variables,
)
from tests.orchestration.tools import ASL_VALIDATOR, REPO_ROOT, require

# What infra/modules/pipeline passes to templatefile(); the shapes matter (lists are jsonencode()d).
SAMPLE_VARIABLES = {
    "landing_bucket": "tlc-dev-landing",
    "landing_prefix": "landing/",
    "lake_bucket": "tlc-dev-lake",
    "quarantine_bucket": "tlc-dev-quarantine",
    "archive_bucket": "tlc-dev-archive",
    "artifacts_bucket": "tlc-dev-artifacts",
    "glue_job_name": "tlc-dev-ingest",
    "glue_database": "tlc_dev_lake",
    "lock_table": "tlc-dev-pipeline-locks",
    "ecs_cluster_arn": "arn:aws:ecs:us-east-1:123456789012:cluster/tlc-dev",
    "task_definition_arn": "arn:aws:ecs:us-east-1:123456789012:task-definition/tlc-dev-dbt:3",
    "dbt_container_name": "dbt",
    "subnet_ids": json.dumps(["subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788"]),
    "security_group_ids": json.dumps(["sg-0123456789abcdef0"]),
    "success_topic_arn": "arn:aws:sns:us-east-1:123456789012:tlc-dev-run-succeeded",
    "failure_topic_arn": "arn:aws:sns:us-east-1:123456789012:tlc-dev-run-failed",
    **contract_variables("landing/"),
}

# Errors that say "try again later"; a failed job, a failed dbt build or a bad input is not one of them.
NEVER_RETRIED = {"States.ALL", "States.TaskFailed", "States.Runtime", "States.Permissions", "States.Timeout"}
# ReadReconciliation: after a failed Transform, names the unreconciled months (if any) in the failure.
FAILURE_HANDLERS = {
    "ReleaseLocksAfterFailure",
    "NotifyFailure",
    "PartitionBusy",
    "TransformBusy",
    "ReadReconciliation",
    "Failed",
}
# What one wait of a retrier is, on average, as a share of its computed backoff (IntervalSeconds x
# BackoffRate^attempt, capped by MaxDelaySeconds). The JitterStrategy values as AWS documents them
# ("JitterType", https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_stepfunctions.JitterType.html;
# the retrier fields: https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html):
# FULL "calculates the delay to be a random number between 0 and the computed backoff" (uniform: half on
# average); NONE "calculates the delay to be the computed backoff", the default when the field is absent.
JITTER_MEAN_SHARE = {"FULL": 0.5, "NONE": 1.0}
LOCK_BUSY = "DynamoDB.ConditionalCheckFailedException"
README = REPO_ROOT / "infra" / "README.md"


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return render_definition(SAMPLE_VARIABLES)


def all_states(states: dict[str, Any], parent: str | None = None):
    """Every state with the Map/Parallel state it sits in (None at the top level)."""
    for name, state in states.items():
        yield name, state, parent
        for branch in state.get("Branches", []):
            yield from all_states(branch["States"], name)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from all_states(processor["States"], name)


def test_template_uses_bare_placeholders_that_terraform_passes() -> None:
    assert template_variables() == set(SAMPLE_VARIABLES)
    module = (REPO_ROOT / "infra" / "modules" / "pipeline" / "state_machine.tf").read_text()
    call = module[module.index("templatefile(") :]
    call = call[: call.index("})") + 2]
    passed = set(re.findall(r"^\s*([a-z_]+)\s*=", call, flags=re.MULTILINE))
    assert passed == template_variables(), "infra/modules/pipeline/state_machine.tf passes other variables"


def test_render_rejects_missing_and_unknown_variables() -> None:
    with pytest.raises(KeyError, match="lock_table"):
        render({k: v for k, v in SAMPLE_VARIABLES.items() if k != "lock_table"})
    with pytest.raises(KeyError, match="surplus"):
        render({**SAMPLE_VARIABLES, "surplus": "x"})


def test_asl_validator_accepts_the_rendered_definition(tmp_path) -> None:
    validator = require(ASL_VALIDATOR, "asl-validator")
    rendered = tmp_path / "state_machine.json"
    rendered.write_text(render(SAMPLE_VARIABLES))
    result = subprocess.run([str(validator), "--json-path", str(rendered)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_asl_validator_rejects_a_broken_definition(tmp_path) -> None:
    validator = require(ASL_VALIDATOR, "asl-validator")
    broken = render_definition(SAMPLE_VARIABLES)
    broken["States"]["Ingest"]["Next"] = "NoSuchState"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    result = subprocess.run([str(validator), "--json-path", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0


def test_the_s3_path_runs_the_shared_stages_in_order(definition) -> None:
    path = success_path(definition, {})
    assert [name for name in path if name in stage_names()] == aws_stage_names()
    assert path[0] == "ValidateInput" and path[-2:] == ["NotifySuccess", "Done"]


def test_only_the_warehouse_load_is_local_only_and_nothing_registers_partitions(definition) -> None:
    """Spectrum reads the Iceberg tables' current snapshot: no state adds partitions (issue 19)."""
    assert [s for s in stage_names() if s not in aws_stage_names()] == ["LoadWarehouse"]
    resources = {state.get("Resource", "") for _, state, _ in all_states(definition["States"])}
    assert not [r for r in resources if "glue:createPartition" in r or "glue:getTable" in r]
    ingest = definition["States"]["Ingest"]["Parameters"]["Arguments"]
    assert ingest["--catalog"] == f"glue:{SAMPLE_VARIABLES['glue_database']}"


def test_the_scheduled_path_skips_only_ingest(definition) -> None:
    path = success_path(definition, {"ValidateInput": "NormalizeSchedule"})
    expected = [s for s in aws_stage_names() if s != "Ingest"]
    assert [name for name in path if name in stage_names()] == expected


def test_the_weekly_test_path_skips_ingest_and_publishing(definition) -> None:
    """dbt test alone (issue 21): it ingests nothing and, having built nothing, leaves dbt/latest/ as it was."""
    path = success_path(definition, {"ValidateInput": "NormalizeWeeklyTest", "PublishIfBuilt": "ReleaseLocks"})
    expected = [s for s in aws_stage_names() if s not in ("Ingest", "PublishArtifacts")]
    assert [name for name in path if name in stage_names()] == expected
    assert definition["States"]["NormalizeWeeklyTest"]["Parameters"]["run"]["dbt"]["command"] == ["test"]


def test_local_runner_runs_the_same_stages_in_the_same_order() -> None:
    from orchestration.local import run_pipeline

    assert run_pipeline.stage_names() == stage_names()
    assert list(run_pipeline.STAGES) == stage_names()


def test_every_task_retries_only_transient_errors_with_backoff_and_jitter(definition) -> None:
    tasks = [(name, state) for name, state, _ in all_states(definition["States"]) if state["Type"] == "Task"]
    assert len(tasks) >= 9  # not vacuous: the definition has nine Task states
    for name, state in tasks:
        assert state.get("Retry"), f"{name} has no Retry"
        for retrier in state["Retry"]:
            assert not NEVER_RETRIED & set(retrier["ErrorEquals"]), f"{name} retries a non-transient error"
            assert retrier["MaxAttempts"] >= 2, name
            if retrier["ErrorEquals"] == [LOCK_BUSY]:
                # A lock wait, not a transient error: a fixed interval, so that its length is what the texts
                # say (test_the_lock_wait_the_text_states_is_the_wait_the_retrier_makes).
                assert retrier["JitterStrategy"] == "NONE" and retrier["BackoffRate"] == 1.0, name
            else:
                assert retrier["JitterStrategy"] == "FULL", name
                assert retrier["BackoffRate"] >= 2.0, f"{name}: transient errors back off"


def expected_total_wait_seconds(retrier: dict[str, Any]) -> float:
    """The expected sum of a retrier's waits until its last attempt has failed (ASL defaults: IntervalSeconds
    1, BackoffRate 2.0, MaxAttempts 3)."""
    interval, rate = retrier.get("IntervalSeconds", 1), retrier.get("BackoffRate", 2.0)
    cap = retrier.get("MaxDelaySeconds", float("inf"))
    share = JITTER_MEAN_SHARE[retrier.get("JitterStrategy", "NONE")]
    return sum(min(interval * rate**attempt, cap) * share for attempt in range(retrier.get("MaxAttempts", 3)))


def stated_wait_minutes(text: str) -> set[int]:
    """The waits a sentence states: "about 30 minutes", "about an hour" (60)."""
    found = {int(n) for n in re.findall(r"about (\d+) minutes", text)}
    return found | ({60} if re.search(r"about an hour", text) else set())


@pytest.mark.parametrize("lock_state", ["AcquirePartitionLock", "AcquireTransformLock"])
def test_the_lock_wait_the_text_states_is_the_wait_the_retrier_makes(definition, lock_state) -> None:
    """A second execution waits for a held lock by retrying on the conditional write's failure: the wait the
    state's Comment, its Busy state's Cause and infra/README.md promise is the one its Retry fields make."""
    states = definition["States"]
    state = states[lock_state]
    [retrier] = [r for r in state["Retry"] if r["ErrorEquals"] == [LOCK_BUSY]]
    [busy] = [c["Next"] for c in state["Catch"] if c["ErrorEquals"] == [LOCK_BUSY]]
    cause = states[busy]["Parameters"].get("Cause") or states[busy]["Parameters"]["Cause.$"]
    error = states[busy]["Parameters"]["Error"]
    sentences = re.split(r"(?<=[.;])\s", " ".join(README.read_text().split()))
    told = {
        "the state's Comment": stated_wait_minutes(state["Comment"]),
        f"{busy}'s Cause": stated_wait_minutes(cause),
        f"infra/README.md on {error}": {m for s in sentences if error in s for m in stated_wait_minutes(s)},
    }
    expected_minutes = expected_total_wait_seconds(retrier) / 60
    for where, minutes in told.items():
        assert len(minutes) == 1, f"{where} should state the wait once, found {sorted(minutes)}"
        [stated] = minutes
        assert abs(expected_minutes - stated) <= 0.1 * stated, (
            f"{where} says about {stated} minutes; the retrier ({retrier}) waits {expected_minutes:g} on average"
        )


def test_every_failure_is_caught_and_reaches_the_failure_topic(definition) -> None:
    states = definition["States"]
    for name, state, parent in all_states(states):
        if state["Type"] not in ("Task", "Map", "Parallel") or name == "NotifyFailure":
            continue
        if parent is not None:
            # Inside a Map/Parallel an error propagates to the parent, whose Catch handles it.
            assert any("States.ALL" in c["ErrorEquals"] for c in states[parent]["Catch"]), parent
            continue
        catch_all = [c for c in state.get("Catch", []) if "States.ALL" in c["ErrorEquals"]]
        assert catch_all, f"{name} has no Catch for States.ALL"
        assert catch_all[0]["Next"] in FAILURE_HANDLERS, name
        assert catch_all[0]["ResultPath"] in ("$.error", "$.release_error", "$.reconciliation_error"), name
    # Every failure handler ends in NotifyFailure -> Failed.
    for handler in FAILURE_HANDLERS - {"Failed"}:
        assert success_path({"StartAt": handler, "States": states}, {})[-2:] == ["NotifyFailure", "Failed"], handler
    notify = states["NotifyFailure"]
    assert notify["Parameters"]["TopicArn"] == SAMPLE_VARIABLES["failure_topic_arn"]
    assert {"error.$", "cause.$", "execution_id.$"} <= set(notify["Parameters"]["Message"])
    assert states["NotifySuccess"]["Parameters"]["TopicArn"] == SAMPLE_VARIABLES["success_topic_arn"]


def test_ingest_and_transform_use_the_sync_integrations(definition) -> None:
    states = definition["States"]
    assert states["Ingest"]["Resource"] == "arn:aws:states:::glue:startJobRun.sync"
    assert states["Transform"]["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    network = states["Transform"]["Parameters"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    assert network["Subnets"] == json.loads(SAMPLE_VARIABLES["subnet_ids"])


def test_template_is_the_only_definition() -> None:
    """One definition file; Terraform renders it rather than keeping a heredoc copy."""
    copies = [
        p for p in (REPO_ROOT / "infra").rglob("*.tf") if '"StartAt"' in p.read_text() or "StartAt =" in p.read_text()
    ]
    assert copies == []
    assert TEMPLATE_PATH.name == "state_machine.asl.json"


def test_no_text_claims_a_freshness_check_that_no_state_runs(definition) -> None:
    """`dbt build` does not run `dbt source freshness`: the pipeline may only say it checks freshness if a
    state runs that command (issue 13, item 8)."""
    commands = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "command" and isinstance(value, list):
                    commands.append(value)
                collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect(definition)
    assert commands, "the dbt commands of the definition were not found"
    if any(command[:2] == ["source", "freshness"] for command in commands):
        return
    comments = [state.get("Comment", "") for _, state, _ in all_states(definition["States"])]
    descriptions = re.findall(
        r'description\s*=\s*"([^"]*)"', (REPO_ROOT / "infra" / "modules" / "pipeline" / "triggers.tf").read_text()
    )
    claims = [text for text in [*comments, *descriptions] if "freshness" in text.lower()]
    assert claims == [], "these say the pipeline checks source freshness, but no state runs it"
