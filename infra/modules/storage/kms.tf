data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
}

# One customer-managed key per environment encrypts the data at rest of every service here
# (S3, SNS, DynamoDB, CloudWatch Logs, ECR, Secrets Manager, Redshift). Services reach it through
# their IAM roles; the key policy only delegates to IAM and lets the services that use the key
# without a role of ours (CloudWatch Logs and its log delivery, EventBridge sending to the encrypted
# dead-letter queue, CloudWatch alarms publishing to the encrypted failure topic) do so.
data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource is always "*" (the key itself); access is scoped by principal.
  #checkov:skip=CKV_AWS_111:Same: "*" in a key policy means this key; the principal is this account's IAM.
  #checkov:skip=CKV_AWS_356:Same: a key policy cannot name its own key ARN before the key exists.
  statement {
    sid       = "AccountAdministersThroughIAM"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsOfThisAccount"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }

  # The state machine logs execution data (level ALL) to a log group encrypted with this key: CloudWatch
  # Logs' delivery service, a principal of its own, must be able to decrypt for it
  # ("Data at rest encryption in Step Functions",
  # https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).
  statement {
    sid       = "StepFunctionsLogDelivery"
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["delivery.logs.amazonaws.com"]
    }
  }

  # EventBridge sends the events its rules could not deliver to the pipeline's SQS dead-letter queue,
  # encrypted with this key. For an AWS service sending to an SSE-KMS queue, SQS documents a key policy
  # statement for the service principal (kms:GenerateDataKey, kms:Decrypt) and, against confused deputies,
  # aws:SourceArn, listing CloudWatch Events among the services that support it with SSE queues
  # ("Amazon SQS Key management",
  # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html).
  # The source is a rule of this environment (modules/pipeline names them "<name>-...").
  statement {
    sid       = "EventBridgeRulesSendToTheEncryptedDeadLetterQueue"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${var.name}-*"]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublishToTheEncryptedFailureTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "data" {
  description             = "${var.name}: data at rest of the TLC warehouse"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "data" {
  name          = "alias/${var.name}-data"
  target_key_id = aws_kms_key.data.key_id
}
