# Redshift Serverless, private: the dbt task reaches it inside the VPC; Spectrum reads the lake
# through the Glue Data Catalog with its own role.
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

resource "aws_vpc_security_group_ingress_rule" "redshift_from_clients" {
  for_each                     = toset(var.client_security_group_ids)
  security_group_id            = aws_security_group.redshift.id
  description                  = "Redshift from the dbt task"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 5439
  to_port                      = 5439
}

resource "aws_redshiftserverless_namespace" "this" {
  namespace_name                   = var.name
  db_name                          = var.database_name
  admin_username                   = "tlc_admin"
  manage_admin_password            = true # Redshift keeps the password in Secrets Manager, rotated; nobody types it
  admin_password_secret_kms_key_id = var.kms_key_arn
  kms_key_id                       = var.kms_key_arn
  iam_roles                        = [aws_iam_role.spectrum.arn]
  default_iam_role_arn             = aws_iam_role.spectrum.arn
  log_exports                      = ["userlog", "connectionlog", "useractivitylog"]
}

resource "aws_redshiftserverless_workgroup" "this" {
  namespace_name       = aws_redshiftserverless_namespace.this.namespace_name
  workgroup_name       = var.name
  base_capacity        = var.base_capacity
  publicly_accessible  = false
  enhanced_vpc_routing = true
  subnet_ids           = var.subnet_ids
  security_group_ids   = [aws_security_group.redshift.id]

  config_parameter {
    parameter_key   = "require_ssl"
    parameter_value = "true"
  }
}

# The external schema dbt's sources read (docs/data_contracts.md section 3), created on apply by the
# namespace admin through the Data API (see dbt_user.tf for why the statement is kept from re-running).
resource "terraform_data" "spectrum_schema" {
  triggers_replace = [aws_redshiftserverless_namespace.this.namespace_id, local.spectrum_schema_sql]
}

resource "aws_redshiftdata_statement" "spectrum_schema" {
  workgroup_name = aws_redshiftserverless_workgroup.this.workgroup_name
  database       = aws_redshiftserverless_namespace.this.db_name
  secret_arn     = aws_redshiftserverless_namespace.this.admin_password_secret_arn
  sql            = local.spectrum_schema_sql

  lifecycle {
    ignore_changes       = all
    replace_triggered_by = [terraform_data.spectrum_schema]
  }
}
