variable "environment" {
  type    = string
  default = "dev"
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "landing_prefix" {
  type    = string
  default = "landing/"
}

variable "availability_zones" {
  description = "Three zones of the region (Redshift Serverless spans three)."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b", "us-east-1c"]
}

variable "vpc_cidr_block" {
  type    = string
  default = "10.40.0.0/16"
}

variable "glue_entry_path" {
  description = "The Glue job's script, relative to this folder."
  type        = string
  default     = "../../../ingestion/glue_entry.py"
}

variable "ingestion_package_path" {
  description = "Zip of ingestion/ built before apply (see the README), relative to this folder."
  type        = string
  default     = "../../../.local/build/ingestion.zip"
}

variable "glue_workers" {
  type    = number
  default = 2
}

variable "redshift_base_capacity" {
  type    = number
  default = 8
}

variable "dbt_image_tag" {
  description = "The dbt image tag pushed to this environment's ECR repository (e.g. the git commit)."
  type        = string
}

variable "daily_schedule" {
  type    = string
  default = "cron(0 6 * * ? *)"
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
