"""Narrow patches for gaps in moto 5.2's Step Functions interpreter (a port of LocalStack's).

Each patch names the bug it works around, checks the code it patches still looks as expected (so a
moto upgrade that fixes or changes it fails loudly here instead of silently testing something else),
and is undone when the context exits. The state machine definition itself is never changed to
avoid these bugs.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import textwrap
from collections.abc import Iterator
from typing import Any
from unittest import mock

import botocore
import botocore.session
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
    state_task_service_callback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_ecs import (
    StateTaskServiceEcs,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_glue import (
    StateTaskServiceGlue,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

_UNGUARDED_INTERRUPT = "            callback_endpoint.interrupt_all()\n"
_GUARDED_INTERRUPT = (
    "            if callback_endpoint is not None:\n                callback_endpoint.interrupt_all()\n"
)


def _glue_eval_integration_pattern() -> Any:
    """Bug 1, `glue:startJobRun.sync`: the missing callback endpoint.

    `StateTaskServiceCallback._eval_integration_pattern` only creates a callback endpoint for services
    that support `.waitForTaskToken` (Glue does not), but its `finally:` block calls
    `callback_endpoint.interrupt_all()` unconditionally, so every Glue `.sync` task fails with
    States.Runtime "'NoneType' object has no attribute 'interrupt_all'". The patch is the same method
    with that one call guarded, installed on the Glue service only.
    """
    original = state_task_service_callback.StateTaskServiceCallback._eval_integration_pattern
    source = textwrap.dedent(inspect.getsource(original))
    body_line = textwrap.dedent(_UNGUARDED_INTERRUPT).replace("\n", "")
    assert source.count(body_line) == 1, (
        "moto's _eval_integration_pattern changed: re-check the Glue .sync patch in tests/orchestration/moto_patches.py"
    )
    indented = textwrap.indent(source, "    ")
    patched_source = indented.replace(_UNGUARDED_INTERRUPT, _GUARDED_INTERRUPT)
    assert patched_source != indented
    namespace: dict[str, Any] = {}
    exec(  # noqa: S102 - recompiles moto's own method with one guarded line, in moto's module namespace
        "def _make():\n" + patched_source + "    return _eval_integration_pattern\n",
        vars(state_task_service_callback),
        namespace,
    )
    return namespace["_make"]()


@functools.cache
def _boto_operation_shapes(service: str, operation: str) -> Any:
    """botocore's model of one operation, by its snake_case name (run_task)."""
    model = botocore.session.get_session().get_service_model(service)
    by_snake_name = {botocore.xform_name(name): name for name in model.operation_names}
    return model.operation_model(by_snake_name[operation])


def _ecs_normalise_parameters(self, parameters: dict, boto_service_name=None, service_action_name=None) -> None:
    """Bug 2, `ecs:runTask.sync`: parameters not converted to the API's casing.

    Step Functions takes ECS parameters in PascalCase (Cluster, TaskDefinition, Overrides,
    ContainerOverrides, ...) and converts them to the API's camelCase. moto's base
    `_normalise_parameters` is a no-op, so boto3 rejects `Cluster` with a ParamValidationError. This
    converts them with moto's own shape-driven `_to_boto_request`, as LocalStack does.
    """
    operation = _boto_operation_shapes("ecs", self._get_boto_service_action(service_action_name))
    self._to_boto_request(parameters, operation.input_shape)


def _ecs_normalise_response(self, response: Any, boto_service_name=None, service_action_name=None) -> None:
    """Bug 2, the other way: the RunTask/DescribeTasks output back into Step Functions' PascalCase.

    moto's ECS integration then reads `response["Tasks"][0]["TaskArn"]`, which only exists once the
    camelCase API response (`tasks`, `taskArn`) is converted; the base method is a no-op (KeyError).
    """
    operation = _boto_operation_shapes("ecs", self._get_boto_service_action(service_action_name))
    if isinstance(response, dict) and operation.output_shape is not None:
        self._from_boto_response(response, operation.output_shape)


def _ecs_sync_resolver_failing_on_exit_code(original_builder: Any) -> Any:
    """Gap 3, `ecs:runTask.sync`: a task whose container exits non-zero must fail the state.

    On AWS the `.sync` integration fails with States.TaskFailed (the cause is the task description)
    when a container of the stopped task exited non-zero; moto returns the stopped task as a success
    whatever the exit code, so a failed `dbt build` would look like a success.
    """

    def build(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        resolver = original_builder(self, env, resource_runtime_part, normalised_parameters, state_credentials)

        def resolve() -> Any:
            task = resolver()
            if task is None:
                return None
            exit_codes = [container.get("ExitCode") for container in task.get("Containers", [])]
            if any(code not in (0, None) for code in exit_codes):
                raise FailureEventException(
                    FailureEvent(
                        env=env,
                        error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                        event_type=HistoryEventType.TaskFailed,
                        event_details=EventDetails(
                            taskFailedEventDetails=TaskFailedEventDetails(
                                resource=self._get_sfn_resource(),
                                resourceType=self._get_sfn_resource_type(),
                                error=StatesErrorNameType.StatesTaskFailed.to_name(),
                                cause=to_json_str(task),
                            )
                        ),
                    )
                )
            return task

        return resolve

    return build


# Bug 4, `aws-sdk:*` integrations: error names must be `ServiceName.ErrorName` in PascalCase
# (Glue.AlreadyExistsException, S3.NoSuchKeyException); moto only knows the PascalCase service names
# of dynamodb and sfn and emits "glue.AlreadyExistsException" for the rest, so a Catch written as AWS
# documents it never matches. These are the services this definition calls through aws-sdk.
_AWS_SDK_SERVICE_ERROR_NAMES = {"glue": "Glue", "s3": "S3"}


# Bug 5: an aws-sdk:s3:getObject task hands the state botocore's streaming body, so the next
# `States.StringToJson($.Body)` fails with AttributeError. Step Functions returns the object's content as
# text in Body (the AWS SDK integrations return the API's response as JSON; a getObject task's Body is the
# object's text, as e.g. https://dev.classmethod.jp/articles/the-operation-when-the-maximum-payload-size-limit-of-256kb-was-exceeded-in-aws-step-functions/
# reads it): decode it as the service does.
def _aws_sdk_eval_service_task_reading_bodies(original: Any) -> Any:
    def eval_service_task(self, env, resource_runtime_part, normalised_parameters, state_credentials):
        original(self, env, resource_runtime_part, normalised_parameters, state_credentials)
        response = env.stack[-1]
        if isinstance(response, dict) and hasattr(response.get("Body"), "read"):
            response["Body"] = response["Body"].read().decode("utf-8")

    return eval_service_task


@contextlib.contextmanager
def patched_moto_stepfunctions(ecs_sync_fails_on_exit_code: bool = True) -> Iterator[None]:
    """Apply the patches above for the duration of the block. `ecs_sync_fails_on_exit_code=False` leaves
    moto's own runTask.sync, which reports a stopped task as a success whatever its exit code."""
    assert "def _normalise_parameters" not in inspect.getsource(StateTaskServiceEcs), (
        "moto's ECS integration now normalises its parameters: drop bug 2's patch"
    )
    aws_sdk = state_task_service_aws_sdk.StateTaskServiceAwsSdk
    assert ".read()" not in inspect.getsource(aws_sdk._eval_service_task), (
        "moto's aws-sdk integration now reads streaming bodies: drop bug 5's patch"
    )
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            mock.patch.dict(state_task_service_aws_sdk._SERVICE_ERROR_NAMES, _AWS_SDK_SERVICE_ERROR_NAMES)
        )
        stack.enter_context(
            mock.patch.object(
                aws_sdk, "_eval_service_task", _aws_sdk_eval_service_task_reading_bodies(aws_sdk._eval_service_task)
            )
        )
        stack.enter_context(
            mock.patch.object(
                StateTaskServiceGlue, "_eval_integration_pattern", _glue_eval_integration_pattern(), create=True
            )
        )
        stack.enter_context(
            mock.patch.object(StateTaskServiceEcs, "_normalise_parameters", _ecs_normalise_parameters, create=True)
        )
        stack.enter_context(
            mock.patch.object(StateTaskServiceEcs, "_normalise_response", _ecs_normalise_response, create=True)
        )
        if ecs_sync_fails_on_exit_code:
            stack.enter_context(
                mock.patch.object(
                    StateTaskServiceEcs,
                    "_build_sync_resolver",
                    _ecs_sync_resolver_failing_on_exit_code(StateTaskServiceEcs._build_sync_resolver),
                )
            )
        yield


def history_json(events: list[dict[str, Any]]) -> str:
    return json.dumps(events, default=str, indent=1)
