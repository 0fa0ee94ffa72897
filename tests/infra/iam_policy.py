"""A small IAM policy evaluator: does this set of policy documents allow this action on this resource?

Enough of the policy language for the documents in infra/ ("Policy evaluation logic",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): Allow and Deny
(an explicit Deny wins), Action/NotAction and Resource/NotResource with * and ? wildcards, Principal, and the
condition operators infra/ uses, with ...IfExists. A condition key the request context does not carry makes
its condition fail (as on AWS, except for IfExists); an operator this module does not know raises, so a new
kind of condition is noticed rather than guessed.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
from collections.abc import Iterable
from typing import Any


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_match(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    """IAM wildcards: * any run of characters (also '/' and ':'), ? one character."""
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _string(op: str, wanted: str, actual: str) -> bool:
    if op in ("StringEquals", "ArnEquals"):
        return wanted == actual
    if op == "StringEqualsIgnoreCase":
        return wanted.lower() == actual.lower()
    if op in ("StringLike", "ArnLike"):
        return wildcard_match(wanted, actual)
    raise ValueError(op)


def condition_holds(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    """Every operator block holds: for each key, some context value matches some wanted value
    (for the Not... operators: no context value matches any)."""
    for raw_operator, block in condition.items():
        operator = raw_operator.removesuffix("IfExists")
        if_exists = raw_operator.endswith("IfExists")
        for key, wanted_values in block.items():
            wanted = [str(v) for v in _as_list(wanted_values)]
            if operator == "Null":
                if (key not in context) != (wanted[0].lower() == "true"):
                    return False
                continue
            if key not in context:
                if if_exists:
                    continue
                return False
            actual = [str(v) for v in _as_list(context[key])]
            if operator in ("StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"):
                ok = any(_string(operator, w, a) for w in wanted for a in actual)
            elif operator in ("StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"):
                positive = operator.replace("Not", "")
                ok = not any(_string(positive, w, a) for w in wanted for a in actual)
            elif operator == "Bool":
                ok = any(w.lower() == a.lower() for w in wanted for a in actual)
            elif operator.startswith("Numeric"):
                compare = {
                    "NumericEquals": lambda a, w: a == w,
                    "NumericNotEquals": lambda a, w: a != w,
                    "NumericLessThan": lambda a, w: a < w,
                    "NumericLessThanEquals": lambda a, w: a <= w,
                    "NumericGreaterThan": lambda a, w: a > w,
                    "NumericGreaterThanEquals": lambda a, w: a >= w,
                }[operator]
                ok = any(compare(float(a), float(w)) for w in wanted for a in actual)
            elif operator == "IpAddress":
                ok = any(ipaddress.ip_address(a) in ipaddress.ip_network(w) for w in wanted for a in actual)
            else:
                raise ValueError(f"condition operator {raw_operator} is not evaluated by tests/infra/iam_policy.py")
            if not ok:
                return False
    return True


def _principal_matches(statement: dict[str, Any], principal: dict[str, str] | None) -> bool:
    """principal: {"AWS": arn} or {"Service": name}; None for identity policies (no Principal element)."""
    if principal is None:
        return "Principal" not in statement and "NotPrincipal" not in statement
    given = statement.get("Principal")
    if given is None:
        return False
    if given == "*":
        return True
    kind, name = next(iter(principal.items()))
    return any(candidate == "*" or candidate == name for candidate in _as_list(given.get(kind, [])))


def _statement_applies(
    statement: dict[str, Any], action: str, resource: str, context: dict[str, Any], principal: dict[str, str] | None
) -> bool:
    if not _principal_matches(statement, principal):
        return False
    if "Action" in statement:
        if not any(wildcard_match(p, action, case_sensitive=False) for p in _as_list(statement["Action"])):
            return False
    elif any(wildcard_match(p, action, case_sensitive=False) for p in _as_list(statement["NotAction"])):
        return False
    if "Resource" in statement:
        if not any(wildcard_match(p, resource) for p in _as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement and any(wildcard_match(p, resource) for p in _as_list(statement["NotResource"])):
        return False
    return condition_holds(statement.get("Condition", {}), context)


def statements(documents: Iterable[str | dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for document in documents:
        parsed = json.loads(document) if isinstance(document, str) else document
        found.extend(_as_list(parsed["Statement"]))
    return found


def decide(
    documents: Iterable[str | dict[str, Any]],
    action: str,
    resource: str,
    context: dict[str, Any] | None = None,
    principal: dict[str, str] | None = None,
) -> str:
    """'allow', 'deny' (an explicit Deny applies) or 'implicit deny' (no Allow applies)."""
    context = context or {}
    found = statements(documents)
    applying = [s for s in found if _statement_applies(s, action, resource, context, principal)]
    if any(s.get("Effect") == "Deny" for s in applying):
        return "deny"
    if any(s.get("Effect") == "Allow" for s in applying):
        return "allow"
    return "implicit deny"
