output "landing_bucket" { value = module.platform.landing_bucket }
output "landing_prefix" { value = module.platform.landing_prefix }
output "artifacts_bucket" { value = module.platform.artifacts_bucket }
output "dbt_repository_url" { value = module.platform.dbt_repository_url }
output "state_machine_arn" { value = module.platform.state_machine_arn }
output "failure_topic_arn" { value = module.platform.failure_topic_arn }
output "success_topic_arn" { value = module.platform.success_topic_arn }
output "kms_key_arn" { value = module.platform.kms_key_arn }
