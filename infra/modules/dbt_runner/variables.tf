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

variable "vpc_cidr_block" {
  type = string
}

variable "s3_prefix_list_id" {
  type = string
}

variable "buckets" {
  type = map(string)
}

variable "bucket_arns" {
  type = map(string)
}

variable "image_tag" {
  description = "Tag of the dbt image in the ECR repository (push it before apply: see the README)."
  type        = string
}

variable "redshift_host" {
  type = string
}

variable "redshift_port" {
  type    = number
  default = 5439
}

variable "redshift_database" {
  type = string
}

variable "redshift_workgroup_name" {
  description = "Redshift Serverless workgroup dbt signs in to with IAM (GetCredentials)."
  type        = string
}

variable "redshift_workgroup_arn" {
  description = "The same workgroup's ARN: the only resource the task role may call GetCredentials on."
  type        = string
}

variable "dbt_schema" {
  description = "dbt's target schema (DBT_SCHEMA): the schema the warehouse module gave the dbt user."
  type        = string
  default     = "analytics"
}

variable "cpu" {
  type    = number
  default = 1024
}

variable "memory" {
  type    = number
  default = 2048
}

variable "log_retention_days" {
  type    = number
  default = 365
}
