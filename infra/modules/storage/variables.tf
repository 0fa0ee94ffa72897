variable "name" {
  description = "Prefix of every name, e.g. tlc-dev."
  type        = string
}

variable "landing_prefix" {
  description = "Key prefix in the landing bucket where TLC files are uploaded."
  type        = string
  default     = "landing/"
}

variable "landing_expiration_days" {
  description = "Landing objects are replicated to the archive bucket on upload; they expire from landing after this many days."
  type        = number
  default     = 30
}

variable "artifacts_noncurrent_days" {
  description = "Days to keep superseded versions of dbt artifacts."
  type        = number
  default     = 90
}
