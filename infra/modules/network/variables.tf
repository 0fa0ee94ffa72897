variable "name" {
  description = "Prefix of every name, e.g. tlc-dev."
  type        = string
}

variable "cidr_block" {
  description = "The VPC's CIDR; two private subnets are carved from it."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "One private subnet per zone, named explicitly so the set never changes under us (Redshift Serverless needs three)."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "Key of the VPC flow logs' log group."
  type        = string
}

variable "log_retention_days" {
  type    = number
  default = 365
}
