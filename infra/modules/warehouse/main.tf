# Redshift Serverless, private: the dbt task reaches it inside the VPC; Spectrum reads the lake
# through the Glue Data Catalog with its own role.

resource "aws_redshiftserverless_namespace" "this" {
  namespace_name                   = local.namespace_name
  db_name                          = var.database_name
  admin_username                   = "tlc_admin"
  manage_admin_password            = true # Redshift keeps the password in Secrets Manager, rotated; nobody types it
  admin_password_secret_kms_key_id = var.kms_key_arn
  kms_key_id                       = var.kms_key_arn
  iam_roles                        = [aws_iam_role.spectrum.arn]
  default_iam_role_arn             = aws_iam_role.spectrum.arn
  log_exports                      = sort(local.audit_log_exports)

  # Its audit logs find their groups (logs.tf) made, under the platform key, before it exports any.
  depends_on = [aws_cloudwatch_log_group.audit]
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
