# Who and what may reach what: Spectrum's role (the namespace's IAM role) and the workgroup's security
# group. Apart from main.tf (the Redshift Serverless resources) so the deploy rehearsal, whose AWS
# stand-in has no Redshift Serverless API, applies this file as it is (tests/infra/rehearsal.py).
data "aws_iam_policy_document" "spectrum_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "spectrum" {
  name               = "${var.name}-redshift-spectrum"
  assume_role_policy = data.aws_iam_policy_document.spectrum_assume.json
}

data "aws_iam_policy_document" "spectrum" {
  statement {
    sid       = "ReadCatalog"
    actions   = ["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition"]
    resources = [var.glue_catalog_arn, var.glue_database_arn, var.glue_tables_arn]
  }
  statement {
    sid       = "ReadLake"
    actions   = ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"]
    resources = [var.bucket_arns["lake"], "${var.bucket_arns["lake"]}/*", var.bucket_arns["quarantine"], "${var.bucket_arns["quarantine"]}/*"]
  }
  statement {
    sid       = "DecryptLake"
    actions   = ["kms:Decrypt", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "spectrum" {
  name   = "read-lake"
  role   = aws_iam_role.spectrum.id
  policy = data.aws_iam_policy_document.spectrum.json
}

resource "aws_security_group" "redshift" {
  name        = "${var.name}-redshift"
  description = "Redshift Serverless: only the dbt task connects"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-redshift" }
}

# A security group made by Terraform has no egress rule (AWS's default allow-all is removed). With
# enhanced VPC routing, Spectrum reaches the Glue Data Catalog and S3 through this VPC: it needs the
# Glue interface endpoint and the S3 gateway endpoint (infra/modules/network), and a way out to them
# ("Amazon Redshift Spectrum limitations", https://docs.aws.amazon.com/redshift/latest/dg/c-spectrum-considerations.html;
# "Enhanced VPC routing in Amazon Redshift", https://docs.aws.amazon.com/redshift/latest/mgmt/enhanced-vpc-routing.html).
resource "aws_vpc_security_group_egress_rule" "redshift_to_interface_endpoints" {
  security_group_id = aws_security_group.redshift.id
  description       = "HTTPS to the interface endpoints in the VPC (Glue Data Catalog for Spectrum)"
  cidr_ipv4         = var.vpc_cidr_block
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "redshift_to_s3" {
  security_group_id = aws_security_group.redshift.id
  description       = "HTTPS to S3 through the gateway endpoint (the lake, for Spectrum)"
  prefix_list_id    = var.s3_prefix_list_id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "redshift_from_clients" {
  for_each                     = var.client_security_groups
  security_group_id            = aws_security_group.redshift.id
  description                  = "Redshift from the dbt task"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 5439
  to_port                      = 5439
}
