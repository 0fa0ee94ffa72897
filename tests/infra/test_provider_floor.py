"""Every versions.tf admits only hashicorp/aws versions that have every argument infra/ uses.

`terraform validate` runs against the one provider version of the local mirror, so an argument newer than
a constraint's floor passes it and fails `init`/`plan` for whoever resolves the floor. The arguments below
are the late ones infra/ uses, with the provider release that added each (its CHANGELOG); a use of one
of them raises the floor every versions.tf must have.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.infra.terraform_tools import INFRA

# (resource type, argument or block) -> the hashicorp/aws release that added it (CHANGELOG.md).
ADDED_IN = {
    ("aws_sfn_state_machine", "encryption_configuration"): (5, 61, 0),
    ("aws_glue_job", "job_run_queuing_enabled"): (5, 65, 0),
}


def _uses(resource_type: str, argument: str) -> list[Path]:
    pattern = re.compile(rf'resource "{resource_type}" "\w+" {{.*?^}}', re.S | re.M)
    return [
        path
        for path in INFRA.rglob("*.tf")
        for block in pattern.findall(path.read_text())
        if re.search(rf"^\s+{argument}\s*(=|{{)", block, re.M)
    ]


def _floor(constraint: str) -> tuple[int, ...]:
    """The lowest version a constraint like "~> 5.65" or ">= 5.65, < 6.0" admits."""
    bounds = re.findall(r"(~>|>=|=)?\s*(\d+(?:\.\d+)*)", constraint.split(",")[0])
    operator, version = bounds[0]
    if operator in ("~>", ">=", "=", ""):
        parts = tuple(int(p) for p in version.split("."))
        return parts + (0,) * (3 - len(parts))
    raise ValueError(constraint)


def test_every_versions_file_admits_only_providers_with_the_arguments_used() -> None:
    needed = max(version for (kind, argument), version in ADDED_IN.items() if _uses(kind, argument))
    constraints = {}
    for path in INFRA.rglob("versions.tf"):
        match = re.search(r'aws\s*=\s*{[^}]*version\s*=\s*"([^"]+)"', path.read_text(), re.S)
        assert match, f"{path}: no hashicorp/aws version constraint"
        constraints[path.relative_to(INFRA)] = match.group(1)
    assert len(constraints) == len(list(INFRA.glob("modules/*"))) + len(list(INFRA.glob("envs/*")))
    too_low = {str(p): c for p, c in constraints.items() if _floor(c) < needed}
    assert too_low == {}, f"these admit providers older than {'.'.join(map(str, needed))}"


def test_the_table_names_arguments_that_are_used() -> None:
    """An entry for an argument nothing uses any more is stale."""
    for (kind, argument), _ in ADDED_IN.items():
        assert _uses(kind, argument), f"{kind}.{argument} is not used in infra/: drop it from ADDED_IN"
