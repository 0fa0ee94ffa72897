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

variable "client_security_group_ids" {
  description = "Security groups allowed to connect on 5439 (the dbt task)."
  type        = list(string)
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
