"""One real local Spark session for the whole ingestion suite (starting one costs ~5 s)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    from ingestion.spark_session import get_spark

    session = get_spark(app_name="tlc-ingestion-tests", driver_memory="2g")
    yield session
    # Left running on purpose: other suites in the same pytest process may reuse it.
