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
from pathlib import Path

import pytest

from orchestration.aws import glue_package
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


@pytest.mark.parametrize("env", ENVS)
def test_terraform_validate(env: str, tmp_path) -> None:
    terraform = terraform_binary()
    mirror = aws_provider_mirror()
    # A copy, so init's .terraform/ and lock file never land in the work tree; the state machine
    # template comes along because the pipeline module reads it by relative path.
    work = tmp_path / "repo"
    shutil.copytree(INFRA, work / "infra", ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl"))
    (work / "orchestration" / "aws").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "orchestration" / "aws" / "state_machine.asl.json", work / "orchestration" / "aws")
    env_dir = work / "infra" / "envs" / env
    run_env = terraform_env(tmp_path)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([terraform, *args], cwd=env_dir, capture_output=True, text=True, env=run_env, timeout=300)

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


NETWORK_TEST = """
mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\\"Version\\": \\"2012-10-17\\", \\"Statement\\": []}"
    }
  }
}

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
    terraform = terraform_binary()
    mirror = aws_provider_mirror()
    module = tmp_path / "network"
    shutil.copytree(INFRA / "modules" / "network", module, ignore=shutil.ignore_patterns(".terraform*"))
    (module / "tests").mkdir()
    (module / "tests" / "availability_zones.tftest.hcl").write_text(NETWORK_TEST)
    run_env = terraform_env(tmp_path)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([terraform, *args], cwd=module, capture_output=True, text=True, env=run_env, timeout=300)

    init = run("init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={mirror}")
    assert init.returncode == 0, init.stdout + init.stderr
    tested = run("test", "-no-color")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "4 passed, 0 failed" in tested.stdout, tested.stdout
