# The Glue Data Catalog that Redshift Spectrum reads (external schema `spectrum`), as in
# docs/data_contracts.md section 3. The state machine's RegisterPartitions adds each month the
# job writes; `partition_loads` reads the job's manifests directly.
locals {
  decimal = "decimal(12,2)"
  trip_columns = [
    { name = "trip_key", type = "string" },
    { name = "service", type = "string" },
    { name = "vendor_id", type = "int" },
    { name = "pickup_at", type = "timestamp" },
    { name = "dropoff_at", type = "timestamp" },
    { name = "passenger_count", type = "int" },
    { name = "trip_distance", type = "double" },
    { name = "rate_code_id", type = "int" },
    { name = "store_and_fwd_flag", type = "string" },
    { name = "pickup_location_id", type = "int" },
    { name = "dropoff_location_id", type = "int" },
    { name = "payment_type", type = "int" },
    { name = "fare_amount", type = local.decimal },
    { name = "extra", type = local.decimal },
    { name = "mta_tax", type = local.decimal },
    { name = "tip_amount", type = local.decimal },
    { name = "tolls_amount", type = local.decimal },
    { name = "improvement_surcharge", type = local.decimal },
    { name = "total_amount", type = local.decimal },
    { name = "congestion_surcharge", type = local.decimal },
    { name = "airport_fee", type = local.decimal },
    { name = "cbd_congestion_fee", type = local.decimal },
    { name = "ehail_fee", type = local.decimal },
    { name = "trip_type", type = "int" },
    { name = "source_file", type = "string" },
    { name = "source_row", type = "bigint" },
  ]
  quarantine_columns = concat(local.trip_columns, [
    { name = "reason_code", type = "string" },
    { name = "reason", type = "string" },
    { name = "raw_record", type = "string" },
  ])
  parquet = {
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    serde         = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
  }
  trip_tables = {
    yellow_trips = "s3://${var.buckets["lake"]}/yellow_trips/"
    green_trips  = "s3://${var.buckets["lake"]}/green_trips/"
  }
}

resource "aws_glue_catalog_database" "lake" {
  name        = replace("${var.name}_lake", "-", "_")
  description = "TLC lake (${var.name}): accepted and quarantined trips, read by Redshift Spectrum"
}

resource "aws_glue_catalog_table" "trips" {
  for_each      = local.trip_tables
  name          = each.key
  database_name = aws_glue_catalog_database.lake.name
  table_type    = "EXTERNAL_TABLE"
  parameters    = { classification = "parquet", EXTERNAL = "TRUE" }

  partition_keys {
    name = "year"
    type = "int"
  }
  partition_keys {
    name = "month"
    type = "int"
  }

  storage_descriptor {
    location      = each.value
    input_format  = local.parquet.input_format
    output_format = local.parquet.output_format
    ser_de_info {
      serialization_library = local.parquet.serde
    }
    dynamic "columns" {
      for_each = local.trip_columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

resource "aws_glue_catalog_table" "quarantined_trips" {
  name          = "quarantined_trips"
  database_name = aws_glue_catalog_database.lake.name
  table_type    = "EXTERNAL_TABLE"
  parameters    = { classification = "parquet", EXTERNAL = "TRUE" }

  # Both services' quarantine folders are partitions of one table: each partition has its location.
  partition_keys {
    name = "service"
    type = "string"
  }
  partition_keys {
    name = "year"
    type = "int"
  }
  partition_keys {
    name = "month"
    type = "int"
  }

  storage_descriptor {
    location      = "s3://${var.buckets["quarantine"]}/"
    input_format  = local.parquet.input_format
    output_format = local.parquet.output_format
    ser_de_info {
      serialization_library = local.parquet.serde
    }
    dynamic "columns" {
      for_each = [for c in local.quarantine_columns : c if c.name != "service"]
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

resource "aws_glue_catalog_table" "partition_loads" {
  name          = "partition_loads"
  database_name = aws_glue_catalog_database.lake.name
  table_type    = "EXTERNAL_TABLE"
  description   = "One row per ingested file: the job's manifests (_manifests/*.json), named as in the contract."
  parameters    = { classification = "json", EXTERNAL = "TRUE" }

  storage_descriptor {
    location      = "s3://${var.buckets["lake"]}/_manifests/"
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
    ser_de_info {
      serialization_library = "org.openx.data.jsonserde.JsonSerDe"
      parameters = {
        "mapping.row_count" = "rows_accepted"
        "mapping.loaded_at" = "ingested_at"
      }
    }
    columns {
      name = "service"
      type = "string"
    }
    columns {
      name = "year"
      type = "int"
    }
    columns {
      name = "month"
      type = "int"
    }
    columns {
      name = "source_file"
      type = "string"
    }
    columns {
      name = "sha256"
      type = "string"
    }
    columns {
      name = "row_count"
      type = "bigint"
    }
    columns {
      name = "loaded_at"
      type = "timestamp"
    }
  }
}
