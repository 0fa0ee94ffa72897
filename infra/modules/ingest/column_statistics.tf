# Glue column statistics of the lake's Iceberg tables. Redshift: "To achieve the best performance when using
# Apache Iceberg tables with Amazon Redshift, you must generate column statistics for the tables using AWS
# Glue" ("Using Apache Iceberg tables with Amazon Redshift",
# https://docs.aws.amazon.com/redshift/latest/dg/querying-iceberg.html). Glue computes them on a schedule kept
# per table (CreateColumnStatisticsTaskSettings, "Generating column statistics on a schedule",
# https://docs.aws.amazon.com/glue/latest/dg/generate-column-stats.html). The tables are the job's, not
# Terraform's (catalog.tf), so the job makes each table's settings (ingestion/lake_statistics.py) with the role,
# schedule and security configuration below, passed as job arguments (job.tf).

locals {
  # The lake's tables and the bucket holding each, from the lake contract (infra/lake_contract.json).
  statistics_tables          = jsondecode(file("${path.module}/../../lake_contract.json"))["lake_tables"]
  statistics_table_arns      = [for t in local.statistics_tables : "arn:${data.aws_partition.current.partition}:glue:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:table/${aws_glue_catalog_database.lake.name}/${t.name}"]
  statistics_table_folders   = [for t in local.statistics_tables : "${var.bucket_arns[t.bucket]}/${t.name}/*"]
  statistics_table_metadata  = [for t in local.statistics_tables : "${var.bucket_arns[t.bucket]}/${t.name}/metadata/*"]
  statistics_data_buckets    = distinct([for t in local.statistics_tables : var.bucket_arns[t.bucket]])
  statistics_glue_log_groups = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/aws-glue/*"
}

# "When you create an IAM role for generating column statistics, that role must also have the following trust
# policy": glue.amazonaws.com, sts:AssumeRole ("Prerequisites for generating column statistics",
# https://docs.aws.amazon.com/glue/latest/dg/column-stats-prereqs.html). No aws:SourceAccount / aws:SourceArn
# condition: no Glue page says Glue sends either when it assumes this role, and a condition the request lacks
# would refuse Glue. Settings naming the role need iam:PassRole on it (CreateColumnStatisticsTaskSettings and
# UpdateColumnStatisticsTaskSettings authorise iam:PassRole with iam:PassedToService glue.amazonaws.com,
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsglue.html): only the job role has it.
data "aws_iam_policy_document" "column_statistics_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "column_statistics" {
  name               = "${var.name}-glue-column-statistics"
  description        = "Glue column statistics tasks of the ${var.name} lake's Iceberg tables (scheduled by the ingest job)"
  assume_role_policy = data.aws_iam_policy_document.column_statistics_assume.json
}

# The prerequisites page asks for AWSGlueServiceRole "or equivalent (or a scoped down version of this policy)"
# plus S3 read of the data; this is the scoped-down version for the lake's tables only.
data "aws_iam_policy_document" "column_statistics" {
  # "You also need to include permissions to read data from the Amazon S3 data location": s3:ListBucket and
  # s3:GetObject (column-stats-prereqs.html), here on the six tables' folders.
  statement {
    sid       = "ListTheLakeBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = local.statistics_data_buckets
  }
  statement {
    sid       = "ReadTheTablesFiles"
    actions   = ["s3:GetObject"]
    resources = local.statistics_table_folders
  }
  # For an Iceberg table Glue writes the statistics "to a new Puffin file committed to the specified snapshot
  # ID in your Amazon S3 location" ("Generating column statistics for Iceberg tables",
  # https://docs.aws.amazon.com/glue/latest/dg/iceberg-generate-column-stats.html) and "updates the AWS Glue
  # table metadata" ("Optimizing query performance for Iceberg tables",
  # https://docs.aws.amazon.com/glue/latest/dg/iceberg-column-statistics.html). An Iceberg commit writes a new
  # metadata file next to the old ones; where the Puffin file goes is not stated. Inferred, not documented
  # (the prerequisites list S3 read only): the role writes under each table's metadata/ folder, nothing else.
  # No DeleteObject: metadata files Iceberg would drop after a commit are deleted by the job's upkeep
  # (ingestion/lake_maintenance.py: unreferenced files).
  statement {
    sid       = "WriteStatisticsAndMetadataFiles"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = local.statistics_table_metadata
  }
  # The buckets are SSE-KMS with the platform key: reading needs kms:Decrypt, writing kms:GenerateDataKey
  # ("Using server-side encryption with AWS KMS keys", https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html).
  statement {
    sid       = "DataKeyThroughS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
  # Reading a table and committing to it: GetTable and UpdateTable on the catalog, the database and the table
  # (the table optimizers' role, which also commits to Iceberg tables, gets exactly these: "Table optimization
  # prerequisites", https://docs.aws.amazon.com/glue/latest/dg/optimization-prerequisites.html). The Glue
  # statistics APIs authorise as these actions: GetColumnStatisticsForTable as glue:GetTable,
  # UpdateColumnStatisticsForTable as glue:UpdateTable ("Actions, resources, and condition keys for AWS Glue",
  # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsglue.html).
  statement {
    sid       = "ReadAndCommitTheLakeTables"
    actions   = ["glue:GetTable", "glue:UpdateTable"]
    resources = concat([local.catalog_arn, local.database_arn], local.statistics_table_arns)
  }
  # AWSGlueServiceRole lets Glue write logs to "log groups whose names begin with aws-glue" ("Step 1: Create
  # an IAM policy for the AWS Glue service", https://docs.aws.amazon.com/glue/latest/dg/create-service-policy.html);
  # no page names the statistics task's group, so the scope is that prefix. Encrypted logs (the security
  # configuration below) also need logs:AssociateKmsKey and the key, through Glue (column-stats-prereqs.html).
  statement {
    sid       = "TaskLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"]
    resources = [local.statistics_glue_log_groups, "${local.statistics_glue_log_groups}:*"]
  }
  statement {
    sid       = "EncryptedTaskLogs"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["glue.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "column_statistics" {
  name   = "column-statistics"
  role   = aws_iam_role.column_statistics.id
  policy = data.aws_iam_policy_document.column_statistics.json
}

# The settings' SecurityConfiguration: "Name of the security configuration that is used to encrypt CloudWatch
# logs" (CreateColumnStatisticsTaskSettings, "Column statistics API",
# https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-crawler-column-statistics.html). Unlike the job's
# (job.tf), it encrypts CloudWatch logs: the task's log groups are Glue's to name, none is made here. The
# platform key's policy lets CloudWatch Logs use it for any log group of the account (modules/storage).
resource "aws_glue_security_configuration" "column_statistics" {
  name = "${var.name}-column-statistics"

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
