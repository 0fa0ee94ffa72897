"""The Step Functions definition: its template, how Terraform renders it, and its stage order.

`state_machine.asl.json` is rendered by Terraform's `templatefile()` (infra/modules/pipeline). The
template uses plain `${name}` placeholders only (no directives), so this module can render it the
same way for the tests and for `asl-validator` without Terraform.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

TEMPLATE_PATH = Path(__file__).resolve().parent / "state_machine.asl.json"
CONTRACT_PATH = Path(__file__).resolve().parents[2] / "infra" / "lake_contract.json"
STAGES_PATH = Path(__file__).resolve().parents[1] / "stages.json"

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


def template_variables(template: str | None = None) -> set[str]:
    """The names the template expects; raises if a placeholder is more than a bare name."""
    text = TEMPLATE_PATH.read_text() if template is None else template
    names = set()
    for expression in _PLACEHOLDER.findall(text):
        if not _IDENTIFIER.fullmatch(expression):
            raise ValueError(f"{TEMPLATE_PATH.name}: placeholder ${{{expression}}} is not a bare variable name")
    names.update(_PLACEHOLDER.findall(text))
    if "%{" in text:
        raise ValueError(f"{TEMPLATE_PATH.name}: template directives (%{{...}}) are not used here")
    return names


def render(variables: dict[str, str], template: str | None = None) -> str:
    """Substitute every `${name}` like templatefile() does; a missing or unused variable is an error.

    List values (subnets, security groups) are passed JSON-encoded, as Terraform's `jsonencode()`.
    """
    text = TEMPLATE_PATH.read_text() if template is None else template
    expected = template_variables(text)
    missing = expected - variables.keys()
    unused = variables.keys() - expected
    if missing or unused:
        raise KeyError(f"template variables missing: {sorted(missing)}; not in the template: {sorted(unused)}")
    for name, value in variables.items():
        if not isinstance(value, str):
            raise TypeError(f"template variable {name} must be a string (jsonencode lists), got {type(value).__name__}")
    return _PLACEHOLDER.sub(lambda match: variables[match.group(1)], text)


def contract_variables(landing_prefix: str) -> dict[str, str]:
    """The template variables infra/modules/pipeline derives from the lake contract, derived the same
    way: which landing keys are TLC files, and how to name them in an error."""
    landing = json.loads(CONTRACT_PATH.read_text())["landing"]
    rules = [{"Variable": "$.run.key", "StringMatches": f"{landing_prefix}{p}"} for p in landing["key_patterns"]]
    return {"landing_key_rules": json.dumps(rules), "landing_file_names": landing["file_name_text"]}


def render_definition(variables: dict[str, str]) -> dict[str, Any]:
    return json.loads(render(variables))


def _stages() -> list[dict[str, Any]]:
    return json.loads(STAGES_PATH.read_text())["stages"]


def stage_names() -> list[str]:
    """The pipeline's stages in order, shared with the local runner."""
    return [stage["name"] for stage in _stages()]


def aws_stage_names() -> list[str]:
    """The stages that are states of the state machine (in order): those with an `aws` description."""
    return [stage["name"] for stage in _stages() if stage["aws"]]


def success_path(definition: dict[str, Any], choose: dict[str, str]) -> list[str]:
    """The state names from StartAt to the terminal state, following `Next`.

    `choose` says which target each Choice state takes (state name -> next state); a Choice state
    missing from it takes its first rule.
    """
    states = definition["States"]
    path = []
    name = definition["StartAt"]
    while name is not None:
        if name in path:
            raise ValueError(f"loop at {name}")
        path.append(name)
        state = states[name]
        if state["Type"] == "Choice":
            name = choose.get(name, state["Choices"][0]["Next"])
        elif state.get("End") or state["Type"] in ("Succeed", "Fail"):
            name = None
        else:
            name = state["Next"]
    return path
