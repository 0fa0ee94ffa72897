terraform {
  required_version = ">= 1.10" # the backend's use_lockfile
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.65"
    }
  }
  # State lives in S3; the bucket, key and lock table are given at init (see the README):
  #   terraform init -backend-config=backend.hcl
  backend "s3" {}
}
