output "kms_key_arn" {
  value = aws_kms_key.data.arn
}

output "bucket_names" {
  description = "landing, lake, quarantine, archive, artifacts, logs"
  value       = { for role, bucket in local.buckets : role => bucket.id }
}

output "bucket_arns" {
  value = { for role, bucket in local.buckets : role => bucket.arn }
}
