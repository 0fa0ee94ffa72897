# The Glue Data Catalog database of the lake: Redshift Spectrum's external schema and Athena read it.
# Its tables are Apache Iceberg tables that the ingestion job creates from the lake contract
# (ingestion/lake_tables.py) and commits to (docs/iceberg_lake.md). Terraform does not declare them:
# provider 5.x cannot create a partitioned Iceberg table (terraform-provider-aws #36531), and a
# Terraform-owned table would have its Iceberg parameters (metadata_location) reset on every apply.
resource "aws_glue_catalog_database" "lake" {
  name        = replace("${var.name}_lake", "-", "_")
  description = "TLC lake (${var.name}): Iceberg tables of accepted and quarantined trips and the load log"
}
