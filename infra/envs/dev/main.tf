# The dev environment: the platform (infra/modules/platform) with dev's values.

locals {
  environment = "dev"
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
  vpc_cidr_block         = "10.40.0.0/16"
  glue_workers           = 2
  redshift_base_capacity = 8
  dbt_image_tag          = var.dbt_image_tag
  success_subscribers    = var.success_subscribers
  failure_subscribers    = var.failure_subscribers

  # By AZ ID, the same physical zones in every account (infra/modules/network). Before a first apply, check
  # them against the supported AZ IDs the Redshift Serverless console shows under "Additional considerations"
  # when creating a workgroup: no AWS page lists them.
  availability_zone_ids = ["use1-az1", "use1-az2", "use1-az4"]
}
