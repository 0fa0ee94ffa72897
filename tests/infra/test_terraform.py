"""infra/: formatted, valid against the real AWS provider schema, and checkov-clean.

`terraform validate` needs the hashicorp/aws provider. The registry is out of reach here, so the
test looks for a local filesystem mirror of hashicorp/aws 5.x and initialises with -plugin-dir. No
terraform or no mirror: a skip saying so (a failure under CI, which has both).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestration.aws import glue_package
from tests.infra.iam_policy import decide
from tests.infra.terraform_tools import ENVS, INFRA, aws_provider_mirror, terraform_binary, terraform_env
from tests.orchestration.tools import CHECKOV, REPO_ROOT, require


def test_terraform_fmt(tmp_path) -> None:
    terraform = terraform_binary()
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(INFRA)],
        capture_output=True,
        text=True,
        env=terraform_env(tmp_path),
        timeout=60,
    )
    assert result.returncode == 0, "run `terraform fmt -recursive infra`:\n" + result.stdout + result.stderr


def _env_copy(env: str, tmp_path: Path) -> tuple[Path, Callable[..., subprocess.CompletedProcess]]:
    """A copy of infra/ (so init's .terraform/ and lock file never land in the work tree; the state machine
    template comes along because the pipeline module reads it by relative path) and a terraform runner in
    its envs/<env>."""
    terraform = terraform_binary()
    work = tmp_path / "repo"
    shutil.copytree(INFRA, work / "infra", ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl"))
    (work / "orchestration" / "aws").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "orchestration" / "aws" / "state_machine.asl.json", work / "orchestration" / "aws")
    env_dir = work / "infra" / "envs" / env
    run_env = terraform_env(tmp_path)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([terraform, *args], cwd=env_dir, capture_output=True, text=True, env=run_env, timeout=300)

    return env_dir, run


@pytest.mark.parametrize("env", ENVS)
def test_terraform_validate(env: str, tmp_path) -> None:
    mirror = aws_provider_mirror()
    env_dir, run = _env_copy(env, tmp_path)
    init = run("init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={mirror}")
    assert init.returncode == 0, init.stdout + init.stderr
    validate = run("validate", "-json", "-no-color")
    report = json.loads(validate.stdout)
    assert report["valid"], json.dumps(report["diagnostics"], indent=1)
    assert report["error_count"] == 0

    # validate does not build the plan's dependency graph; `terraform graph -type=plan` does, offline, and
    # fails on a cycle (the warehouse and dbt_runner modules read each other's outputs). It needs an
    # initialised backend: a local one, through an override file in this copy only.
    (env_dir / "zz_offline_backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    reinit = run("init", "-reconfigure", "-input=false", "-no-color", f"-plugin-dir={mirror}")
    assert reinit.returncode == 0, reinit.stdout + reinit.stderr
    graph = run("graph", "-type=plan", "-no-color")
    assert graph.returncode == 0, graph.stderr
    assert "aws_redshiftdata_statement.dbt_user" in graph.stdout


# Redshift Serverless and ECS Container Insights write to log groups they name themselves, and create them
# when they do not exist: no KMS key, no retention. "A log group with the specified name exists. Redshift
# exports log data using the existing log group." ("Audit logging for Amazon Redshift Serverless",
# https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-audit-logging.html). So Terraform creates ours
# (tests/infra/test_log_groups.py) before the namespace and the cluster that would write to them.
CREATED_AFTER_THEIR_LOG_GROUPS = {
    "module.platform.module.warehouse.aws_redshiftserverless_namespace.this": (
        "module.platform.module.warehouse.aws_cloudwatch_log_group.audit"
    ),
    "module.platform.module.dbt_runner.aws_ecs_cluster.this": (
        "module.platform.module.dbt_runner.aws_cloudwatch_log_group.container_insights"
    ),
}
# `"[root] A (expand)" -> "[root] B (expand)"`: A waits for B (a provider or a variable node may lack "(expand)").
GRAPH_EDGE = re.compile(r'"\[root\] ([^"]+) \(expand\)" -> "\[root\] ([^"]+?)(?: \(expand\))?"')


def test_services_that_name_their_own_log_groups_are_created_after_them(tmp_path) -> None:
    """On the plan's dependency graph (`terraform graph -type=plan`, offline): an edge A -> B is A waiting for B."""
    mirror = aws_provider_mirror()
    env_dir, run = _env_copy("dev", tmp_path)
    (env_dir / "zz_offline_backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
    init = run("init", "-input=false", "-no-color", f"-plugin-dir={mirror}")
    assert init.returncode == 0, init.stdout + init.stderr
    graph = run("graph", "-type=plan", "-no-color")
    assert graph.returncode == 0, graph.stderr
    waits_for: dict[str, set[str]] = {}
    for node, dependency in GRAPH_EDGE.findall(graph.stdout):
        waits_for.setdefault(node, set()).add(dependency)

    def reaches(node: str, target: str) -> bool:
        seen, todo = set(), [node]
        while todo:
            current = todo.pop()
            if current == target:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(waits_for.get(current, ()))
        return False

    for resource, log_group in CREATED_AFTER_THEIR_LOG_GROUPS.items():
        assert resource in waits_for, f"{resource} is not in the plan's graph"
        assert reaches(resource, log_group), f"{resource} does not wait for {log_group}"


def test_checkov_passes_with_every_skip_justified() -> None:
    checkov = require(CHECKOV, "checkov")
    result = subprocess.run(
        [str(checkov), "-d", str(INFRA), "--framework", "terraform", "--quiet", "--compact", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [check for r in reports for check in r["results"]["failed_checks"]]
    assert failed == [], "\n".join(f"{c['check_id']} {c['resource']} {c['file_path']}" for c in failed)
    assert sum(r["summary"]["passed"] for r in reports) > 300


def test_every_checkov_skip_says_why() -> None:
    skips = []
    for path in INFRA.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                skips.append((path.relative_to(REPO_ROOT), line.strip()))
    assert skips, "expected a few justified skips"
    for path, line in skips:
        match = re.fullmatch(r"#checkov:skip=(CKV2?_AWS_\d+):(.+)", line)
        assert match and len(match.group(2).split()) >= 6, f"{path}: skip without a reason: {line}"


def test_no_wildcard_action_on_wildcard_resource() -> None:
    """IAM is scoped per service: no "*" action anywhere; service-wide wildcards only where expected."""
    allowed = {
        ("storage/kms.tf", "kms:*"),  # the key policy's delegation to this account's IAM (principal: root)
        ("bucket/main.tf", "s3:*"),  # Deny statements: TLS-only bucket policy
    }
    found = set()
    for path in (INFRA / "modules").rglob("*.tf"):
        text = path.read_text()
        assert not re.search(r'actions\s*=\s*\[[^\]]*"\*"', text), f"{path}: an action of '*'"
        assert not re.search(r'Action\s*=\s*"\*"', text), f"{path}: an action of '*'"
        for action in re.findall(r'"([a-z0-9-]+:\*)"', text):
            found.add((str(path.relative_to(INFRA / "modules")), action))
    assert found <= allowed, f"service-wide wildcard actions: {sorted(found - allowed)}"


def test_deploy_instructions_match_the_code() -> None:
    """infra/README.md's commands name outputs, variables, targets and files that exist."""
    readme = (INFRA / "README.md").read_text()

    def names(kind: str, path: Path) -> set[str]:
        return set(re.findall(rf'^{kind} "(\w+)"', path.read_text(), re.MULTILINE))

    platform = INFRA / "modules" / "platform"
    used_outputs = re.findall(r"output -raw (\w+)", readme)
    assert {"success_topic_arn", "failure_topic_arn"} <= set(used_outputs)
    assert not re.search(r"output (-raw )?\w+ \w+`", readme), "terraform output takes one name"
    used_variables = re.findall(r'-var [\'"](\w+)=', readme)
    for env in ENVS:
        outputs = names("output", INFRA / "envs" / env / "outputs.tf")
        variables = names("variable", INFRA / "envs" / env / "variables.tf")
        assert outputs == names("output", platform / "outputs.tf"), f"envs/{env} forwards other outputs"
        for name in used_outputs:
            assert name in outputs, f"README uses output {name} (envs/{env})"
        for name in used_variables:
            assert name in variables, f"README sets variable {name} (envs/{env})"
        assert 'module "platform"' in (INFRA / "envs" / env / "main.tf").read_text()
    target = "-target=module.platform.module.dbt_runner.aws_ecr_repository.dbt"
    assert target in readme and target in (REPO_ROOT / "README.md").read_text()
    assert 'module "dbt_runner"' in (platform / "main.tf").read_text()
    assert 'resource "aws_ecr_repository" "dbt"' in (INFRA / "modules" / "dbt_runner" / "main.tf").read_text()
    assert (REPO_ROOT / "orchestration" / "container" / "Dockerfile").is_file()
    assert "-f orchestration/container/Dockerfile" in readme
    # The package path is relative to the root module's folder; every env is at infra/envs/<env>.
    assert f'"../../../{glue_package.DEFAULT_OUTPUT}"' in (platform / "variables.tf").read_text()
    assert "python3 -m orchestration.aws.glue_package" in readme
    assert sorted(p.name for p in (INFRA / "envs").iterdir() if p.is_dir()) == sorted(ENVS)


# The landing bucket's default encryption is SSE-KMS with the platform key: "To upload or download an object
# encrypted with an AWS KMS key to or from Amazon S3, you need kms:GenerateDataKey and kms:Decrypt permissions
# on the key." ("Using server-side encryption with AWS KMS keys (SSE-KMS)",
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html). The state machine is encrypted
# with the same key: "If your state machine definition is encrypted with a KMS key, callers must have
# kms:Decrypt permission" ("DescribeExecution", includedData,
# https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html), and starting an
# execution needs the key too (modules/pipeline/triggers.tf, the EventBridge role).
def test_the_readme_gives_uploaders_and_operators_the_key_permissions() -> None:
    readme = (INFRA / "README.md").read_text()
    section = readme.split("\n## Trigger by upload\n", 1)[1].split("\n## ", 1)[0]
    assert "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html" in section
    assert "KEY=$(terraform -chdir=infra/envs/dev output -raw kms_key_arn)" in section
    heredoc = re.search(r"<<JSON\n(.*?)\nJSON\n", section, re.S)
    assert heredoc, "'Trigger by upload' gives no policy for whoever uploads and operates"
    region, account = "us-east-1", "123456789012"
    key = f"arn:aws:kms:{region}:{account}:key/00000000-0000-0000-0000-000000000000"
    landing = "tlc-dev-landing-0123"
    machine = f"arn:aws:states:{region}:{account}:stateMachine:tlc-dev-pipeline"
    # The shell fills the heredoc: $LANDING, $KEY, $MACHINE, and ${MACHINE/:stateMachine:/:execution:}.
    policy = (
        heredoc.group(1)
        .replace("${MACHINE/:stateMachine:/:execution:}", machine.replace(":stateMachine:", ":execution:"))
        .replace("$LANDING", landing)
        .replace("$KEY", key)
        .replace("$MACHINE", machine)
    )
    json.loads(policy)
    execution = f"arn:aws:states:{region}:{account}:execution:tlc-dev-pipeline:manual-1"
    allowed = [
        ("s3:PutObject", f"arn:aws:s3:::{landing}/landing/yellow_tripdata_2024-01.parquet"),
        ("kms:GenerateDataKey", key),  # PutObject, CreateMultipartUpload; StartExecution
        ("kms:Decrypt", key),  # UploadPart of a multipart upload; reading an execution
        ("states:StartExecution", machine),
        ("states:ListExecutions", machine),
        ("states:DescribeExecution", execution),
        ("states:GetExecutionHistory", execution),
    ]
    for action, resource in allowed:
        assert decide([policy], action, resource) == "allow", (
            f"the README's policy does not allow {action} on {resource}"
        )
    assert decide([policy], "s3:PutObject", f"arn:aws:s3:::{landing}/elsewhere/notes.txt") != "allow"
    assert decide([policy], "kms:Decrypt", key.replace("00000000-", "11111111-")) != "allow"


# Availability Zones by ID. A zone's name (us-east-1a) maps to a different physical zone in each account
# created before November 2025; its AZ ID (use1-az1) is the same location in every account ("AWS
# Availability Zones", https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-availability-zones.html).
# Redshift Serverless takes subnets whose AZ IDs it supports, in three AZs with enhanced VPC routing
# ("Considerations when using Amazon Redshift Serverless",
# https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-usage-considerations.html).
def test_subnets_are_placed_by_availability_zone_id() -> None:
    blocks = [
        (path, block)
        for path in INFRA.rglob("*.tf")
        for block in re.findall(r'^resource "aws_subnet" "\w+" \{.*?^\}', path.read_text(), re.S | re.M)
    ]
    assert blocks, "no aws_subnet in infra/"
    for path, block in blocks:
        assert not re.search(r"^\s*availability_zone\s*=", block, re.M), f"{path}: a subnet placed by AZ name"
        assert re.search(r"^\s*availability_zone_id\s*=", block, re.M), f"{path}: a subnet without an AZ ID"


# Every module test plans against a mocked provider; policy documents render as empty policies.
MOCKED_AWS = """mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\\"Version\\": \\"2012-10-17\\", \\"Statement\\": []}"
    }
  }
}
"""


def terraform_test_of_module(module_name: str, test_file: str, tmp_path: Path) -> str:
    """`terraform test` of a copy of infra/modules/<module_name> with `test_file` as its one test file, under
    MOCKED_AWS (no apply); returns its output after asserting it passed."""
    terraform = terraform_binary()
    module = tmp_path / module_name
    shutil.copytree(INFRA / "modules" / module_name, module, ignore=shutil.ignore_patterns(".terraform*"))
    (module / "tests").mkdir()
    (module / "tests" / "module.tftest.hcl").write_text(MOCKED_AWS + test_file)
    run_env = terraform_env(tmp_path)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([terraform, *args], cwd=module, capture_output=True, text=True, env=run_env, timeout=300)

    init = run("init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={aws_provider_mirror()}")
    assert init.returncode == 0, init.stdout + init.stderr
    tested = run("test", "-no-color")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    return tested.stdout


NETWORK_TEST = """
variables {
  name        = "tlc-test"
  kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
}

run "three_az_ids_place_three_subnets" {
  command = plan
  variables {
    availability_zone_ids = ["use1-az1", "use1-az2", "use1-az4"]
  }
  assert {
    condition     = aws_subnet.private[*].availability_zone_id == ["use1-az1", "use1-az2", "use1-az4"]
    error_message = "the subnets are not in the AZ IDs asked for"
  }
}

run "az_names_are_refused" {
  command = plan
  variables {
    availability_zone_ids = ["us-east-1a", "us-east-1b", "us-east-1c"]
  }
  expect_failures = [var.availability_zone_ids]
}

run "two_az_ids_are_refused" {
  command = plan
  variables {
    availability_zone_ids = ["use1-az1", "use1-az2"]
  }
  expect_failures = [var.availability_zone_ids]
}

run "a_repeated_az_id_is_refused" {
  command = plan
  variables {
    availability_zone_ids = ["use1-az1", "use1-az2", "use1-az1"]
  }
  expect_failures = [var.availability_zone_ids]
}
"""


def test_the_network_module_takes_three_distinct_az_ids_and_refuses_names(tmp_path) -> None:
    """`terraform test` on a copy of infra/modules/network with a mocked provider: three distinct AZ IDs place
    one subnet in each, AZ names, two zones and a repeated zone are refused by the variable's validation."""
    tested = terraform_test_of_module("network", NETWORK_TEST, tmp_path)
    assert "4 passed, 0 failed" in tested, tested


WAREHOUSE_TEST = """
variables {
  name                   = "tlc-test"
  kms_key_arn            = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
  vpc_id                 = "vpc-0123456789abcdef0"
  subnet_ids             = ["subnet-0000000000000000a", "subnet-0000000000000000b", "subnet-0000000000000000c"]
  vpc_cidr_block         = "10.40.0.0/16"
  s3_prefix_list_id      = "pl-63a5400a"
  client_security_groups = { dbt = "sg-0123456789abcdef0" }
  bucket_arns            = { lake = "arn:aws:s3:::tlc-test-lake", quarantine = "arn:aws:s3:::tlc-test-quarantine" }
  glue_database_name     = "tlc_test_lake"
  glue_catalog_arn       = "arn:aws:glue:us-east-1:123456789012:catalog"
  glue_database_arn      = "arn:aws:glue:us-east-1:123456789012:database/tlc_test_lake"
  glue_tables_arn        = "arn:aws:glue:us-east-1:123456789012:table/tlc_test_lake/*"
  dbt_iam_role_name      = "tlc-test-dbt-task"
  log_retention_days     = 90
}

run "each_exported_audit_log_has_its_log_group_here" {
  command = plan
  assert {
    condition     = length(aws_redshiftserverless_namespace.this.log_exports) == 3
    error_message = "the namespace exports userlog, connectionlog and useractivitylog"
  }
  assert {
    condition = toset([for log_type in aws_redshiftserverless_namespace.this.log_exports :
      "/aws/redshift/${aws_redshiftserverless_namespace.this.namespace_name}/${log_type}"
    ]) == toset([for group in aws_cloudwatch_log_group.audit : group.name])
    error_message = "the log groups are not the /aws/redshift/<namespace>/<log_type> groups the namespace exports to"
  }
  assert {
    condition = alltrue([for group in aws_cloudwatch_log_group.audit :
      group.kms_key_id == var.kms_key_arn && group.retention_in_days == var.log_retention_days
    ])
    error_message = "an audit log group is not under the platform key or has no retention"
  }
}
"""


def test_the_warehouse_audit_log_groups_are_those_the_planned_namespace_exports_to(tmp_path) -> None:
    """`terraform test` on a copy of infra/modules/warehouse with a mocked provider (the deploy rehearsal cannot
    create a namespace): the namespace as planned, its name and log exports, against the module's log groups.
    Names: "/aws/redshift/<namespace>/<log_type>" ("Audit logging for Amazon Redshift Serverless",
    https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-audit-logging.html)."""
    tested = terraform_test_of_module("warehouse", WAREHOUSE_TEST, tmp_path)
    assert "1 passed, 0 failed" in tested, tested
