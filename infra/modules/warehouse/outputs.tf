output "endpoint" {
  description = "Host name of the workgroup."
  value       = aws_redshiftserverless_workgroup.this.endpoint[0].address
}

output "port" {
  value = aws_redshiftserverless_workgroup.this.endpoint[0].port
}

output "database_name" {
  value = aws_redshiftserverless_namespace.this.db_name
}

output "workgroup_name" {
  value = aws_redshiftserverless_workgroup.this.workgroup_name
}

output "workgroup_arn" {
  description = "For IAM: redshift-serverless:GetCredentials is granted on this workgroup only."
  value       = aws_redshiftserverless_workgroup.this.arn
}

output "dbt_user" {
  description = "dbt's database user (sql/dbt_user.sql), created by Terraform."
  value       = local.dbt_user
}

output "dbt_schema" {
  value = var.dbt_schema
}

output "security_group_id" {
  value = aws_security_group.redshift.id
}

output "spectrum_role_arn" {
  value = aws_iam_role.spectrum.arn
}
