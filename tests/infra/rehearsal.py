"""The deploy rehearsal: `terraform apply` of infra/envs/dev against moto's server, in a throw-away copy.

What it catches that `terraform validate` cannot: values only known at apply (count/for_each on unknown
values, a provider's own cross-argument checks), the order resources are created in (a bucket logging to
a bucket whose policy is not there yet), policy documents, names and references as AWS APIs receive them.
What it cannot do is listed in NOT_REHEARSED (moto has no API for them) and in infra/README.md.

The copy gets two test-only files and loses three:
- envs/dev/zz_rehearsal_override.tf: the provider talks to moto over HTTPS (the buckets deny plain HTTP),
  with fake credentials; state is local.
- modules/warehouse: main.tf and dbt_user.tf (Redshift Serverless and the Redshift Data API statements
  run against it) are left out, and outputs.tf is replaced by placeholders for the outputs only Redshift
  Serverless knows (its endpoint and ARN). access.tf (Spectrum's role, the workgroup's security group and
  its rules) and logs.tf (the audit logs' log groups) are applied as they are.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestration.aws import glue_package
from tests.orchestration.tools import REPO_ROOT

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's account
ENV = "dev"

# What moto cannot create: the Redshift Serverless namespace and workgroup (moto has no
# redshift-serverless API: the provider would retry its calls for 20 minutes) and what runs SQL on them.
NOT_REHEARSED_FILES = ("modules/warehouse/main.tf", "modules/warehouse/dbt_user.tf")
NOT_REHEARSED = {
    "aws_redshiftserverless_namespace.this": "no Redshift Serverless API in moto",
    "aws_redshiftserverless_workgroup.this": "no Redshift Serverless API in moto",
    "aws_redshiftdata_statement.spectrum_schema": "SQL run on the workgroup (Data API)",
    "terraform_data.spectrum_schema": "trigger of the statement above",
    "aws_redshiftdata_statement.dbt_user": "SQL run on the workgroup (Data API)",
    "terraform_data.dbt_user": "trigger of the statement above",
    "aws_redshiftdata_statement.dbt_user_grants": "SQL run on the workgroup (Data API)",
    "terraform_data.dbt_user_grants": "trigger of the statement above",
}
# Only what the workgroup itself knows; every other output of the module is computed as the module does.
PLACEHOLDER_OUTPUTS = {
    "endpoint": '"${var.name}.rehearsal.invalid"',
    "port": "5439",
    "database_name": "var.database_name",
    "workgroup_name": "var.name",
    "workgroup_arn": f'"arn:aws:redshift-serverless:{REGION}:{ACCOUNT_ID}:workgroup/${{var.name}}"',
    "dbt_user": '"IAMR:${var.dbt_iam_role_name}"',
    "dbt_schema": "var.dbt_schema",
    "security_group_id": "aws_security_group.redshift.id",
    "spectrum_role_arn": "aws_iam_role.spectrum.arn",
}
# The services the platform's resources and data sources call.
ENDPOINTS = [
    "athena", "cloudwatch", "dynamodb", "ec2", "ecr", "ecs", "events", "glue", "iam", "kms", "logs",
    "s3", "sfn", "sns", "sqs", "sts",
]  # fmt: skip


@dataclass
class Rehearsal:
    work: Path  # the copy of the repository
    env_dir: Path
    endpoint: str
    apply_code: int
    apply_log: str
    state: dict[str, Any]  # `terraform show -json`
    seconds: float

    def errors(self) -> list[str]:
        return re.findall(r"^Error: (.*)$", self.apply_log, flags=re.MULTILINE)

    def resources(self) -> list[dict[str, Any]]:
        """Every resource and data source in the state, with its module address."""
        found: list[dict[str, Any]] = []

        def walk(module: dict[str, Any]) -> None:
            found.extend(module.get("resources", []))
            for child in module.get("child_modules", []):
                walk(child)

        walk(self.state.get("values", {}).get("root_module", {}))
        return found

    def resource(self, address: str) -> dict[str, Any]:
        """One resource's attribute values by its full address (module.platform.module.x.type.name[key])."""
        for found in self.resources():
            if found["address"] == address:
                return found["values"]
        raise KeyError(f"{address} is not in the rehearsal's state")


def copy_repository(work: Path, source: Path = REPO_ROOT) -> Path:
    """What `terraform apply` in infra/envs/dev reads: infra/, the state machine template, the Glue code."""
    shutil.copytree(source / "infra", work / "infra", ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    (work / "orchestration" / "aws").mkdir(parents=True)
    shutil.copy(source / "orchestration" / "aws" / "state_machine.asl.json", work / "orchestration" / "aws")
    shutil.copytree(source / "ingestion", work / "ingestion", ignore=shutil.ignore_patterns("__pycache__"))
    glue_package.build(work / glue_package.DEFAULT_OUTPUT, source_root=work)  # README step 2
    return work / "infra" / "envs" / ENV


def _outputs_file(warehouse: Path) -> str:
    declared = re.findall(r'^output "(\w+)"', (warehouse / "outputs.tf").read_text(), flags=re.MULTILINE)
    if sorted(declared) != sorted(PLACEHOLDER_OUTPUTS):
        raise AssertionError(
            f"modules/warehouse/outputs.tf declares {sorted(declared)}; the rehearsal's placeholders "
            f"{sorted(PLACEHOLDER_OUTPUTS)}: update tests/infra/rehearsal.py"
        )
    lines = [f"output {json.dumps(name)} {{ value = {PLACEHOLDER_OUTPUTS[name]} }}" for name in declared]
    return "# Deploy rehearsal only: what Redshift Serverless would tell.\n" + "\n".join(lines) + "\n"


def rehearsal_overrides(env_dir: Path, endpoint: str) -> None:
    """The test-only files of the module docstring, written into the copy."""
    infra = env_dir.parents[1]
    warehouse = infra / "modules" / "warehouse"
    outputs = _outputs_file(warehouse)
    for name in NOT_REHEARSED_FILES:
        text = (infra / name).read_text()
        for address in re.findall(r'^resource "(\w+)" "(\w+)"', text, flags=re.MULTILINE):
            if ".".join(address) not in NOT_REHEARSED:
                raise AssertionError(f"{name} has {'.'.join(address)}: add it to NOT_REHEARSED or move it out")
        (infra / name).unlink()
    (warehouse / "outputs.tf").write_text(outputs)
    endpoints = "\n".join(f'    {service} = "{endpoint}"' for service in ENDPOINTS)
    (env_dir / "zz_rehearsal_override.tf").write_text(
        f"""terraform {{
  backend "local" {{}}
}}

provider "aws" {{
  region                      = "{REGION}"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  insecure                    = true # moto's self-signed certificate
  endpoints {{
{endpoints}
  }}
}}
"""
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server(log: Path, asl_validator: Path):
    """moto's server on a free loopback port over HTTPS (moto_server_for_rehearsal.py); stopped on exit."""
    port = free_port()
    endpoint = f"https://127.0.0.1:{port}"
    script = Path(__file__).with_name("moto_server_for_rehearsal.py")
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, str(script), "-H", "127.0.0.1", "-p", str(port), "-s"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "ASL_VALIDATOR": str(asl_validator)},
        )
    try:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/data.json", context=context, timeout=2).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def run_rehearsal(
    terraform: str, mirror: Path, cli_env: dict[str, str], work: Path, endpoint: str, source: Path = REPO_ROOT
) -> Rehearsal:
    env_dir = copy_repository(work, source)
    rehearsal_overrides(env_dir, endpoint)
    env = {**cli_env, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION}
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        env.pop(name, None)

    def run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
        return subprocess.run([terraform, *args], cwd=env_dir, capture_output=True, text=True, env=env, timeout=timeout)

    init = run("init", "-input=false", "-no-color", f"-plugin-dir={mirror}")
    if init.returncode != 0:
        raise RuntimeError(init.stdout + init.stderr)
    started = time.monotonic()
    apply = run(
        "apply", "-auto-approve", "-input=false", "-no-color", "-parallelism=20", "-var", "dbt_image_tag=rehearsal"
    )
    seconds = time.monotonic() - started
    shown = run("show", "-json", "-no-color")
    state = json.loads(shown.stdout) if shown.returncode == 0 and shown.stdout.strip() else {}
    return Rehearsal(
        work=work,
        env_dir=env_dir,
        endpoint=endpoint,
        apply_code=apply.returncode,
        apply_log=apply.stdout + apply.stderr,
        state=state,
        seconds=seconds,
    )
