# The state machine's locks: one item per lake partition being written ("partition#yellow_tripdata_2024-01")
# and one for the dbt build ("transform"), each naming the execution that holds it.
resource "aws_dynamodb_table" "locks" {
  name         = "${var.name}-pipeline-locks"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "lock_id"

  attribute {
    name = "lock_id"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  deletion_protection_enabled = true
}
