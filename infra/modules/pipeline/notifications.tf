# Two audiences: everyone who wants to know a month landed, and whoever fixes failures.
resource "aws_sns_topic" "success" {
  name              = "${var.name}-run-succeeded"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic" "failure" {
  name              = "${var.name}-run-failed"
  kms_master_key_id = var.kms_key_arn
}

data "aws_iam_policy_document" "failure_topic" {
  statement {
    sid       = "OwnerManages"
    actions   = ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes", "sns:SetTopicAttributes"]
    resources = [aws_sns_topic.failure.arn]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "AlarmsOfThisAccountPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.failure.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "failure" {
  arn    = aws_sns_topic.failure.arn
  policy = data.aws_iam_policy_document.failure_topic.json
}

resource "aws_sns_topic_subscription" "success_email" {
  for_each  = toset(var.success_subscribers)
  topic_arn = aws_sns_topic.success.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sns_topic_subscription" "failure_email" {
  for_each  = toset(var.failure_subscribers)
  topic_arn = aws_sns_topic.failure.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_metric_alarm" "failed_executions" {
  alarm_name          = "${var.name}-pipeline-executions-failed"
  alarm_description   = "A pipeline execution failed, timed out or was aborted (the failure topic also has its message)."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsFailed"
  dimensions          = { StateMachineArn = aws_sfn_state_machine.pipeline.arn }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.failure.arn]
}

resource "aws_cloudwatch_metric_alarm" "timed_out_executions" {
  alarm_name          = "${var.name}-pipeline-executions-timed-out-or-aborted"
  alarm_description   = "An execution ended without its Catch running: its locks may be held (see the lock table)."
  comparison_operator = "GreaterThanThreshold"
  evaluation_periods  = 1
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.failure.arn]

  metric_query {
    id          = "ended_abnormally"
    expression  = "timed_out + aborted"
    label       = "timed out or aborted"
    return_data = true
  }
  metric_query {
    id = "timed_out"
    metric {
      namespace   = "AWS/States"
      metric_name = "ExecutionsTimedOut"
      dimensions  = { StateMachineArn = aws_sfn_state_machine.pipeline.arn }
      stat        = "Sum"
      period      = 300
    }
  }
  metric_query {
    id = "aborted"
    metric {
      namespace   = "AWS/States"
      metric_name = "ExecutionsAborted"
      dimensions  = { StateMachineArn = aws_sfn_state_machine.pipeline.arn }
      stat        = "Sum"
      period      = 300
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "glue_job_failures" {
  alarm_name          = "${var.name}-glue-ingest-failed-tasks"
  alarm_description   = "The ingestion Glue job had failed Spark tasks (job metrics, --enable-metrics)."
  namespace           = "Glue"
  metric_name         = "glue.driver.aggregate.numFailedTasks"
  dimensions          = { JobName = var.glue_job_name, JobRunId = "ALL", Type = "count" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.failure.arn]
}
