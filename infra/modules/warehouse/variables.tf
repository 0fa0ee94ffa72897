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
