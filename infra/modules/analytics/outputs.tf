output "workgroup_name" {
  value = aws_athena_workgroup.lake.name
}

output "workgroup_arn" {
  value = aws_athena_workgroup.lake.arn
}

output "lake_reader_role_arn" {
  value = aws_iam_role.lake_reader.arn
}
