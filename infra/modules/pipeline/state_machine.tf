data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
}

resource "aws_cloudwatch_log_group" "state_machine" {
  name              = "/aws/vendedlogs/states/${var.name}-pipeline"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "states_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  name               = "${var.name}-pipeline"
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
}

# Exactly the calls orchestration/aws/state_machine.asl.json makes.
data "aws_iam_policy_document" "state_machine" {
  statement {
    sid       = "IngestGlueJob"
    actions   = ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"]
    resources = [var.glue_job_arn]
  }
  statement {
    sid       = "RunDbtTask"
    actions   = ["ecs:RunTask"]
    resources = ["${var.task_definition_family_arn}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.ecs_cluster_arn]
    }
  }
  statement {
    # Transform propagates the task definition's tags to the task it starts: RunTask with tags also needs
    # ecs:TagResource on the task ("Grant permission to tag resources on creation",
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html),
    # allowed here only as part of RunTask (ecs:CreateAction).
    sid       = "TagTheDbtTaskItStarts"
    actions   = ["ecs:TagResource"]
    resources = ["arn:aws:ecs:${local.region}:${local.account_id}:task/${element(split("/", var.ecs_cluster_arn), 1)}/*"]
    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RunTask"]
    }
  }
  statement {
    sid       = "WatchAndStopDbtTask"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = ["arn:aws:ecs:${local.region}:${local.account_id}:task/${element(split("/", var.ecs_cluster_arn), 1)}/*"]
  }
  statement {
    sid       = "PassDbtRoles"
    actions   = ["iam:PassRole"]
    resources = [var.dbt_task_role_arn, var.dbt_execution_role_arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
  statement {
    sid       = "SyncRuleForEcs"
    actions   = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
    resources = ["arn:aws:events:${local.region}:${local.account_id}:rule/StepFunctionsGetEventsForECSTaskRule"]
  }
  statement {
    sid       = "Locks"
    actions   = ["dynamodb:PutItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.locks.arn]
  }
  statement {
    sid       = "PublishArtifacts"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${var.bucket_arns["artifacts"]}/dbt/runs/*", "${var.bucket_arns["artifacts"]}/dbt/latest/*"]
  }
  statement {
    sid       = "Notify"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.success.arn, aws_sns_topic.failure.arn]
  }
  statement {
    sid       = "Key"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
  statement {
    sid = "ExecutionLogs"
    # CloudWatch Logs delivery for Step Functions is configured with account-level APIs that have
    # no resource type (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html).
    actions = [
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }
  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"] # X-Ray has no resource-level permissions
  }
}

resource "aws_iam_role_policy" "state_machine" {
  #checkov:skip=CKV_AWS_290:Only logs delivery and X-Ray are on "*", because those APIs have no resource type; every write on data is scoped to its ARN.
  #checkov:skip=CKV_AWS_355:Same: logs:*LogDelivery and xray:* cannot be restricted to a resource.
  name   = "run-pipeline"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.state_machine.json
}

resource "aws_sfn_state_machine" "pipeline" {
  name     = "${var.name}-pipeline"
  role_arn = aws_iam_role.state_machine.arn
  type     = "STANDARD"
  definition = templatefile("${path.module}/../../../orchestration/aws/state_machine.asl.json", {
    landing_bucket      = var.buckets["landing"]
    landing_prefix      = var.landing_prefix
    lake_bucket         = var.buckets["lake"]
    quarantine_bucket   = var.buckets["quarantine"]
    archive_bucket      = var.buckets["archive"]
    artifacts_bucket    = var.buckets["artifacts"]
    glue_job_name       = var.glue_job_name
    glue_database       = var.glue_database_name
    lock_table          = aws_dynamodb_table.locks.name
    ecs_cluster_arn     = var.ecs_cluster_arn
    task_definition_arn = var.task_definition_arn
    dbt_container_name  = var.dbt_container_name
    subnet_ids          = jsonencode(var.subnet_ids)
    security_group_ids  = jsonencode(var.dbt_security_group_ids)
    success_topic_arn   = aws_sns_topic.success.arn
    failure_topic_arn   = aws_sns_topic.failure.arn
    # Which keys are TLC files: the lake contract's name patterns (orchestration/aws/definition.py
    # renders the same for the tests).
    landing_key_rules  = jsonencode([for pattern in local.contract.landing.key_patterns : { Variable = "$.run.key", StringMatches = "${var.landing_prefix}${pattern}" }])
    landing_file_names = local.contract.landing.file_name_text
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    include_execution_data = true
    level                  = "ALL"
  }

  tracing_configuration {
    enabled = true
  }

  encryption_configuration {
    type                              = "CUSTOMER_MANAGED_KMS_KEY"
    kms_key_id                        = var.kms_key_arn
    kms_data_key_reuse_period_seconds = 300
  }

  depends_on = [aws_iam_role_policy.state_machine]
}
