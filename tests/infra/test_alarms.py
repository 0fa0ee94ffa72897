"""The failure topic hears of an upload (or the daily or weekly run) that could not start an execution.

EventBridge retries a target (modules/pipeline/triggers.tf: an hour, ten attempts), then sends the event to the
trigger dead-letter queue; no execution exists, so no execution alarm fires and the file stays in landing.
"When an event delivery fails, EventBridge publishes an event to Amazon CloudWatch metrics indicating that a
target invocation failed" ("Event retry policy and using dead-letter queues",
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html): `FailedInvocations` in `AWS/Events`,
dimension `RuleName` ("Monitoring Amazon EventBridge",
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html). The queue's
`ApproximateNumberOfMessagesVisible` in `AWS/SQS`, dimension `QueueName` ("Available CloudWatch metrics for
Amazon SQS", https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html).
Read from CloudWatch (moto) as the rehearsal's apply created the alarms.
"""

from __future__ import annotations

import json
from typing import Any

from tests.infra.rehearsal import Rehearsal
from tests.infra.test_deploy_rehearsal import _client
from tests.orchestration.sfn_harness import WEEKLY_TEST_INPUT

PIPELINE = "module.platform.module.pipeline"


def _alarms_to_the_failure_topic(rehearsal: Rehearsal) -> list[dict[str, Any]]:
    topic = rehearsal.resource(f"{PIPELINE}.aws_sns_topic.failure")["arn"]
    alarms = [
        alarm
        for page in _client(rehearsal, "cloudwatch").get_paginator("describe_alarms").paginate()
        for alarm in page["MetricAlarms"]
    ]
    return [alarm for alarm in alarms if topic in alarm["AlarmActions"]]


def _alarming_on(alarms: list[dict[str, Any]], namespace: str, metric: str, dimensions: dict[str, str]) -> list[str]:
    """Alarms that fire on the first datapoint above zero of exactly this metric."""
    return [
        alarm["AlarmName"]
        for alarm in alarms
        if alarm.get("Namespace") == namespace
        and alarm.get("MetricName") == metric
        and {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])} == dimensions
        and alarm["ComparisonOperator"] == "GreaterThanThreshold"
        and alarm["Threshold"] == 0
        and alarm["EvaluationPeriods"] == 1
    ]


def test_every_trigger_of_the_pipeline_alarms_when_it_cannot_start_an_execution(rehearsal: Rehearsal) -> None:
    machine = rehearsal.resource(f"{PIPELINE}.aws_sfn_state_machine.pipeline")["arn"]
    targets = [
        r["values"]
        for r in rehearsal.resources()
        if r["type"] == "aws_cloudwatch_event_target" and r["values"]["arn"] == machine
    ]
    assert len(targets) == 3, "the upload, the daily and the weekly rule start the pipeline"
    # The weekly rule's target sends the input the state machine's weekly branch takes (executed in
    # tests/orchestration/test_state_machine_execution.py); the other two send their event.
    weekly = rehearsal.resource(f"{PIPELINE}.aws_cloudwatch_event_rule.weekly_test")["name"]
    assert {t["rule"]: json.loads(t["input"]) if t["input"] else None for t in targets}[weekly] == WEEKLY_TEST_INPUT
    assert [t["rule"] for t in targets if t["input"]] == [weekly]
    queues = {r["values"]["arn"]: r["values"]["name"] for r in rehearsal.resources() if r["type"] == "aws_sqs_queue"}
    alarms = _alarms_to_the_failure_topic(rehearsal)
    unheard = []
    for target in targets:
        rule = target["rule"]
        if not _alarming_on(alarms, "AWS/Events", "FailedInvocations", {"RuleName": rule}):
            unheard.append(f"rule {rule} failed to start an execution (FailedInvocations)")
        [dead_letters] = target["dead_letter_config"]
        queue = queues[dead_letters["arn"]]
        if not _alarming_on(alarms, "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue}):
            unheard.append(f"{queue} holds an event of rule {rule} (ApproximateNumberOfMessagesVisible)")
    assert unheard == [], "the failure topic is not told that: " + "; ".join(sorted(set(unheard)))
