variable "name" {
  description = "Prefix of every name, e.g. tlc-dev."
  type        = string
}

variable "cidr_block" {
  description = "The VPC's CIDR; two private subnets are carved from it."
  type        = string
  default     = "10.40.0.0/16"
}

# By AZ ID, not name: a name (us-east-1a) is a different physical zone in each account created before
# November 2025, an AZ ID (use1-az1) the same one everywhere
# (https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-availability-zones.html).
# Redshift Serverless takes subnets in AZ IDs it supports, three AZs with enhanced VPC routing
# (https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-usage-considerations.html).
variable "availability_zone_ids" {
  description = "AZ IDs (e.g. use1-az1) of the private subnets, one subnet each, listed explicitly so the set never changes under us."
  type        = list(string)

  validation {
    condition     = alltrue([for id in var.availability_zone_ids : can(regex("^[a-z]+[0-9]+(-[a-z]+[0-9]+)?-az[0-9]+$", id))])
    error_message = "availability_zone_ids takes AZ IDs such as use1-az1, not AZ names such as us-east-1a (a name is a different zone in each account)."
  }

  validation {
    condition     = length(distinct(var.availability_zone_ids)) == length(var.availability_zone_ids) && length(var.availability_zone_ids) >= 3
    error_message = "availability_zone_ids takes at least three distinct AZ IDs: the Redshift Serverless workgroup routes through the VPC (enhanced VPC routing) and needs subnets in three AZs."
  }
}

variable "kms_key_arn" {
  description = "Key of the VPC flow logs' log group."
  type        = string
}

variable "log_retention_days" {
  type    = number
  default = 365
}
