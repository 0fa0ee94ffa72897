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

# A trigger that cannot start an execution leaves no execution to fail: the file stays in landing and the
# alarms above never fire. EventBridge retries a target (triggers.tf: an hour, ten attempts), then sends the
# event to the dead-letter queue; "When an event delivery fails, EventBridge publishes an event to Amazon
# CloudWatch metrics indicating that a target invocation failed" ("Event retry policy and using dead-letter
# queues", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html): FailedInvocations,
# dimension RuleName, in AWS/Events, sent only when it is not zero ("Monitoring Amazon EventBridge",
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html).
resource "aws_cloudwatch_metric_alarm" "trigger_failed_invocations" {
  for_each = {
    upload = aws_cloudwatch_event_rule.object_created.name
    daily  = aws_cloudwatch_event_rule.daily.name
    weekly = aws_cloudwatch_event_rule.weekly_test.name
  }
  alarm_name          = "${var.name}-pipeline-trigger-${each.key}-failed"
  alarm_description   = "EventBridge rule ${each.value} could not start an execution (its event is in the trigger dead-letter queue, or lost if that failed too)."
  namespace           = "AWS/Events"
  metric_name         = "FailedInvocations"
  dimensions          = { RuleName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.failure.arn]
}

# The dead-letter queue holds every event a trigger could not deliver, until someone reads it: in alarm as
# long as it is not empty. ApproximateNumberOfMessagesVisible, dimension QueueName, in AWS/SQS ("Available
# CloudWatch metrics for Amazon SQS",
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html),
# reported while the queue is active ("CloudWatch considers a queue to be active for up to six hours if it
# contains any messages or if any action accesses it", "Monitoring Amazon SQS queues using CloudWatch",
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-monitoring-using-cloudwatch.html).
# Missing data keeps the alarm's state ("ignore", "Configuring how CloudWatch alarms treat missing data",
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html), so a queue left
# untouched with messages in it does not turn the alarm back to OK.
resource "aws_cloudwatch_metric_alarm" "trigger_dead_letters" {
  alarm_name          = "${var.name}-pipeline-trigger-dead-letters"
  alarm_description   = "Events the upload, daily or weekly rule could not deliver wait in ${aws_sqs_queue.trigger_dlq.name}: start their executions by hand, then delete the messages."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.trigger_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "ignore"
  alarm_actions       = [aws_sns_topic.failure.arn]
}
