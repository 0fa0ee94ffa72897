# The prod environment: the platform (infra/modules/platform) with prod's values.

locals {
  environment = "prod"
}

provider "aws" {
  region = "us-east-1"
  default_tags {
    tags = {
      Project     = "tlc-warehouse"
      Environment = local.environment
      ManagedBy   = "terraform"
      Repository  = "tlc-warehouse/infra"
    }
  }
}

module "platform" {
  source                 = "../../modules/platform"
  environment            = local.environment
  vpc_cidr_block         = "10.41.0.0/16"
  glue_workers           = 10
  redshift_base_capacity = 32
  dbt_image_tag          = var.dbt_image_tag
  success_subscribers    = var.success_subscribers
  failure_subscribers    = var.failure_subscribers
}
