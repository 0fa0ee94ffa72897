variable "name" {
  description = "Prefix of every name, e.g. tlc-dev."
  type        = string
}

variable "kms_key_arn" {
  type = string
}

variable "buckets" {
  description = "Bucket names by role (landing, lake, quarantine, archive, artifacts) from the storage module."
  type        = map(string)
}

variable "landing_prefix" {
  description = "Key prefix in the landing bucket where TLC files are uploaded; the job deletes them from there once archived."
  type        = string
  default     = "landing/"
}

variable "bucket_arns" {
  type = map(string)
}

variable "glue_entry_path" {
  description = "ingestion/glue_entry.py, the Glue job's script."
  type        = string
}

variable "ingestion_package_path" {
  description = "A zip of the ingestion/ package (python -m zipfile -c .local/build/ingestion.zip ingestion), put on the job's Python path."
  type        = string
}

variable "worker_type" {
  type    = string
  default = "G.1X"
}

variable "number_of_workers" {
  type    = number
  default = 2
}

variable "max_concurrent_runs" {
  description = "Different months ingest in parallel; the same month never does (the state machine's partition lock)."
  type        = number
  default     = 4
}

variable "timeout_minutes" {
  type    = number
  default = 120
}

variable "log_retention_days" {
  type    = number
  default = 365
}

variable "column_statistics_schedule" {
  description = "When Glue computes each lake table's column statistics (Glue cron, UTC; column_statistics.tf); null: the job makes no statistics settings."
  type        = string
  default     = "cron(0 4 * * ? *)"
  nullable    = true
  validation {
    condition     = var.column_statistics_schedule == null || can(regex("^cron\\(\\S+ \\S+ \\S+ \\S+ \\S+ \\S+\\)$", var.column_statistics_schedule))
    error_message = "Glue's six-field cron(Minutes Hours Day-of-month Month Day-of-week Year), e.g. cron(0 4 * * ? *)."
  }
}
