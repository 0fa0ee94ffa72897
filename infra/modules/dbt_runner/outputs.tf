output "cluster_arn" {
  value = aws_ecs_cluster.this.arn
}

output "task_definition_arn" {
  value = aws_ecs_task_definition.dbt.arn
}

output "task_definition_family_arn" {
  description = "The task definition ARN without its revision, for IAM."
  value       = "arn:aws:ecs:${data.aws_region.current.name}:${split(":", aws_ecs_cluster.this.arn)[4]}:task-definition/${aws_ecs_task_definition.dbt.family}"
}

output "container_name" {
  value = local.container_name
}

output "security_group_id" {
  value = aws_security_group.dbt.id
}

output "task_role_name" {
  description = "Its Redshift user is \"IAMR:<this name>\" (infra/modules/warehouse/sql/dbt_user.sql)."
  value       = aws_iam_role.task.name
}

output "task_role_arn" {
  value = aws_iam_role.task.arn
}

output "execution_role_arn" {
  value = aws_iam_role.execution.arn
}

output "repository_url" {
  value = aws_ecr_repository.dbt.repository_url
}
