"""Where Terraform and the hashicorp/aws provider are, for the infra tests.

`terraform validate` and the deploy rehearsal need the hashicorp/aws provider. The registry is out of
reach here, so the tests look for a local filesystem mirror of hashicorp/aws 5.x and initialise with
-plugin-dir. No terraform or no mirror: a skip saying so (a failure under CI, which has both).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.orchestration.tools import REPO_ROOT

INFRA = REPO_ROOT / "infra"
ENVS = ["dev", "prod"]
MIRROR_CANDIDATES = [
    os.environ.get("TF_PLUGIN_DIR", ""),
    "/opt/tf-plugins",
    str(Path.home() / ".terraform.d" / "plugins"),
    str(Path.home() / ".local" / "share" / "terraform" / "plugins"),
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
]


def missing(message: str) -> None:
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(message)
    pytest.skip(message)


def terraform_binary() -> str:
    found = shutil.which("terraform")
    if not found:
        missing("terraform not found on PATH: install Terraform >= 1.10 to validate infra/")
    return found


def aws_provider_mirror() -> Path:
    """A plugin directory holding registry.terraform.io/hashicorp/aws/5.x for this platform."""
    for candidate in filter(None, MIRROR_CANDIDATES):
        versions = Path(candidate) / "registry.terraform.io" / "hashicorp" / "aws"
        if any(v.name.startswith("5.") and any(v.glob("linux_*")) for v in versions.glob("5.*")):
            return Path(candidate)
    missing(
        "no filesystem mirror of hashicorp/aws 5.x found (looked in "
        + ", ".join(filter(None, MIRROR_CANDIDATES))
        + "); set TF_PLUGIN_DIR to one"
    )
    raise AssertionError  # unreachable


def terraform_env(tmp_path: Path) -> dict[str, str]:
    cli_config = tmp_path / "terraformrc"
    cli_config.write_text("")  # no registry, no credentials: only -plugin-dir
    return {**os.environ, "TF_CLI_CONFIG_FILE": str(cli_config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
