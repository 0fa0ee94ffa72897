"""moto's server with one fix and three missing APIs, for the deploy rehearsal (tests/infra/rehearsal.py).

Run as a program: ``python tests/infra/moto_server_for_rehearsal.py -H 127.0.0.1 -p PORT -s``; it takes
moto_server's own arguments. It is started with ``-s`` (HTTPS) only.

1. The bug: moto 5.2 applies every bucket policy statement that has a Condition, whatever the condition
says (its condition check returns True for these operators, and a failing check also returns DENIED).
Every bucket here has "Deny s3:* when aws:SecureTransport is false" and "Deny s3:* when s3:TlsVersion <
1.2", so moto refuses every object write with 403. On AWS such a Deny applies only when its condition
holds. The fix evaluates a conditional Deny with tests/infra/iam_policy.py against what this server's
connections are (HTTPS, TLS 1.2 or later) and returns NEUTRAL when it does not hold; a condition key
outside that context leaves moto's answer unchanged. The check below fails loudly if moto's code changed.

2. Two missing APIs. The provider calls Step Functions' ValidateStateMachineDefinition before it creates the
state machine, and moto has no such action (the provider retries its 500s for minutes). It is answered
here by the real validator the other tests use, asl-validator (path in $ASL_VALIDATOR), with the API's
result shape: OK, or FAIL with one diagnostic per error it reports. After creating it, the provider
lists its versions (ListStateMachineVersions), answered from moto's own record of them.

3. moto's EventBridge cannot deliver to a Step Functions target (it raises NotImplementedError, which
fails PutEvents, and which moto's S3 swallows, so an upload's event reaches no target). Here a rule's
states target starts an execution in moto's Step Functions backend with the event as input, as
EventBridge does; the rule's other targets are served by moto as before. A rule with only a schedule
matches no event here (moto's empty pattern matches them all).
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from moto.iam import access_control
from moto.iam.access_control import IAMPolicyStatement, PermissionResult

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.infra.iam_policy import condition_holds  # noqa: E402

_EXPECTED = (
    "            if not self._check_conditions(incoming_condition_values):\n"
    "                return PermissionResult.DENIED\n"
)
# What every request to this server is: HTTPS (moto_server -s), TLS 1.2 or later.
CONNECTION = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.2"}


def _conditional_deny_applies_only_when_its_condition_holds() -> None:
    source = inspect.getsource(IAMPolicyStatement.is_action_permitted)
    assert source.count(_EXPECTED) == 1, "moto's IAMPolicyStatement.is_action_permitted changed: re-check this patch"
    original = IAMPolicyStatement.is_action_permitted

    def is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
        result = original(self, action, resource, principal, incoming_condition_values)
        condition = self._statement.get("Condition")
        if result == PermissionResult.DENIED and self._statement.get("Effect") == "Deny" and condition:
            keys = {key for block in condition.values() for key in block}
            if keys <= CONNECTION.keys() and not condition_holds(condition, CONNECTION):
                return PermissionResult.NEUTRAL
        return result

    access_control.IAMPolicyStatement.is_action_permitted = is_action_permitted


def _validate_state_machine_definition(self):
    from moto.core.responses import ActionResult

    definition = self._get_param("definition")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        handle.write(definition)
    try:
        checked = subprocess.run(
            [os.environ["ASL_VALIDATOR"], "--json-path", handle.name], capture_output=True, text=True, timeout=120
        )
    finally:
        os.unlink(handle.name)
    if checked.returncode == 0:
        return ActionResult({"result": "OK", "diagnostics": []})
    messages = [line for line in (checked.stdout + checked.stderr).splitlines() if line.strip()] or ["invalid"]
    diagnostics = [{"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": m} for m in messages]
    return ActionResult({"result": "FAIL", "diagnostics": json.loads(json.dumps(diagnostics))})


def _list_state_machine_versions(self):
    from moto.core.responses import ActionResult

    machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
    versions = [
        {"stateMachineVersionArn": version.arn, "creationDate": version.creation_date}
        for _, version in sorted(machine.versions.items(), reverse=True)
    ]
    return ActionResult({"stateMachineVersions": versions})


def _eventbridge_starts_step_functions_targets() -> None:
    import uuid

    from moto.events.models import Rule
    from moto.stepfunctions.models import stepfunctions_backends
    from moto.utilities.arns import parse_arn

    assert "Expr not defined for" in inspect.getsource(Rule.send_to_targets), (
        "moto's EventBridge targets changed: re-check the Step Functions target in this file"
    )
    original = Rule.send_to_targets

    def send_to_targets(self, original_event, transform_input=True):
        # A rule with a schedule and no event pattern (daily build, weekly test) matches no event; moto's empty
        # pattern matches every event, which would start the pipeline on every S3 event.
        if not self.event_pattern.get_pattern() or not self.event_pattern.matches_event(original_event):
            return
        targets = self.targets
        machines = [target for target in targets if parse_arn(target["Arn"]).service == "states"]
        for target in machines:
            backend = stepfunctions_backends[self.account_id][self.region_name]
            backend.start_execution(target["Arn"], name=uuid.uuid4().hex, execution_input=json.dumps(original_event))
        self.targets = [target for target in targets if target not in machines]
        try:
            original(self, original_event, transform_input)
        finally:
            self.targets = targets

    Rule.send_to_targets = send_to_targets


def _add_missing_step_functions_apis() -> None:
    from moto.stepfunctions.responses import StepFunctionResponse

    for name, implementation in {
        "validate_state_machine_definition": _validate_state_machine_definition,
        "list_state_machine_versions": _list_state_machine_versions,
    }.items():
        assert not hasattr(StepFunctionResponse, name), f"moto now implements {name}: drop this addition"
        setattr(StepFunctionResponse, name, implementation)
    assert Path(os.environ["ASL_VALIDATOR"]).is_file(), "ASL_VALIDATOR must name the asl-validator program"


if __name__ == "__main__":
    _conditional_deny_applies_only_when_its_condition_holds()
    _add_missing_step_functions_apis()
    _eventbridge_starts_step_functions_targets()
    from moto.server import main

    main(sys.argv[1:])
