locals {
  bucket_name = { for role in ["landing", "lake", "quarantine", "archive", "artifacts", "logs"] : role => "${var.name}-${role}-${local.account_id}" }
  buckets = {
    landing    = module.landing
    lake       = module.lake
    quarantine = module.quarantine
    archive    = module.archive
    artifacts  = module.artifacts
    logs       = module.logs
  }
}

module "logs" {
  source  = "../bucket"
  bucket  = local.bucket_name["logs"]
  purpose = "S3 server access logs of the other buckets"
  # S3 server access logs cannot go to the bucket itself
  access_logs = false
  expiration  = { prefix = "", days = 365 }
  extra_policy_statements = [{
    Sid       = "S3ServerAccessLogsDelivery"
    Effect    = "Allow"
    Action    = "s3:PutObject"
    Principal = { Service = "logging.s3.amazonaws.com" }
    Resource  = "arn:${local.partition}:s3:::${local.bucket_name["logs"]}/*"
    Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
  }]
}

module "landing" {
  source            = "../bucket"
  bucket            = local.bucket_name["landing"]
  purpose           = "where TLC files are uploaded (the pipeline's trigger)"
  kms_key_arn       = aws_kms_key.data.arn
  access_log_bucket = module.logs.id_once_policy_applied
  # No expiration: the Glue job moves each file out (to archive, or to quarantine if refused) once it
  # is done with it, so what stays here still needs someone (a failed or rejected execution). The job
  # deletes the exact version it read, which removes it for good (no noncurrent version, no delete
  # marker: https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectVersions.html);
  # noncurrent_version_days only applies to versions replaced by a re-upload or hidden by a plain delete.
}

module "lake" {
  source            = "../bucket"
  bucket            = local.bucket_name["lake"]
  purpose           = "accepted rows, canonical Parquet, Spectrum's tables"
  kms_key_arn       = aws_kms_key.data.arn
  access_log_bucket = module.logs.id_once_policy_applied
  transitions       = [{ days = 0, storage_class = "INTELLIGENT_TIERING" }]
}

module "quarantine" {
  source            = "../bucket"
  bucket            = local.bucket_name["quarantine"]
  purpose           = "rejected rows and refused files"
  kms_key_arn       = aws_kms_key.data.arn
  access_log_bucket = module.logs.id_once_policy_applied
  transitions       = [{ days = 0, storage_class = "INTELLIGENT_TIERING" }]
}

module "archive" {
  source            = "../bucket"
  bucket            = local.bucket_name["archive"]
  purpose           = "every ingested TLC file as uploaded, moved here by the Glue job, in cold storage"
  kms_key_arn       = aws_kms_key.data.arn
  access_log_bucket = module.logs.id_once_policy_applied
  transitions = [
    { days = 30, storage_class = "GLACIER_IR" },
    { days = 180, storage_class = "DEEP_ARCHIVE" },
  ]
}

module "artifacts" {
  source                  = "../bucket"
  bucket                  = local.bucket_name["artifacts"]
  purpose                 = "Glue code, dbt run artifacts and docs, Athena query results"
  kms_key_arn             = aws_kms_key.data.arn
  access_log_bucket       = module.logs.id_once_policy_applied
  noncurrent_version_days = var.artifacts_noncurrent_days
  # Athena's query results (modules/analytics) are kept 30 days (a past query's result can be
  # downloaded until then; the query itself can always be run again).
  expiration = { prefix = "athena-results/", days = 30 }
}

# S3 -> EventBridge: the pipeline's trigger rule matches "Object Created" in the landing bucket.
resource "aws_s3_bucket_notification" "landing" {
  bucket      = module.landing.id
  eventbridge = true
}
