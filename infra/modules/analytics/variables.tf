variable "name" {
  description = "tlc-<environment>: names the workgroup and the role."
  type        = string
}

variable "kms_key_arn" {
  description = "The platform key: encrypts the query results, and the lake's objects the reader decrypts."
  type        = string
}

variable "buckets" {
  description = "Bucket names by role (modules/storage): lake, quarantine, artifacts are used."
  type        = map(string)
}

variable "bucket_arns" {
  type = map(string)
}

variable "glue_database_name" {
  type = string
}

variable "glue_catalog_arn" {
  type = string
}

variable "glue_database_arn" {
  type = string
}

variable "bytes_scanned_cutoff_per_query" {
  description = "Athena cancels a query of this workgroup once it has scanned this many bytes (the per-query data usage control). Default 10 GiB: about USD 0.05 at Athena's USD 5 per TB scanned, and well above a month of any table; the API's minimum is 10 MB."
  type        = number
  default     = 10737418240
  validation {
    condition     = var.bytes_scanned_cutoff_per_query >= 10485760
    error_message = "Athena's BytesScannedCutoffPerQuery is at least 10 MB (10485760 bytes)."
  }
}

variable "lake_reader_principals" {
  description = "IAM ARNs (roles or users of this or another account) that may assume the lake reader role. Empty (the default): any identity of this account whose own policies allow sts:AssumeRole on the role, signed in with MFA."
  type        = list(string)
  default     = []
}
