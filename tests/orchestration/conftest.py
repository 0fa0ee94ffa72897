from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from moto import mock_aws

from tests.orchestration.moto_patches import patched_moto_stepfunctions
from tests.orchestration.sfn_harness import REGION, Pipeline


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and one region, so nothing can reach a real account."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture
def pipeline(aws_env: None) -> Iterator[Pipeline]:
    """The state machine and everything it calls, in moto, with the interpreter executing it."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), patched_moto_stepfunctions():
        yield Pipeline()
