data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  catalog_arn  = "arn:${data.aws_partition.current.partition}:glue:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:catalog"
  database_arn = "arn:${data.aws_partition.current.partition}:glue:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:database/${aws_glue_catalog_database.lake.name}"
  tables_arn   = "arn:${data.aws_partition.current.partition}:glue:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:table/${aws_glue_catalog_database.lake.name}/*"
  script_key   = "glue/${var.name}/glue_entry.py"
  package_key  = "glue/${var.name}/ingestion.zip"
  log_group    = "/aws-glue/jobs/${var.name}-ingest"
}

# The job's code, uploaded from ingestion/ on every apply that changed it.
resource "aws_s3_object" "glue_entry" {
  bucket     = var.buckets["artifacts"]
  key        = local.script_key
  source     = var.glue_entry_path
  etag       = filemd5(var.glue_entry_path)
  kms_key_id = var.kms_key_arn
}

resource "aws_s3_object" "ingestion_package" {
  bucket     = var.buckets["artifacts"]
  key        = local.package_key
  source     = var.ingestion_package_path
  etag       = filemd5(var.ingestion_package_path)
  kms_key_id = var.kms_key_arn
}

data "aws_iam_policy_document" "glue_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "glue" {
  name               = "${var.name}-glue-ingest"
  assume_role_policy = data.aws_iam_policy_document.glue_assume.json
}

# Read the code, take the landed files (read, then delete once archived or quarantined), write
# lake and quarantine, add to the archive; nothing else.
data "aws_iam_policy_document" "glue" {
  statement {
    sid       = "ReadCode"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${var.bucket_arns["artifacts"]}/glue/${var.name}/*"]
  }
  statement {
    sid       = "TakeLandedFiles"
    actions   = ["s3:GetObject", "s3:DeleteObject"]
    resources = ["${var.bucket_arns["landing"]}/${var.landing_prefix}*"]
  }
  statement {
    sid       = "ArchiveRawFiles"
    actions   = ["s3:PutObject"]
    resources = ["${var.bucket_arns["archive"]}/*"]
  }
  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.bucket_arns["landing"], var.bucket_arns["lake"], var.bucket_arns["quarantine"], var.bucket_arns["artifacts"]]
  }
  statement {
    sid       = "WriteLakeAndQuarantine"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${var.bucket_arns["lake"]}/*", "${var.bucket_arns["quarantine"]}/*"]
  }
  statement {
    sid       = "SparkTemporaryFiles"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${var.bucket_arns["artifacts"]}/glue-temp/${var.name}/*", "${var.bucket_arns["artifacts"]}/glue-logs/${var.name}/*"]
  }
  statement {
    sid       = "DataKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
  statement {
    sid       = "ReadCatalog"
    actions   = ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions"]
    resources = [local.catalog_arn, local.database_arn, local.tables_arn]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"]
    resources = ["${aws_cloudwatch_log_group.glue.arn}:*", "${aws_cloudwatch_log_group.glue.arn}-*:*"]
  }
  statement {
    sid       = "Metrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource type; the condition pins the namespace.
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["Glue"]
    }
  }
}

resource "aws_iam_role_policy" "glue" {
  name   = "ingest"
  role   = aws_iam_role.glue.id
  policy = data.aws_iam_policy_document.glue.json
}

resource "aws_cloudwatch_log_group" "glue" {
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_glue_security_configuration" "this" {
  name = "${var.name}-ingest"

  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = var.kms_key_arn
    }
    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = var.kms_key_arn
    }
    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = var.kms_key_arn
    }
  }
}

resource "aws_glue_job" "ingest" {
  name                   = "${var.name}-ingest"
  description            = "TLC files -> lake + quarantine, then archive (ingestion/glue_entry.py); --inputs comes from the state machine"
  role_arn               = aws_iam_role.glue.arn
  glue_version           = "5.0"
  worker_type            = var.worker_type
  number_of_workers      = var.number_of_workers
  timeout                = var.timeout_minutes
  security_configuration = aws_glue_security_configuration.this.name

  command {
    name            = "glueetl"
    python_version  = "3"
    script_location = "s3://${var.buckets["artifacts"]}/${local.script_key}"
  }

  execution_property {
    max_concurrent_runs = var.max_concurrent_runs
  }

  default_arguments = {
    "--extra-py-files"                   = "s3://${var.buckets["artifacts"]}/${local.package_key}"
    "--lake_root"                        = "s3://${var.buckets["lake"]}/"
    "--quarantine_root"                  = "s3://${var.buckets["quarantine"]}/"
    "--archive_root"                     = "s3://${var.buckets["archive"]}/"
    "--TempDir"                          = "s3://${var.buckets["artifacts"]}/glue-temp/${var.name}/"
    "--enable-metrics"                   = "true"
    "--enable-continuous-cloudwatch-log" = "true"
    "--continuous-log-logGroup"          = local.log_group
    "--enable-spark-ui"                  = "true"
    "--spark-event-logs-path"            = "s3://${var.buckets["artifacts"]}/glue-logs/${var.name}/"
    "--job-language"                     = "python"
  }

  depends_on = [aws_s3_object.glue_entry, aws_s3_object.ingestion_package]
}
