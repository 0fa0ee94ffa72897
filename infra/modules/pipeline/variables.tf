variable "name" {
  description = "Prefix of every name, e.g. tlc-dev."
  type        = string
}

variable "kms_key_arn" {
  type = string
}

variable "buckets" {
  type = map(string)
}

variable "bucket_arns" {
  type = map(string)
}

variable "landing_prefix" {
  type    = string
  default = "landing/"
}

variable "glue_job_name" {
  type = string
}

variable "glue_job_arn" {
  type = string
}

variable "glue_database_name" {
  type = string
}

variable "ecs_cluster_arn" {
  type = string
}

variable "task_definition_arn" {
  type = string
}

variable "task_definition_family_arn" {
  type = string
}

variable "dbt_container_name" {
  type = string
}

variable "dbt_task_role_arn" {
  type = string
}

variable "dbt_execution_role_arn" {
  type = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "dbt_security_group_ids" {
  type = list(string)
}

variable "daily_schedule" {
  description = "EventBridge schedule of the daily dbt-only run (UTC)."
  type        = string
  default     = "cron(0 6 * * ? *)"
}

variable "weekly_test_schedule" {
  description = "EventBridge schedule of the weekly whole-history `dbt test` run (UTC). Default Sundays at 07:00: the daily 06:00 build ends by 07:50 at the latest (DBT_TIMEOUT_SECONDS), within the hour this run waits for the transform lock."
  type        = string
  default     = "cron(0 7 ? * SUN *)"
}

variable "success_subscribers" {
  description = "E-mail addresses told about successful runs."
  type        = list(string)
  default     = []
}

variable "failure_subscribers" {
  description = "E-mail addresses paged about failed runs and alarms (a separate audience)."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  type    = number
  default = 365
}
