variable "name" {
  description = "Prefix of every name, e.g. tlc-dev."
  type        = string
}

variable "kms_key_arn" {
  type = string
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "vpc_cidr_block" {
  description = "The VPC's CIDR, where the interface endpoints (Glue) are."
  type        = string
}

variable "s3_prefix_list_id" {
  description = "The S3 gateway endpoint's prefix list (Spectrum's way to the lake with enhanced VPC routing)."
  type        = string
}

variable "client_security_groups" {
  description = "Security groups allowed to connect on 5439, by a name fixed in the configuration (for_each keys must be known at plan time; the group IDs are not until apply)."
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

variable "glue_tables_arn" {
  type = string
}

variable "database_name" {
  type    = string
  default = "tlc"
}

variable "base_capacity" {
  description = "Redshift Processing Units (RPU) of the workgroup."
  type        = number
  default     = 8
}

variable "log_retention_days" {
  type    = number
  default = 365
}

variable "dbt_iam_role_name" {
  description = "Name of the dbt task's IAM role; its Redshift user is \"IAMR:<this name>\" (sql/dbt_user.sql)."
  type        = string
}

variable "dbt_schema" {
  description = "dbt's target schema on Redshift (DBT_SCHEMA); the user owns it and its _staging, _intermediate, _seeds, _snapshots siblings."
  type        = string
  default     = "analytics"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,100}$", var.dbt_schema))
    error_message = "dbt_schema must be a lower-case identifier (letters, digits, _)."
  }
}
