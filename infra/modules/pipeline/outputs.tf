output "state_machine_arn" {
  value = aws_sfn_state_machine.pipeline.arn
}

output "success_topic_arn" {
  value = aws_sns_topic.success.arn
}

output "failure_topic_arn" {
  value = aws_sns_topic.failure.arn
}

output "lock_table_name" {
  value = aws_dynamodb_table.locks.name
}
