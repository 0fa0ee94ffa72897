locals {
  # The lake contract (ingestion/contract/, rendered by `python -m ingestion.contract`): file-name patterns.
  contract = jsondecode(file("${path.module}/../../lake_contract.json"))
}

# Upload -> one execution for exactly that object. EventBridge hands the S3 event to the state
# machine unchanged; its ValidateInput checks the bucket, prefix and file name.
resource "aws_cloudwatch_event_rule" "object_created" {
  name        = "${var.name}-landing-object-created"
  description = "A TLC file (${join(", ", local.contract.landing.suffixes)}) landed in s3://${var.buckets["landing"]}/${var.landing_prefix}"
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail = {
      bucket = { name = [var.buckets["landing"]] }
      object = {
        # the endings of every file name the lake contract accepts; the state machine checks the whole name
        key = [for suffix in local.contract.landing.suffixes : { wildcard = "${var.landing_prefix}*${suffix}" }]
      }
    }
  })
}

resource "aws_cloudwatch_event_rule" "daily" {
  name                = "${var.name}-daily-dbt-build"
  description         = "Daily dbt build (models and data tests) on what is loaded; ingests nothing"
  schedule_expression = var.daily_schedule
}

# The whole-history test run (issue 21): a dbt build tests each model built by month on the months it rebuilt
# (dbt_project/macros/month_builds.sql); once a week `dbt test` alone tests every month, as `make
# test-warehouse` does locally. The target sends a constant input instead of the event ("Valid JSON text
# passed to the target. In this case, nothing from the event itself is passed to the target", Target.Input,
# https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Target.html), which the state machine's
# ValidateInput routes to its weekly branch.
resource "aws_cloudwatch_event_rule" "weekly_test" {
  name                = "${var.name}-weekly-dbt-test"
  description         = "Weekly dbt test: every data test on every month of the warehouse; builds and ingests nothing"
  schedule_expression = var.weekly_test_schedule
}

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "events" {
  name               = "${var.name}-start-pipeline"
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
}

# The three targets (upload, daily, weekly) start executions with this role. The state machine is encrypted
# with the customer key, so StartExecution also needs the caller to use that key, for this state machine only
# ("Data at rest encryption in Step Functions",
# https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html): without it the call
# fails with KmsAccessDeniedException and no execution starts.
data "aws_iam_policy_document" "events" {
  statement {
    sid       = "StartPipeline"
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.pipeline.arn]
  }
  statement {
    sid       = "EncryptExecutionInput"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:aws:states:stateMachineArn"
      values   = [aws_sfn_state_machine.pipeline.arn]
    }
  }
}

resource "aws_iam_role_policy" "events" {
  name   = "start-pipeline"
  role   = aws_iam_role.events.id
  policy = data.aws_iam_policy_document.events.json
}

resource "aws_sqs_queue" "trigger_dlq" {
  name                      = "${var.name}-pipeline-trigger-dlq"
  kms_master_key_id         = var.kms_key_arn
  message_retention_seconds = 1209600
}

data "aws_iam_policy_document" "trigger_dlq" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.trigger_dlq.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values = [
        aws_cloudwatch_event_rule.object_created.arn,
        aws_cloudwatch_event_rule.daily.arn,
        aws_cloudwatch_event_rule.weekly_test.arn,
      ]
    }
  }
}

resource "aws_sqs_queue_policy" "trigger_dlq" {
  queue_url = aws_sqs_queue.trigger_dlq.id
  policy    = data.aws_iam_policy_document.trigger_dlq.json
}

resource "aws_cloudwatch_event_target" "object_created" {
  rule     = aws_cloudwatch_event_rule.object_created.name
  arn      = aws_sfn_state_machine.pipeline.arn
  role_arn = aws_iam_role.events.arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 10
  }
  dead_letter_config {
    arn = aws_sqs_queue.trigger_dlq.arn
  }
}

resource "aws_cloudwatch_event_target" "daily" {
  rule     = aws_cloudwatch_event_rule.daily.name
  arn      = aws_sfn_state_machine.pipeline.arn
  role_arn = aws_iam_role.events.arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 10
  }
  dead_letter_config {
    arn = aws_sqs_queue.trigger_dlq.arn
  }
}

resource "aws_cloudwatch_event_target" "weekly_test" {
  rule     = aws_cloudwatch_event_rule.weekly_test.name
  arn      = aws_sfn_state_machine.pipeline.arn
  role_arn = aws_iam_role.events.arn
  input    = jsonencode({ schedule = "weekly-dbt-test" })

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 10
  }
  dead_letter_config {
    arn = aws_sqs_queue.trigger_dlq.arn
  }
}
