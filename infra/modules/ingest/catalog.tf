# The Glue Data Catalog that Redshift Spectrum reads (external schema `spectrum`), as in
# docs/data_contracts.md section 3. The state machine's RegisterPartitions adds each month the
# job writes; `partition_loads` reads the job's manifests directly.
locals {
  # Every column, partition key and SerDe mapping comes from the lake contract (ingestion/contract/),
  # rendered into this JSON by `python -m ingestion.contract`; tests/contract fails if it drifts.
  contract = jsondecode(file("${path.module}/../../lake_contract.json"))
  parquet = {
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    serde         = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
  }
}

resource "aws_glue_catalog_database" "lake" {
  name        = replace("${var.name}_lake", "-", "_")
  description = "TLC lake (${var.name}): accepted and quarantined trips, read by Redshift Spectrum"
}

resource "aws_glue_catalog_table" "trips" {
  for_each      = local.contract.trip_tables
  name          = each.key
  description   = each.value.description
  database_name = aws_glue_catalog_database.lake.name
  table_type    = "EXTERNAL_TABLE"
  parameters    = { classification = "parquet", EXTERNAL = "TRUE" }

  dynamic "partition_keys" {
    for_each = each.value.partition_keys
    content {
      name    = partition_keys.value.name
      type    = partition_keys.value.type
      comment = partition_keys.value.comment
    }
  }

  storage_descriptor {
    location      = "s3://${var.buckets["lake"]}/${each.key}/"
    input_format  = local.parquet.input_format
    output_format = local.parquet.output_format
    ser_de_info {
      serialization_library = local.parquet.serde
    }
    dynamic "columns" {
      for_each = each.value.columns
      content {
        name    = columns.value.name
        type    = columns.value.type
        comment = columns.value.comment
      }
    }
  }
}

resource "aws_glue_catalog_table" "quarantined_trips" {
  name          = local.contract.quarantine_table.name
  database_name = aws_glue_catalog_database.lake.name
  table_type    = "EXTERNAL_TABLE"
  parameters    = { classification = "parquet", EXTERNAL = "TRUE" }

  # Every dataset's quarantine folders are partitions of one table: each partition has its location.
  dynamic "partition_keys" {
    for_each = local.contract.quarantine_table.partition_keys
    content {
      name    = partition_keys.value.name
      type    = partition_keys.value.type
      comment = partition_keys.value.comment
    }
  }

  storage_descriptor {
    location      = "s3://${var.buckets["quarantine"]}/"
    input_format  = local.parquet.input_format
    output_format = local.parquet.output_format
    ser_de_info {
      serialization_library = local.parquet.serde
    }
    dynamic "columns" {
      for_each = local.contract.quarantine_table.columns
      content {
        name    = columns.value.name
        type    = columns.value.type
        comment = columns.value.comment
      }
    }
  }
}

resource "aws_glue_catalog_table" "partition_loads" {
  name          = local.contract.load_log_table.name
  database_name = aws_glue_catalog_database.lake.name
  table_type    = "EXTERNAL_TABLE"
  description   = "One row per ingested file: the job's manifests (one JSON object per line), named as in the contract."
  parameters    = { classification = "json", EXTERNAL = "TRUE" }

  storage_descriptor {
    location      = "s3://${var.buckets["lake"]}/${local.contract.load_log_table.location_suffix}"
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    ser_de_info {
      serialization_library = "org.openx.data.jsonserde.JsonSerDe"
      parameters            = local.contract.load_log_table.serde_mapping
    }
    dynamic "columns" {
      for_each = local.contract.load_log_table.columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}
