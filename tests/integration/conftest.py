"""Fixtures of the live-server integration tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.live import LiveServer


@pytest.fixture(scope="module")
def small_live(live_factory: Callable[..., LiveServer]) -> LiveServer:
    """A server whose channels keep only their last 5 messages."""
    return live_factory(THYWILL_TEST_CAPACITY="5")
