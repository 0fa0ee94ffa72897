# The modules were called from this root until they moved into modules/platform: these blocks
# let `terraform plan` move existing state to the new addresses instead of destroying and recreating
# everything (buckets, KMS key, Redshift). Keep them until every state of this environment is applied.

moved {
  from = module.storage
  to   = module.platform.module.storage
}

moved {
  from = module.network
  to   = module.platform.module.network
}

moved {
  from = module.ingest
  to   = module.platform.module.ingest
}

moved {
  from = module.warehouse
  to   = module.platform.module.warehouse
}

moved {
  from = module.dbt_runner
  to   = module.platform.module.dbt_runner
}

moved {
  from = module.pipeline
  to   = module.platform.module.pipeline
}
