"""The deploy rehearsal, once per test session: its state is what the permissions matrix checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.infra.rehearsal import Rehearsal, moto_server, run_rehearsal
from tests.infra.terraform_tools import aws_provider_mirror, terraform_binary, terraform_env
from tests.orchestration.tools import ASL_VALIDATOR, require


@pytest.fixture(scope="session")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    terraform = terraform_binary()
    mirror = aws_provider_mirror()
    validator = require(ASL_VALIDATOR, "asl-validator")
    work = tmp_path_factory.mktemp("rehearsal")
    with moto_server(work / "moto.log", validator) as endpoint:
        yield run_rehearsal(terraform, mirror, terraform_env(work), work / "repo", endpoint)
