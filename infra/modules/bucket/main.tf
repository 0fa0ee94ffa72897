# One S3 bucket of the pipeline with the protections every one of them gets: public access
# blocked, owner-enforced objects, versioning, default encryption (SSE-KMS, or SSE-S3 for the
# access-log bucket, the only kind S3 server access logging delivers to), TLS-only policy, access
# logging and lifecycle rules.
variable "bucket" {
  description = "Globally unique bucket name."
  type        = string
}

variable "purpose" {
  type = string
}

variable "kms_key_arn" {
  description = "SSE-KMS key; null means SSE-S3 (only for the access-log bucket)."
  type        = string
  default     = null
}

variable "access_log_bucket" {
  description = "Where this bucket's server access logs go; null for the access-log bucket itself."
  type        = string
  default     = null
}

variable "access_logs" {
  description = "Whether to log access to access_log_bucket: a plan-time value (a bucket's name is only known after apply, and count cannot wait for it)."
  type        = bool
  default     = true
}

variable "noncurrent_version_days" {
  type    = number
  default = 30
}

variable "expiration" {
  description = "Objects under prefix expire after days (landing copies, access logs)."
  type        = object({ prefix = string, days = number })
  default     = null
}

variable "transitions" {
  description = "Storage class transitions of current objects."
  type        = list(object({ days = number, storage_class = string }))
  default     = []
}

variable "extra_policy_statements" {
  description = "Further bucket policy statements (IAM JSON), e.g. the log delivery service's."
  type        = list(any)
  default     = []
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery decision left to the account; versioning keeps every version in-region and the Glue job archives each ingested file.
  #checkov:skip=CKV2_AWS_62:Only the landing bucket's events matter (sent to EventBridge by aws_s3_bucket_notification in the storage module).
  bucket        = var.bucket
  force_destroy = false
  tags          = { Purpose = var.purpose }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_logging" "this" {
  count         = var.access_logs ? 1 : 0
  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_log_bucket
  target_prefix = "${var.bucket}/"
}

data "aws_iam_policy_document" "this" {
  source_policy_documents = [jsonencode({ Version = "2012-10-17", Statement = var.extra_policy_statements })]

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DenyTLSBelow12"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket     = aws_s3_bucket.this.id
  policy     = data.aws_iam_policy_document.this.json
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "housekeeping"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    dynamic "transition" {
      for_each = var.transitions
      content {
        days          = transition.value.days
        storage_class = transition.value.storage_class
      }
    }
  }

  dynamic "rule" {
    for_each = var.expiration == null ? [] : [var.expiration]
    content {
      id     = "expire"
      status = "Enabled"
      filter {
        prefix = rule.value.prefix
      }
      abort_incomplete_multipart_upload {
        days_after_initiation = 7
      }
      expiration {
        days = rule.value.days
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

output "id" {
  value = aws_s3_bucket.this.id
}

output "id_once_policy_applied" {
  description = "The bucket's name, known only once its policy is in place: S3 refuses a server access logging target whose policy does not yet let the logging service write (InvalidTargetBucketForLogging; found by the deploy rehearsal)."
  value       = aws_s3_bucket.this.id
  depends_on  = [aws_s3_bucket_policy.this]
}

output "arn" {
  value = aws_s3_bucket.this.arn
}
