"""Fixtures of the in-process unit tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from thywill.edge.shutdown import drain
from thywill.wiring.runtime import reset_runtime


@pytest.fixture(autouse=True)
def fresh_components() -> Iterator[None]:
    """Every test starts and ends with no cached settings, components or applications."""
    reset_runtime()
    yield
    reset_runtime()
    drain.reset()  # not draining, and pytest's own signal handlers back


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog, also fed by the ``thywill`` logger (which does not propagate to the root)."""
    logger = logging.getLogger("thywill")
    logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)
