# dbt's own Redshift user (sql/dbt_user.sql), so the dbt task never connects as the namespace admin.
#
# The user is "IAMR:<dbt task role name>": the identity Redshift Serverless gives that role when it calls
# redshift-serverless:GetCredentials (the dbt runner's task role may call it on this workgroup only).
# The SQL runs here, at apply time, through the Redshift Data API as the admin (its Redshift-managed
# secret, read by the identity running terraform apply); nothing of it reaches the dbt task.
#
# One Data API call runs one statement, so the file is cut at its semicolons (after dropping comment
# lines). The CREATE USER statement runs first, alone; the others are idempotent, independent of one
# another (each touches a different object) and run after it and after the Spectrum schema exists.
#
# aws_redshiftdata_statement re-reads a statement from the Data API, which forgets it after about a day;
# the provider then sees an empty statement and would run it again on the next apply (and CREATE USER
# would fail: hashicorp/terraform-provider-aws#37301). So each statement ignores its own drift and is
# replaced only when its terraform_data trigger changes: the SQL itself, or the namespace (a new
# namespace is a new database that needs its user again).

locals {
  spectrum_schema     = "spectrum"
  spectrum_schema_sql = "create external schema if not exists ${local.spectrum_schema} from data catalog database '${var.glue_database_name}' iam_role '${aws_iam_role.spectrum.arn}'"

  dbt_user = "IAMR:${var.dbt_iam_role_name}"

  # Statements of the file as written (for the keys: known at plan time whatever the names are) ...
  dbt_user_sql_template = file("${path.module}/sql/dbt_user.sql")
  dbt_user_template_statements = [
    for s in split(";", join("\n", [for line in split("\n", local.dbt_user_sql_template) : line if !startswith(trimspace(line), "--")])) :
    trimspace(s) if trimspace(s) != ""
  ]
  # ... and as sent, with this environment's names.
  dbt_user_sql = templatefile("${path.module}/sql/dbt_user.sql", {
    dbt_user        = local.dbt_user
    database        = aws_redshiftserverless_namespace.this.db_name
    dbt_schema      = var.dbt_schema
    spectrum_schema = local.spectrum_schema
  })
  dbt_user_statements = [
    for s in split(";", join("\n", [for line in split("\n", local.dbt_user_sql) : line if !startswith(trimspace(line), "--")])) :
    trimspace(s) if trimspace(s) != ""
  ]
  dbt_user_grants = { for i in range(1, length(local.dbt_user_template_statements)) : format("%02d", i) => i }
}

resource "terraform_data" "dbt_user" {
  triggers_replace = [aws_redshiftserverless_namespace.this.namespace_id, local.dbt_user_statements[0]]
}

resource "aws_redshiftdata_statement" "dbt_user" {
  workgroup_name = aws_redshiftserverless_workgroup.this.workgroup_name
  database       = aws_redshiftserverless_namespace.this.db_name
  secret_arn     = aws_redshiftserverless_namespace.this.admin_password_secret_arn
  statement_name = "${var.name}-dbt-user"
  sql            = local.dbt_user_statements[0]

  lifecycle {
    precondition {
      condition     = startswith(local.dbt_user_template_statements[0], "create user ")
      error_message = "sql/dbt_user.sql must start with its CREATE USER statement."
    }
    ignore_changes       = all
    replace_triggered_by = [terraform_data.dbt_user]
  }
}

resource "terraform_data" "dbt_user_grants" {
  triggers_replace = [aws_redshiftserverless_namespace.this.namespace_id, local.dbt_user_statements]
}

resource "aws_redshiftdata_statement" "dbt_user_grants" {
  for_each       = local.dbt_user_grants
  workgroup_name = aws_redshiftserverless_workgroup.this.workgroup_name
  database       = aws_redshiftserverless_namespace.this.db_name
  secret_arn     = aws_redshiftserverless_namespace.this.admin_password_secret_arn
  statement_name = "${var.name}-dbt-user-${each.key}"
  sql            = local.dbt_user_statements[each.value]

  depends_on = [aws_redshiftdata_statement.dbt_user, aws_redshiftdata_statement.spectrum_schema]

  lifecycle {
    ignore_changes       = all
    replace_triggered_by = [terraform_data.dbt_user_grants]
  }
}
