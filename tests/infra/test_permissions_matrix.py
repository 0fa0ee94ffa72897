"""infra/permissions.json, checked against the Terraform as the deploy rehearsal applied it.

Each row says what a principal does at run time and what it needs for it: an IAM action on a resource,
the use of the KMS key, a network path. The checks read the resolved state (`terraform show -json` after
the rehearsal's apply: every ARN, policy document and rule as AWS received them):
- an identity-policy row: the principal's role policies allow each action on each resource, with the
  row's request context (tests/infra/iam_policy.py); a kms:* action also needs the key policy to let the
  role use the key (directly, or by delegating to the account's IAM);
- a resource-policy row: the queue's or topic's policy allows the service principal;
- a key-policy row: the key policy allows the service principal, with the row's context;
- a trust-policy row: the role's trust policy lets the service assume it with the row's context (what the
  service sends for this deployment), and refuses each of the row's `refused` contexts (another account's
  resource naming the role: the confused deputy);
- an identity-refusal row: the principal's role policies do not allow any of its actions on any of its
  resources (the lake reader's read-only property: no S3 write on the lake, no Glue change, no other workgroup);
- a network row: the endpoint exists in the subnets' route table or subnets, and the security groups let
  the traffic out (and, for an interface endpoint or another group, in).
Plus: every Task state of the state machine has rows for its integration, so a new state without them fails.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

import pytest

from orchestration.aws.definition import render_definition
from tests.infra.iam_policy import decide
from tests.infra.rehearsal import ACCOUNT_ID, NOT_REHEARSED, REGION, Rehearsal
from tests.orchestration.test_state_machine_definition import SAMPLE_VARIABLES, all_states
from tests.orchestration.tools import REPO_ROOT

MATRIX = json.loads((REPO_ROOT / "infra" / "permissions.json").read_text())
_REF = re.compile(r"\$\{([^}]+)\}")
# APIs whose IAM actions are not the API's own name. CopyObject: s3:GetObject on the source and
# s3:PutObject on the target (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html).
API_ACTIONS = {"s3:CopyObject": {"s3:GetObject", "s3:PutObject"}}


class NotRehearsed(Exception):
    """The row names a resource moto cannot create (tests/infra/rehearsal.py NOT_REHEARSED)."""


def _placeholder(address: str, attribute: str, rehearsal: Rehearsal) -> str:
    """What the rehearsal hands the rest of the platform for a resource moto cannot create: the
    Redshift workgroup's ARN is the warehouse module's placeholder output (tests/infra/rehearsal.py),
    built from the platform's name, so a row on it checks the policies grant the ARN the module gives."""
    if address.endswith("aws_redshiftserverless_workgroup.this") and attribute == "arn":
        name = rehearsal.resource("module.platform.module.pipeline.aws_sfn_state_machine.pipeline")["name"]
        platform = name.removesuffix("-pipeline")
        return f"arn:aws:redshift-serverless:{REGION}:{ACCOUNT_ID}:workgroup/{platform}"
    raise NotRehearsed(address)


def resolve(text: str, rehearsal: Rehearsal) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1)
        if name == "region":
            return REGION
        if name == "account":
            return ACCOUNT_ID
        ref, _, attribute = name.partition(".")
        address = MATRIX["refs"][ref]
        if any(address.endswith(f".{skipped}") for skipped in NOT_REHEARSED):
            return _placeholder(address, attribute, rehearsal)
        return str(rehearsal.resource(address)[attribute])

    return _REF.sub(value, text)


def resolve_context(context: dict[str, Any], rehearsal: Rehearsal) -> dict[str, Any]:
    return {
        key: [resolve(v, rehearsal) for v in value] if isinstance(value, list) else resolve(value, rehearsal)
        for key, value in context.items()
    }


def role_policies(rehearsal: Rehearsal, role_ref: str) -> tuple[str, list[str]]:
    role = rehearsal.resource(MATRIX["refs"][role_ref])
    documents = [
        found["values"]["policy"]
        for found in rehearsal.resources()
        if found["type"] == "aws_iam_role_policy" and found["values"]["role"] == role["name"]
    ]
    documents += [inline["policy"] for inline in role.get("inline_policy", []) if inline.get("policy")]
    return role["arn"], documents


def key_policy(rehearsal: Rehearsal) -> tuple[str, str]:
    key = rehearsal.resource(MATRIX["refs"][MATRIX["key_policy"]["key"]])
    return key["arn"], key["policy"]


def principal_of(name: str) -> dict[str, str]:
    spec = MATRIX["principals"][name]
    return {"Service": spec["service"].replace("${region}", REGION)}


def _row_id(row: dict[str, Any]) -> str:
    return f"{row['principal']}: {' '.join(row['actions'])}"[:120]


# ---------- the matrix itself


def test_every_row_names_a_known_principal_and_a_documentation_page() -> None:
    rows = [
        *MATRIX["identity_policies"],
        *MATRIX["resource_policies"],
        *MATRIX["key_policy"]["rows"],
        *MATRIX["trust_policies"],
        *MATRIX["identity_refusals"],
    ]
    for row in rows:
        assert row["principal"] in MATRIX["principals"], row
        assert row["source"].startswith("https://docs.aws.amazon.com/"), row
        assert row["why"].strip(), row
    for row in MATRIX["trust_policies"]:
        assert "service" in MATRIX["principals"][row["principal"]], f"a trust row names a service: {row}"
        assert row["role"] in MATRIX["refs"] and row["refused"], f"a trust row names a role and refuses someone: {row}"
    for row in MATRIX["network"]:
        assert row["source"].startswith("https://docs.aws.amazon.com/"), row
    named = {r["principal"] for r in rows}
    assert named == set(MATRIX["principals"]), f"principals without rows: {set(MATRIX['principals']) - named}"


def test_every_task_state_of_the_state_machine_has_its_rows() -> None:
    """A Task state added to the ASL without its permissions in the matrix fails here."""
    definition = render_definition(SAMPLE_VARIABLES)
    integrations = {state["Resource"] for _, state, _ in all_states(definition["States"]) if state["Type"] == "Task"}
    rows = [r for r in MATRIX["identity_policies"] if r["principal"] == "state machine role"]
    covered = {r.get("integration") for r in rows}
    assert integrations - covered == set(), "Task states whose integration has no row in infra/permissions.json"
    assert covered - {None} <= integrations, "rows for integrations the state machine no longer uses"
    for resource in integrations:
        sdk = re.fullmatch(r"arn:aws:states:::aws-sdk:([a-z0-9]+):(\w+)", resource)
        if sdk:  # the SDK integration calls exactly that API: its IAM action(s) must be among the rows
            api = f"{sdk.group(1)}:{sdk.group(2)[0].upper()}{sdk.group(2)[1:]}"
            actions = {a for r in rows if r.get("integration") == resource for a in r["actions"]}
            needed = API_ACTIONS.get(api, {api})
            assert needed <= actions, f"{resource} needs {sorted(needed - actions)}"


# ---------- each row against the rehearsed Terraform


@pytest.mark.parametrize("row", MATRIX["identity_policies"], ids=_row_id)
def test_identity_policy_row(row: dict[str, Any], rehearsal: Rehearsal) -> None:
    role_arn, documents = role_policies(rehearsal, MATRIX["principals"][row["principal"]]["role"])
    key_arn, key_document = key_policy(rehearsal)
    try:
        resources = [resolve(r, rehearsal) for r in row["resources"]]
        context = resolve_context(row.get("context", {}), rehearsal)
    except NotRehearsed as exc:
        pytest.skip(f"{exc.args[0]} is not created by the rehearsal (no moto API): see infra/README.md")
    for action in row["actions"]:
        for resource in resources:
            assert decide(documents, action, resource, context) == "allow", (
                f"{row['principal']} ({role_arn}) may not {action} on {resource} with {context}: {row['why']}"
            )
            if action.startswith("kms:"):
                assert resource == key_arn, f"kms rows name the key: {row}"
                by_key = {
                    decide([key_document], action, "*", context, {"AWS": arn})
                    for arn in (role_arn, f"arn:aws:iam::{ACCOUNT_ID}:root")
                }
                assert "deny" not in by_key and "allow" in by_key, f"the key policy lets {role_arn} not {action}"


@pytest.mark.parametrize("row", MATRIX["identity_refusals"], ids=_row_id)
def test_identity_refusal_row(row: dict[str, Any], rehearsal: Rehearsal) -> None:
    """What a role must not do is refused by its own policies, with any request context the row gives."""
    role_arn, documents = role_policies(rehearsal, MATRIX["principals"][row["principal"]]["role"])
    resources = [resolve(r, rehearsal) for r in row["resources"]]
    context = resolve_context(row.get("context", {}), rehearsal)
    for action in row["actions"]:
        for resource in resources:
            assert decide(documents, action, resource, context) != "allow", (
                f"{row['principal']} ({role_arn}) may {action} on {resource}: {row['why']}"
            )


@pytest.mark.parametrize("row", MATRIX["resource_policies"], ids=_row_id)
def test_resource_policy_row(row: dict[str, Any], rehearsal: Rehearsal) -> None:
    document = rehearsal.resource(row["policy_of"])[row["policy_attribute"]]
    context = resolve_context(row.get("context", {}), rehearsal)
    for action in row["actions"]:
        for resource in (resolve(r, rehearsal) for r in row["resources"]):
            contexts = [{**context, k: v} for k, values in context.items() if isinstance(values, list) for v in values]
            for one in contexts or [context]:
                assert decide([document], action, resource, one, principal_of(row["principal"])) == "allow", (
                    f"{row['policy_of']} does not let {row['principal']} {action} on {resource} with {one}"
                )


@pytest.mark.parametrize("row", MATRIX["key_policy"]["rows"], ids=_row_id)
def test_key_policy_row(row: dict[str, Any], rehearsal: Rehearsal) -> None:
    _, document = key_policy(rehearsal)
    context = resolve_context(row.get("context", {}), rehearsal)
    # A list in the context: each value is one request (e.g. each rule whose target sends to the queue).
    contexts = [{**context, k: v} for k, values in context.items() if isinstance(values, list) for v in values]
    for action in row["actions"]:
        for one in contexts or [context]:
            assert decide([document], action, "*", one, principal_of(row["principal"])) == "allow", (
                f"the key policy does not let {row['principal']} {action} with {one}: {row['why']}"
            )


@pytest.mark.parametrize("row", MATRIX["trust_policies"], ids=_row_id)
def test_trust_policy_row(row: dict[str, Any], rehearsal: Rehearsal) -> None:
    role = rehearsal.resource(MATRIX["refs"][row["role"]])
    service = principal_of(row["principal"])
    context = resolve_context(row["context"], rehearsal)
    for action in row["actions"]:
        assert decide([role["assume_role_policy"]], action, role["arn"], context, service) == "allow", (
            f"{role['name']}'s trust policy does not let {service} {action} with {context}: {row['why']}"
        )
        for refused in row["refused"]:
            deputy = resolve_context(refused, rehearsal)
            assert decide([role["assume_role_policy"]], action, role["arn"], deputy, service) != "allow", (
                f"{role['name']}'s trust policy lets {service} {action} for a confused deputy, {deputy}: {row['why']}"
            )


def test_eventbridge_uses_the_key_for_the_pipeline_rules_only(rehearsal: Rehearsal) -> None:
    """EventBridge's use of the key is scoped to the rules whose targets send to the encrypted dead-letter queue,
    by aws:SourceArn, the key the SQS guide documents for AWS services (CloudWatch Events among them) sending
    to an SSE-KMS queue; another rule of the same account may not use it."""
    _, document = key_policy(rehearsal)
    events = principal_of("EventBridge")
    other_rule = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/someone-elses-rule"
    for context in ({"aws:SourceArn": other_rule, "aws:SourceAccount": ACCOUNT_ID}, {"aws:SourceAccount": ACCOUNT_ID}):
        for action in ("kms:GenerateDataKey", "kms:Decrypt"):
            assert decide([document], action, "*", context, events) != "allow", f"{action} with {context}"


# ---------- network paths


def _rules(rehearsal: Rehearsal, kind: str, group_id: str) -> list[dict[str, Any]]:
    """A security group's rules of one direction, from both the standalone rule resources and the group."""
    rules = [
        r["values"]
        for r in rehearsal.resources()
        if r["type"] == f"aws_vpc_security_group_{kind}_rule" and r["values"]["security_group_id"] == group_id
    ]
    for group in (r["values"] for r in rehearsal.resources() if r["type"] == "aws_security_group"):
        if group["id"] == group_id:
            for rule in group[kind]:
                for cidr in rule["cidr_blocks"] or [None]:
                    rules.append({"ip_protocol": rule["protocol"], "from_port": rule["from_port"],
                                  "to_port": rule["to_port"], "cidr_ipv4": cidr,
                                  "prefix_list_id": (rule["prefix_list_ids"] or [None])[0],
                                  "referenced_security_group_id": (rule["security_groups"] or [None])[0]})  # fmt: skip
    return rules


def _allows(rule: dict[str, Any], port: int, cidr: str | None = None, prefix_list: str | None = None,
            group: str | None = None) -> bool:  # fmt: skip
    if rule["ip_protocol"] not in ("tcp", "-1", "6"):
        return False
    if rule["ip_protocol"] != "-1" and not (rule["from_port"] <= port <= rule["to_port"]):
        return False
    if rule.get("cidr_ipv4") and cidr:
        return ipaddress.ip_network(cidr).subnet_of(ipaddress.ip_network(rule["cidr_ipv4"]))
    if rule.get("prefix_list_id") and prefix_list:
        return rule["prefix_list_id"] == prefix_list
    return bool(group) and rule.get("referenced_security_group_id") == group


def _endpoint(rehearsal: Rehearsal, service: str, kind: str) -> dict[str, Any]:
    name = f"com.amazonaws.{REGION}.{service}"
    found = [
        r["values"]
        for r in rehearsal.resources()
        if r["type"] == "aws_vpc_endpoint" and r["values"]["service_name"] == name
        and r["values"]["vpc_endpoint_type"] == kind
    ]  # fmt: skip
    assert found, f"no {kind} VPC endpoint for {service}"
    return found[0]


@pytest.mark.parametrize("row", MATRIX["network"], ids=lambda r: f"{r['from']} -> {r['to']} :{r['port']}"[:100])
def test_network_row(row: dict[str, Any], rehearsal: Rehearsal) -> None:
    group = resolve(row["security_group"], rehearsal)
    port = row["port"]
    egress = _rules(rehearsal, "egress", group)
    vpc_cidr = next(r["values"]["cidr_block"] for r in rehearsal.resources() if r["type"] == "aws_vpc")
    subnets = {r["values"]["id"] for r in rehearsal.resources() if r["type"] == "aws_subnet"}
    target = row["to"]
    if "gateway_endpoint" in target:
        endpoint = _endpoint(rehearsal, target["gateway_endpoint"], "Gateway")
        tables = {r["values"]["route_table_id"] for r in rehearsal.resources()
                  if r["type"] == "aws_route_table_association" and r["values"]["subnet_id"] in subnets}  # fmt: skip
        assert tables and tables <= set(endpoint["route_table_ids"]), "the private subnets do not route to the endpoint"
        assert any(_allows(rule, port, prefix_list=endpoint["prefix_list_id"]) for rule in egress), (
            f"{row['from']}: no egress to {target['gateway_endpoint']}'s prefix list on {port} ({row['why']})"
        )
    elif "interface_endpoint" in target:
        endpoint = _endpoint(rehearsal, target["interface_endpoint"], "Interface")
        assert endpoint["private_dns_enabled"] and set(endpoint["subnet_ids"]) == subnets
        assert any(_allows(rule, port, cidr=vpc_cidr) for rule in egress), (
            f"{row['from']}: no egress to the VPC's interface endpoints on {port} ({row['why']})"
        )
        ingress = [rule for sg in endpoint["security_group_ids"] for rule in _rules(rehearsal, "ingress", sg)]
        assert any(_allows(rule, port, cidr=vpc_cidr, group=group) for rule in ingress), (
            f"the {target['interface_endpoint']} endpoint's security group does not let {row['from']} in on {port}"
        )
    else:
        other = resolve(target["security_group"], rehearsal)
        assert any(_allows(rule, port, cidr=vpc_cidr, group=other) for rule in egress), f"{row['from']}: no egress"
        assert any(_allows(rule, port, group=group) for rule in _rules(rehearsal, "ingress", other)), "no ingress"
