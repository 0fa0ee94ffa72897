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

output "admin_secret_arn" {
  description = "Secrets Manager secret (username, password) managed by Redshift."
  value       = aws_redshiftserverless_namespace.this.admin_password_secret_arn
}

output "security_group_id" {
  value = aws_security_group.redshift.id
}

output "spectrum_role_arn" {
  value = aws_iam_role.spectrum.arn
}
