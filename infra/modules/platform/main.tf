# The whole platform of one environment; infra/envs/<env> is a thin root that gives it that
# environment's values (and holds the provider, with its default tags, and the state backend).

locals {
  name = "tlc-${var.environment}"
}

module "storage" {
  source = "../storage"
  name   = local.name
}

module "network" {
  source                = "../network"
  name                  = local.name
  cidr_block            = var.vpc_cidr_block
  availability_zone_ids = var.availability_zone_ids
  kms_key_arn           = module.storage.kms_key_arn
  log_retention_days    = var.log_retention_days
}

module "ingest" {
  source                     = "../ingest"
  name                       = local.name
  kms_key_arn                = module.storage.kms_key_arn
  buckets                    = module.storage.bucket_names
  bucket_arns                = module.storage.bucket_arns
  landing_prefix             = var.landing_prefix
  glue_entry_path            = var.glue_entry_path
  ingestion_package_path     = var.ingestion_package_path
  number_of_workers          = var.glue_workers
  log_retention_days         = var.log_retention_days
  column_statistics_schedule = var.column_statistics_schedule
}

module "warehouse" {
  source                 = "../warehouse"
  name                   = local.name
  kms_key_arn            = module.storage.kms_key_arn
  vpc_id                 = module.network.vpc_id
  subnet_ids             = module.network.private_subnet_ids
  vpc_cidr_block         = module.network.vpc_cidr_block
  s3_prefix_list_id      = module.network.s3_prefix_list_id
  client_security_groups = { dbt = module.dbt_runner.security_group_id }
  bucket_arns            = module.storage.bucket_arns
  glue_database_name     = module.ingest.database_name
  glue_catalog_arn       = module.ingest.catalog_arn
  glue_database_arn      = module.ingest.database_arn
  glue_tables_arn        = module.ingest.tables_arn
  base_capacity          = var.redshift_base_capacity
  dbt_iam_role_name      = module.dbt_runner.task_role_name
  log_retention_days     = var.log_retention_days
}

module "dbt_runner" {
  source                  = "../dbt_runner"
  name                    = local.name
  kms_key_arn             = module.storage.kms_key_arn
  vpc_id                  = module.network.vpc_id
  vpc_cidr_block          = module.network.vpc_cidr_block
  s3_prefix_list_id       = module.network.s3_prefix_list_id
  buckets                 = module.storage.bucket_names
  bucket_arns             = module.storage.bucket_arns
  image_tag               = var.dbt_image_tag
  redshift_host           = module.warehouse.endpoint
  redshift_database       = module.warehouse.database_name
  redshift_workgroup_name = module.warehouse.workgroup_name
  redshift_workgroup_arn  = module.warehouse.workgroup_arn
  dbt_schema              = module.warehouse.dbt_schema
  log_retention_days      = var.log_retention_days
}

module "pipeline" {
  source                     = "../pipeline"
  name                       = local.name
  kms_key_arn                = module.storage.kms_key_arn
  buckets                    = module.storage.bucket_names
  bucket_arns                = module.storage.bucket_arns
  landing_prefix             = var.landing_prefix
  glue_job_name              = module.ingest.job_name
  glue_job_arn               = module.ingest.job_arn
  glue_database_name         = module.ingest.database_name
  ecs_cluster_arn            = module.dbt_runner.cluster_arn
  task_definition_arn        = module.dbt_runner.task_definition_arn
  task_definition_family_arn = module.dbt_runner.task_definition_family_arn
  dbt_container_name         = module.dbt_runner.container_name
  dbt_task_role_arn          = module.dbt_runner.task_role_arn
  dbt_execution_role_arn     = module.dbt_runner.execution_role_arn
  subnet_ids                 = module.network.private_subnet_ids
  dbt_security_group_ids     = [module.dbt_runner.security_group_id]
  daily_schedule             = var.daily_schedule
  weekly_test_schedule       = var.weekly_test_schedule
  success_subscribers        = var.success_subscribers
  failure_subscribers        = var.failure_subscribers
  log_retention_days         = var.log_retention_days
}

module "analytics" {
  source                         = "../analytics"
  name                           = local.name
  kms_key_arn                    = module.storage.kms_key_arn
  buckets                        = module.storage.bucket_names
  bucket_arns                    = module.storage.bucket_arns
  glue_database_name             = module.ingest.database_name
  glue_catalog_arn               = module.ingest.catalog_arn
  glue_database_arn              = module.ingest.database_arn
  bytes_scanned_cutoff_per_query = var.athena_bytes_scanned_cutoff_per_query
  lake_reader_principals         = var.lake_reader_principals
}
