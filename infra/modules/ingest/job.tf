data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  catalog_arn  = "arn:${data.aws_partition.current.partition}:glue:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:catalog"
  database_arn = "arn:${data.aws_partition.current.partition}:glue:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:database/${aws_glue_catalog_database.lake.name}"
  tables_arn   = "arn:${data.aws_partition.current.partition}:glue:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:table/${aws_glue_catalog_database.lake.name}/*"
  script_key   = "glue/${var.name}/glue_entry.py"
  package_key  = "glue/${var.name}/ingestion.zip"
  # Glue 5.0 always logs to CloudWatch, to "<prefix>/error" (Spark, Glue) and "<prefix>/output" (stdout,
  # stderr); --custom-logGroup-prefix names the prefix ("Logging for AWS Glue jobs",
  # https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging.html). The 4.0 flags
  # --enable-continuous-cloudwatch-log / --continuous-log-logGroup are not Glue 5.0 arguments.
  log_group_prefix = "/aws-glue/jobs/${var.name}-ingest"
  log_groups       = toset(["error", "output"])
  log_group_arn    = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:${local.log_group_prefix}"
  # Python modules the job needs beyond Glue 5.0's own, pinned to requirements.lock's versions
  # (tests/infra/test_glue_job.py checks it). Installed by pip on the workers at job start, wheels only:
  # Glue compiles no native code ("Using Python libraries with AWS Glue",
  # https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-python-libraries.html).
  # pyiceberg commits the lake's Iceberg tables. It needs pyarrow >= 18 and Glue 5.0 ships 17.0.0
  # ("Python modules already provided in AWS Glue 5.0"); pyarrow 26 would need NumPy 2 (Glue has 1.26.4),
  # so the project is locked on 25.0.0 everywhere. pyiceberg's compiled dependencies Glue lacks are
  # listed too, so each is pinned and its wheel checked for Glue's platform (tests/infra/test_glue_runtime.py).
  # boto3/botocore: Glue 5.0's botocore 1.34.131 has no Create/Get/UpdateColumnStatisticsTaskSettings (its
  # Glue model lists none), which ingestion/lake_statistics.py calls; boto3 1.44 needs s3transfer 0.19.
  additional_python_modules = [
    "shapely==2.2.0", "pyiceberg==0.12.0", "pyarrow==25.0.0", "pydantic==2.14.3", "mmh3==5.3.1", "pyroaring==1.2.0",
    "pydantic_core==2.50.4", "zstandard==0.25.0", "boto3==1.44.5", "botocore==1.44.5", "s3transfer==0.19.3",
  ]
  # Each lake table's Glue column statistics settings (column_statistics.tf), made by the job; none when the
  # schedule is null.
  column_statistics_arguments = var.column_statistics_schedule == null ? {} : {
    "--column_stats_role"                   = aws_iam_role.column_statistics.arn
    "--column_stats_schedule"               = var.column_statistics_schedule
    "--column_stats_security_configuration" = aws_glue_security_configuration.column_statistics.name
  }
}

# The job's code, uploaded from ingestion/ on every apply that changed it.
resource "aws_s3_object" "glue_entry" {
  bucket     = var.buckets["artifacts"]
  key        = local.script_key
  source     = var.glue_entry_path
  kms_key_id = var.kms_key_arn
  # Not etag: with SSE-KMS an object's ETag is not the MD5 of its content, and the provider refuses
  # etag together with kms_key_id ("etag: conflicts with kms_key_id", found by the deploy rehearsal).
  source_hash = filemd5(var.glue_entry_path)
}

resource "aws_s3_object" "ingestion_package" {
  bucket      = var.buckets["artifacts"]
  key         = local.package_key
  source      = var.ingestion_package_path
  kms_key_id  = var.kms_key_arn
  source_hash = filemd5(var.ingestion_package_path)
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
    # The job reads, archives and deletes the version the upload event named: GetObject and CopyObject
    # with a versionId need s3:GetObjectVersion, deleting that version s3:DeleteObjectVersion
    # ("Retrieving object versions", https://docs.aws.amazon.com/AmazonS3/latest/userguide/RetrievingObjectVersions.html;
    # "Deleting object versions", https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectVersions.html).
    sid       = "TakeLandedFiles"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:DeleteObject", "s3:DeleteObjectVersion"]
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
    # pyiceberg's Glue catalog: GetDatabase (before every create and commit), GetTable (load), CreateTable
    # (a table missing from the catalog is created from the contract), UpdateTable (every commit, with the
    # VersionId it read: a lost race fails and is retried). Authorised on the catalog, the database and
    # the table ("Specifying AWS Glue resource ARNs", https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html).
    sid       = "CommitIcebergTables"
    actions   = ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable"]
    resources = [local.catalog_arn, local.database_arn, local.tables_arn]
  }
  # Each lake table's column statistics settings (ingestion/lake_statistics.py). Create and Update authorise on
  # the catalog, the database and the table; GetColumnStatisticsTaskSettings has no resource type, so "*"
  # ("Actions, resources, and condition keys for AWS Glue",
  # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsglue.html).
  statement {
    sid       = "ScheduleColumnStatistics"
    actions   = ["glue:CreateColumnStatisticsTaskSettings", "glue:UpdateColumnStatisticsTaskSettings"]
    resources = [local.catalog_arn, local.database_arn, local.tables_arn]
  }
  statement {
    sid       = "ReadColumnStatisticsSettings"
    actions   = ["glue:GetColumnStatisticsTaskSettings"]
    resources = ["*"]
  }
  # "The role you use to run column statistics must have the iam:PassRole permission on the role"
  # ("Prerequisites for generating column statistics", https://docs.aws.amazon.com/glue/latest/dg/column-stats-prereqs.html);
  # the settings calls pass it to Glue (iam:PassedToService glue.amazonaws.com, the same reference).
  statement {
    sid       = "PassTheColumnStatisticsRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.column_statistics.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["glue.amazonaws.com"]
    }
  }
  statement {
    # The job's two log groups (created below, so CreateLogGroup finds them there), by the names Glue 5.0
    # documents for --custom-logGroup-prefix. They are encrypted by their own kms_key_id, not by the
    # security configuration, so Glue neither renames them nor needs logs:AssociateKmsKey (see below).
    sid       = "Logs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = flatten([for group in local.log_groups : ["${local.log_group_arn}/${group}", "${local.log_group_arn}/${group}:*"]])
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
  for_each          = local.log_groups
  name              = "${local.log_group_prefix}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# CloudWatch encryption stays off here: with it on, Glue writes to log groups named after the security
# configuration: "<group>-<security configuration>" ("Enabling continuous logging for AWS Glue 4.0 and
# earlier jobs", https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging-enable.html) or
# "/aws-glue/jobs-<role>-<configuration>/" (the Glue API's JobRun.LogGroupName,
# https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/glue/aws.sdk.kotlin.services.glue.model/-job-run/log-group-name.html),
# and no page says how that combines with Glue 5.0's --custom-logGroup-prefix. The two log groups are
# encrypted all the same, by their kms_key_id: CloudWatch Logs encrypts a group's data with the key
# associated with it (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
resource "aws_glue_security_configuration" "this" {
  #checkov:skip=CKV_AWS_99:CloudWatch log encryption is the log groups' own (kms_key_id, the platform key): enabling it here would make Glue log to groups named after this configuration, which the job role may not write.
  name = "${var.name}-ingest"

  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "DISABLED"
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
  description            = "TLC files -> the lake's Iceberg tables, then archive (ingestion/glue_entry.py); --inputs comes from the state machine"
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

  # A backfill uploads many months at once: past max_concurrent_runs (or the account's Glue limits) a run
  # waits in Glue's queue instead of failing with ConcurrentRunsExceededException
  # (state WAITING in "AWS Glue job run statuses", https://docs.aws.amazon.com/glue/latest/dg/job-run-statuses.html).
  job_run_queuing_enabled = true

  default_arguments = merge({
    "--extra-py-files"                  = "s3://${var.buckets["artifacts"]}/${local.package_key}"
    "--lake_root"                       = "s3://${var.buckets["lake"]}/"
    "--quarantine_root"                 = "s3://${var.buckets["quarantine"]}/"
    "--archive_root"                    = "s3://${var.buckets["archive"]}/"
    "--catalog"                         = "glue:${aws_glue_catalog_database.lake.name}"
    "--TempDir"                         = "s3://${var.buckets["artifacts"]}/glue-temp/${var.name}/"
    "--enable-metrics"                  = "true"
    "--custom-logGroup-prefix"          = local.log_group_prefix
    "--additional-python-modules"       = join(",", local.additional_python_modules)
    "--python-modules-installer-option" = "--only-binary=:all:"
    "--enable-spark-ui"                 = "true"
    "--spark-event-logs-path"           = "s3://${var.buckets["artifacts"]}/glue-logs/${var.name}/"
    "--job-language"                    = "python"
  }, local.column_statistics_arguments)

  depends_on = [aws_s3_object.glue_entry, aws_s3_object.ingestion_package, aws_cloudwatch_log_group.glue]
}
