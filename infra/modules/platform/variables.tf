# No default: each environment's root gives these.
variable "environment" {
  description = "dev or prod: names everything tlc-<environment>-..."
  type        = string
}

variable "vpc_cidr_block" {
  type = string
}

variable "availability_zone_ids" {
  description = "AZ IDs of the provider's region for the private subnets (infra/modules/network checks them: three or more, IDs not names)."
  type        = list(string)
}

variable "glue_workers" {
  type = number
}

variable "redshift_base_capacity" {
  type = number
}

variable "dbt_image_tag" {
  description = "The dbt image tag pushed to this environment's ECR repository (e.g. the git commit)."
  type        = string
}

# The same in every environment.
variable "landing_prefix" {
  type    = string
  default = "landing/"
}

variable "glue_entry_path" {
  description = "The Glue job's script, relative to the root module's folder (infra/envs/<env>, where terraform runs)."
  type        = string
  default     = "../../../ingestion/glue_entry.py"
}

variable "ingestion_package_path" {
  description = "Zip of ingestion/ built before apply (see the README), relative to the root module's folder (infra/envs/<env>)."
  type        = string
  default     = "../../../.local/build/ingestion.zip"
}

variable "daily_schedule" {
  type    = string
  default = "cron(0 6 * * ? *)"
}

variable "weekly_test_schedule" {
  description = "EventBridge schedule of the weekly whole-history `dbt test` run (UTC). Default Sundays at 07:00: the daily 06:00 build ends by 07:50 at the latest (DBT_TIMEOUT_SECONDS), within the hour this run waits for the transform lock."
  type        = string
  default     = "cron(0 7 ? * SUN *)"
}

variable "column_statistics_schedule" {
  description = "When Glue computes the lake tables' column statistics (modules/ingest; Glue cron, UTC): daily at 04:00 UTC, before the 06:00 dbt build; null: none."
  type        = string
  default     = "cron(0 4 * * ? *)"
  nullable    = true
}

variable "success_subscribers" {
  type    = list(string)
  default = []
}

variable "failure_subscribers" {
  type    = list(string)
  default = []
}

variable "log_retention_days" {
  type    = number
  default = 365
}

variable "athena_bytes_scanned_cutoff_per_query" {
  description = "Athena cancels a query of the lake workgroup past this many bytes scanned (modules/analytics)."
  type        = number
  default     = 10737418240
}

variable "lake_reader_principals" {
  description = "Who may assume the lake reader role (modules/analytics); empty: this account's identities, with MFA."
  type        = list(string)
  default     = []
}
