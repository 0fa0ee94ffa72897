output "landing_bucket" {
  value = module.storage.bucket_names["landing"]
}

output "landing_prefix" {
  value = var.landing_prefix
}

output "artifacts_bucket" {
  value = module.storage.bucket_names["artifacts"]
}

output "dbt_repository_url" {
  value = module.dbt_runner.repository_url
}

output "state_machine_arn" {
  value = module.pipeline.state_machine_arn
}

output "failure_topic_arn" {
  value = module.pipeline.failure_topic_arn
}

output "success_topic_arn" {
  value = module.pipeline.success_topic_arn
}

# The key of every bucket, the state machine, the queues and topics: uploaders and operators need
# kms:GenerateDataKey and kms:Decrypt on it (infra/README.md, "Trigger by upload").
output "kms_key_arn" {
  value = module.storage.kms_key_arn
}

# Ad-hoc SQL over the lake (infra/README.md, "Ad-hoc SQL with Athena").
output "athena_workgroup" {
  value = module.analytics.workgroup_name
}

output "lake_reader_role_arn" {
  value = module.analytics.lake_reader_role_arn
}

output "lake_database" {
  value = module.ingest.database_name
}
