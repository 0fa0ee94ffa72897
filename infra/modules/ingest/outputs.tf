output "job_name" {
  value = aws_glue_job.ingest.name
}

output "job_arn" {
  value = aws_glue_job.ingest.arn
}

output "database_name" {
  value = aws_glue_catalog_database.lake.name
}

output "database_arn" {
  value = local.database_arn
}

output "tables_arn" {
  value = local.tables_arn
}

output "catalog_arn" {
  value = local.catalog_arn
}
