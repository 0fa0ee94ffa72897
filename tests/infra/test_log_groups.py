"""CloudWatch Logs data of the platform: every log group under the platform's KMS key, with a retention.

Some AWS services name the log group they write to and create it themselves when it does not exist, with
no KMS key and no retention. Terraform creates those groups first, under the names the services use:
- Redshift Serverless audit logs, `/aws/redshift/<namespace>/<log_type>`, one per exported log type; "A log
  group with the specified name exists. Redshift exports log data using the existing log group."
  ("Audit logging for Amazon Redshift Serverless",
  https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-audit-logging.html);
- ECS Container Insights, `/aws/ecs/containerinsights/<cluster name>/performance`
  ("Container Insights performance log events for Amazon ECS",
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-reference-performance-logs-ECS.html).
The namespace is not created by the rehearsal (no Redshift Serverless in moto): that its exports and name give
these groups' names is checked on the planned namespace in tests/infra/test_terraform.py, and that Terraform
creates the groups before the namespace and the cluster, on the plan's graph there.
"""

from __future__ import annotations

from typing import Any

from tests.infra.rehearsal import Rehearsal
from tests.infra.test_deploy_rehearsal import _client

KEY = "module.platform.module.storage.aws_kms_key.data"
CLUSTER = "module.platform.module.dbt_runner.aws_ecs_cluster.this"
# What modules/warehouse/main.tf exports (log_exports); the planned namespace is checked against it.
REDSHIFT_LOG_TYPES = {"connectionlog", "userlog", "useractivitylog"}


def _log_groups(rehearsal: Rehearsal) -> dict[str, dict[str, Any]]:
    return {
        r["values"]["name"]: r
        for r in rehearsal.resources()
        if r["type"] == "aws_cloudwatch_log_group" and r["mode"] == "managed"
    }


def test_every_log_group_is_under_the_platform_key_with_a_retention(rehearsal: Rehearsal) -> None:
    """As Terraform recorded them and as CloudWatch Logs (moto) has them."""
    key = rehearsal.resource(KEY)["arn"]
    groups = _log_groups(rehearsal)
    assert len(groups) >= 5, sorted(groups)
    for name, group in groups.items():
        assert group["values"]["kms_key_id"] == key, f"{name} is not encrypted with the platform key"
        assert group["values"]["retention_in_days"] > 0, f"{name} keeps its data forever"
    described = {
        g["logGroupName"]: g
        for page in _client(rehearsal, "logs").get_paginator("describe_log_groups").paginate()
        for g in page["logGroups"]
    }
    for name in groups:
        assert described[name].get("kmsKeyId") == key, f"{name}: {described[name]}"
        assert described[name].get("retentionInDays", 0) > 0, f"{name}: {described[name]}"


def test_container_insights_finds_its_log_group_made_by_terraform(rehearsal: Rehearsal) -> None:
    cluster = next(r for r in rehearsal.resources() if r["address"] == CLUSTER)
    assert {"name": "containerInsights", "value": "enabled"} in cluster["values"]["setting"]
    name = f"/aws/ecs/containerinsights/{cluster['values']['name']}/performance"
    groups = _log_groups(rehearsal)
    assert name in groups, f"Container Insights would create {name} itself: {sorted(groups)}"
    assert groups[name]["address"] in cluster.get("depends_on", []), "the cluster does not wait for its log group"


def test_redshift_audit_logs_find_their_log_groups_made_by_terraform(rehearsal: Rehearsal) -> None:
    """The namespace is named after the platform (modules/warehouse/main.tf: namespace_name = var.name), like
    the state machine (`<platform>-pipeline`); the name and exports as planned: tests/infra/test_terraform.py."""
    machine = rehearsal.resource("module.platform.module.pipeline.aws_sfn_state_machine.pipeline")["name"]
    namespace = machine.removesuffix("-pipeline")
    groups = _log_groups(rehearsal)
    for log_type in REDSHIFT_LOG_TYPES:
        name = f"/aws/redshift/{namespace}/{log_type}"
        assert name in groups, f"Redshift Serverless would create {name} itself: {sorted(groups)}"
        assert groups[name]["address"].startswith("module.platform.module.warehouse.")
