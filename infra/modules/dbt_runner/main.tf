# The dbt container on Fargate: ECR repository, cluster, task definition, its roles and logs.
data "aws_region" "current" {}

locals {
  container_name = "dbt"
}

resource "aws_ecr_repository" "dbt" {
  name                 = "${var.name}-dbt"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }
}

resource "aws_ecr_lifecycle_policy" "dbt" {
  repository = aws_ecr_repository.dbt.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the 30 newest images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 30 }
      action       = { type = "expire" }
    }]
  })
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  depends_on = [aws_cloudwatch_log_group.container_insights]
}

# Container Insights writes the cluster's performance log events to
# "/aws/ecs/containerinsights/<cluster name>/performance" ("Container Insights performance log events for
# Amazon ECS", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-reference-performance-logs-ECS.html)
# and creates that group itself when it is missing ("When you deploy Container Insights, it automatically
# creates a log group for the performance log events", "Container Insights performance log reference",
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-reference.html), with
# no KMS key and no retention. Made here first, under the platform key, with the platform's retention.
resource "aws_cloudwatch_log_group" "container_insights" {
  name              = "/aws/ecs/containerinsights/${var.name}/performance"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_cloudwatch_log_group" "dbt" {
  name              = "/ecs/${var.name}/dbt"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_security_group" "dbt" {
  #checkov:skip=CKV2_AWS_5:Attached at run time: the state machine's Transform state passes it in RunTask's network configuration.
  name        = "${var.name}-dbt-task"
  description = "The dbt task: no inbound; out to Redshift and the AWS endpoints only"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-dbt-task" }
}

resource "aws_vpc_security_group_egress_rule" "dbt_to_endpoints" {
  security_group_id = aws_security_group.dbt.id
  description       = "HTTPS to the interface endpoints (ECR, Logs, STS, Secrets Manager)"
  cidr_ipv4         = var.vpc_cidr_block
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "dbt_to_s3" {
  security_group_id = aws_security_group.dbt.id
  description       = "HTTPS to S3 through the gateway endpoint (image layers, artifacts)"
  prefix_list_id    = var.s3_prefix_list_id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "dbt_to_redshift" {
  security_group_id = aws_security_group.dbt.id
  description       = "Redshift Serverless inside the VPC"
  cidr_ipv4         = var.vpc_cidr_block
  ip_protocol       = "tcp"
  from_port         = var.redshift_port
  to_port           = var.redshift_port
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# Execution role: what ECS itself needs to start the task (pull the image, write logs).
resource "aws_iam_role" "execution" {
  name               = "${var.name}-dbt-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource type
  }
  statement {
    sid       = "PullTheDbtImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [aws_ecr_repository.dbt.arn]
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.dbt.arn}:*"]
  }
  statement {
    sid       = "DecryptImage"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "start-dbt-task"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# Task role: what dbt's entrypoint does (sign in to Redshift as its own user, upload artifacts). It reads
# no secret: GetCredentials on this one workgroup returns a temporary password for the database user
# "IAMR:<this role's name>", which the warehouse module created with dbt's grants only.
resource "aws_iam_role" "task" {
  name               = "${var.name}-dbt-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "SignInAsTheDbtUser"
    actions   = ["redshift-serverless:GetCredentials"]
    resources = [var.redshift_workgroup_arn]
  }
  statement {
    sid       = "UploadArtifacts"
    actions   = ["s3:PutObject"]
    resources = ["${var.bucket_arns["artifacts"]}/dbt/runs/*"]
  }
  statement {
    sid       = "Key"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "dbt-build"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

resource "aws_ecs_task_definition" "dbt" {
  family                   = "${var.name}-dbt"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "scratch"
  }

  container_definitions = jsonencode([{
    name                   = local.container_name
    image                  = "${aws_ecr_repository.dbt.repository_url}:${var.image_tag}"
    essential              = true
    readonlyRootFilesystem = true
    user                   = "10001:10001"
    command                = ["build"]
    mountPoints            = [{ sourceVolume = "scratch", containerPath = "/scratch", readOnly = false }]
    environment = [
      { name = "DBT_TARGET", value = "prod" },
      { name = "DBT_VARS", value = "{}" },
      { name = "REDSHIFT_HOST", value = var.redshift_host },
      { name = "REDSHIFT_PORT", value = tostring(var.redshift_port) },
      { name = "REDSHIFT_DATABASE", value = var.redshift_database },
      { name = "REDSHIFT_AUTH_METHOD", value = "iam" },
      { name = "REDSHIFT_WORKGROUP", value = var.redshift_workgroup_name },
      { name = "DBT_SCHEMA", value = var.dbt_schema },
      { name = "SCRATCH_DIR", value = "/scratch" },
      # dbt stops itself 10 minutes before the state machine's Transform state times out (7200 s): Step
      # Functions does not stop a task whose state timed out, and the failure path then releases the
      # transform lock. tests/infra/test_dbt_image.py checks the two against each other.
      { name = "DBT_TIMEOUT_SECONDS", value = "6600" },
      { name = "AWS_REGION", value = data.aws_region.current.name },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.dbt.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "dbt"
      }
    }
  }])
}
