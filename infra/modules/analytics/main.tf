# Ad-hoc SQL over the lake with Athena: one workgroup whose settings every query must take (results
# location, SSE-KMS with the platform key, a bytes-scanned cutoff), and the "lake reader" role that may
# query in it and only read the lake. A module of its own: it is neither the writer (modules/ingest, whose
# role commits the tables) nor the warehouse (modules/warehouse, Redshift), and an environment could drop
# it without touching the pipeline. How to query: infra/README.md, "Ad-hoc SQL with Athena".
#
# Read-only on purpose: Athena's Iceberg DML writes position delete files ("Athena Iceberg DELETE writes
# Iceberg position delete files to a table. This is known as a merge-on-read delete", "DELETE",
# https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-delete.html), which the pipeline neither
# expects nor replaces: a month would no longer be what its load-log row says (docs/iceberg_lake.md).
# Athena runs a query with the caller's permissions, so the role has no Glue write and no S3 write on the
# lake, and an explicit Deny keeps it so if a broader policy is ever attached to the role.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id
  workgroup = "${var.name}-lake-sql"
  # Query results go to the artifacts bucket (SSE-KMS with the platform key), under a prefix per
  # workgroup; modules/storage expires them (athena-results/, 30 days).
  results_prefix = "athena-results/${local.workgroup}/"
  # The lake's tables and the bucket holding each, from the lake contract (ingestion.contract writes
  # infra/lake_contract.json): the reader gets exactly these tables and their folders.
  lake_tables  = jsondecode(file("${path.module}/../../lake_contract.json"))["lake_tables"]
  table_arns   = [for t in local.lake_tables : "arn:${local.partition}:glue:${local.region}:${local.account}:table/${var.glue_database_name}/${t.name}"]
  table_folder = [for t in local.lake_tables : "${var.bucket_arns[t.bucket]}/${t.name}/*"]
  # Athena's catalog of the Glue Data Catalog ("Data Catalog example policies",
  # https://docs.aws.amazon.com/athena/latest/ug/datacatalogs-example-policies.html).
  athena_catalog_arn = "arn:${local.partition}:athena:${local.region}:${local.account}:datacatalog/AwsDataCatalog"
  lake_data_buckets  = [var.bucket_arns["lake"], var.bucket_arns["quarantine"]]
}

resource "aws_athena_workgroup" "lake" {
  name        = local.workgroup
  description = "Ad-hoc, read-only SQL over the ${var.name} lake's Iceberg tables (infra/README.md)"

  configuration {
    # "If set to "true", the settings for the workgroup override client-side settings": results location
    # and encryption included ("Override client-side settings",
    # https://docs.aws.amazon.com/athena/latest/ug/workgroups-settings-override.html).
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    # "If any query that runs in the workgroup exceeds the limit, it is canceled" ("Configure per-query
    # and per-workgroup data usage controls",
    # https://docs.aws.amazon.com/athena/latest/ug/workgroups-setting-control-limits-cloudwatch.html).
    bytes_scanned_cutoff_per_query = var.bytes_scanned_cutoff_per_query
    requester_pays_enabled         = false

    # Iceberg time travel is FOR TIMESTAMP AS OF / FOR VERSION AS OF in engine version 3
    # (https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-time-travel-and-version-travel-queries.html).
    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location       = "s3://${var.buckets["artifacts"]}/${local.results_prefix}"
      expected_bucket_owner = local.account
      # SSE-KMS with a symmetric customer managed key ("Encrypt Athena query results stored in Amazon S3",
      # https://docs.aws.amazon.com/athena/latest/ug/encrypting-query-results-stored-in-s3.html).
      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = var.kms_key_arn
      }
    }
  }
}

# Who may become the reader. Given principals: exactly them (their own account decides how they sign in;
# a role session carries no aws:MultiFactorAuthPresent, so no MFA condition is put on them). None given:
# this account, through IAM (an identity still needs its own sts:AssumeRole permission on this role),
# and only with MFA ("Configuring MFA-protected API access",
# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_configure-api-require.html).
data "aws_iam_policy_document" "reader_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = length(var.lake_reader_principals) > 0 ? var.lake_reader_principals : ["arn:${local.partition}:iam::${local.account}:root"]
    }
    dynamic "condition" {
      for_each = length(var.lake_reader_principals) > 0 ? [] : ["mfa"]
      content {
        test     = "Bool"
        variable = "aws:MultiFactorAuthPresent"
        values   = ["true"]
      }
    }
  }
}

resource "aws_iam_role" "lake_reader" {
  name               = "${var.name}-lake-reader"
  description        = "Ad-hoc Athena SQL in ${local.workgroup}: reads the lake, writes only query results"
  assume_role_policy = data.aws_iam_policy_document.reader_assume.json
}

data "aws_iam_policy_document" "lake_reader" {
  # "Example policy for running queries in a specified workgroup"
  # (https://docs.aws.amazon.com/athena/latest/ug/example-policies-workgroup.html): the query actions on
  # the workgroup's ARN, so no other workgroup (whose settings are not enforced) can be used.
  statement {
    sid = "QueryInTheLakeWorkgroupOnly"
    actions = [
      "athena:StartQueryExecution", "athena:StopQueryExecution", "athena:GetQueryExecution",
      "athena:GetQueryResults", "athena:GetQueryResultsStream", "athena:ListQueryExecutions",
      "athena:BatchGetQueryExecution", "athena:GetQueryRuntimeStatistics", "athena:GetWorkGroup",
    ]
    resources = [aws_athena_workgroup.lake.arn]
  }
  # The same page's console and driver calls that take no resource.
  statement {
    sid       = "ListWorkgroupsAndEngines"
    actions   = ["athena:ListWorkGroups", "athena:ListEngineVersions", "athena:ListDataCatalogs"]
    resources = ["*"]
  }
  # Athena's own metadata calls on the Glue Data Catalog (browsing tables in the console or a driver).
  statement {
    sid       = "BrowseTheDataCatalog"
    actions   = ["athena:GetDataCatalog", "athena:GetDatabase", "athena:ListDatabases", "athena:GetTableMetadata", "athena:ListTableMetadata"]
    resources = [local.athena_catalog_arn]
  }
  # "For Athena to work with the AWS Glue, a policy that grants access to your database and to the AWS Glue
  # Data Catalog in your account per AWS Region is required", and a read needs the permission "on the
  # resource (table or database) and all ancestors" ("Configure access to databases and tables in the AWS
  # Glue Data Catalog", https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html;
  # its example names the default database).
  statement {
    sid       = "ReadTheCatalogAndDatabases"
    actions   = ["glue:GetDatabase", "glue:GetDatabases"]
    resources = [var.glue_catalog_arn, var.glue_database_arn, "arn:${local.partition}:glue:${local.region}:${local.account}:database/default"]
  }
  statement {
    sid       = "ReadTheLakeTables"
    actions   = ["glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition"]
    resources = concat([var.glue_catalog_arn, var.glue_database_arn], local.table_arns)
  }
  # "users must have permission to access Amazon S3 buckets in order to query them with Athena"
  # ("Control access to Amazon S3 from Athena", https://docs.aws.amazon.com/athena/latest/ug/s3-permissions.html):
  # the tables' folders (Iceberg metadata, manifests, data files), nothing else of the two buckets.
  statement {
    sid       = "ListTheLakeBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = local.lake_data_buckets
  }
  statement {
    sid       = "ReadTheLakeTablesFiles"
    actions   = ["s3:GetObject"]
    resources = local.table_folder
  }
  # Athena writes a query's results, and reads them back, as the caller: the workgroup's prefix only
  # (the actions of the managed policy's "write and read query results" grouping, "AWS managed policies for
  # Amazon Athena", https://docs.aws.amazon.com/athena/latest/ug/security-iam-awsmanpol.html).
  statement {
    sid       = "WriteAndReadQueryResults"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${var.bucket_arns["artifacts"]}/${local.results_prefix}*"]
  }
  statement {
    sid       = "ListQueryResults"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.bucket_arns["artifacts"]]
  }
  # "kms:Decrypt is the minimum allowed action for an Athena user to work with an encrypted dataset. To work
  # with encrypted query results, the minimum allowed actions are kms:GenerateDataKey and kms:Decrypt"
  # ("Encryption at rest", https://docs.aws.amazon.com/athena/latest/ug/encryption.html).
  statement {
    sid       = "UseThePlatformKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
  # Read-only, whatever else is ever attached to the role: no Athena DML, DDL or OPTIMIZE/VACUUM can commit
  # to the lake (they need glue:UpdateTable / CreateTable and S3 writes as the caller), and no Glue
  # create, update or delete anywhere in the catalog (Glue checks the catalog, an ancestor of everything).
  statement {
    sid    = "NeverWriteTheLake"
    effect = "Deny"
    actions = [
      "s3:PutObject", "s3:PutObjectAcl", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:RestoreObject",
    ]
    resources = [for arn in local.lake_data_buckets : "${arn}/*"]
  }
  statement {
    sid    = "NeverChangeTheCatalog"
    effect = "Deny"
    actions = [
      "glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable", "glue:BatchDeleteTable",
      "glue:DeleteTableVersion", "glue:BatchDeleteTableVersion",
      "glue:CreatePartition", "glue:BatchCreatePartition", "glue:UpdatePartition", "glue:BatchUpdatePartition",
      "glue:DeletePartition", "glue:BatchDeletePartition",
      "glue:CreateDatabase", "glue:UpdateDatabase", "glue:DeleteDatabase",
    ]
    resources = concat([var.glue_catalog_arn, var.glue_database_arn], local.table_arns, ["arn:${local.partition}:glue:${local.region}:${local.account}:table/${var.glue_database_name}/*"])
  }
}

resource "aws_iam_role_policy" "lake_reader" {
  name   = "query-the-lake-read-only"
  role   = aws_iam_role.lake_reader.id
  policy = data.aws_iam_policy_document.lake_reader.json
}
