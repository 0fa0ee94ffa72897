variable "name" {
  description = "Prefix of every name, e.g. tlc-dev."
  type        = string
}

variable "artifacts_noncurrent_days" {
  description = "Days to keep superseded versions of dbt artifacts."
  type        = number
  default     = 90
}
