# The namespace's audit logs (connections, user changes, every query's text) go to CloudWatch Logs, to
# "/aws/redshift/<namespace>/<log_type>". Redshift creates that group when it does not exist, without a KMS
# key or a retention; "A log group with the specified name exists. Redshift exports log data using the
# existing log group." ("Audit logging for Amazon Redshift Serverless",
# https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-audit-logging.html). So the groups are made
# here, under the platform key and with the platform's retention, and the namespace (main.tf) waits for them.
# Apart from main.tf so the deploy rehearsal, which cannot create the namespace, creates them
# (tests/infra/rehearsal.py).
locals {
  namespace_name    = var.name
  audit_log_exports = toset(["userlog", "connectionlog", "useractivitylog"])
}

resource "aws_cloudwatch_log_group" "audit" {
  for_each          = local.audit_log_exports
  name              = "/aws/redshift/${local.namespace_name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}
