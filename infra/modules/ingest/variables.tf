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
