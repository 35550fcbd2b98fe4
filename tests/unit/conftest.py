"""Fixtures of the in-process unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from thywill_server.components import reset_all


@pytest.fixture(autouse=True)
def fresh_components() -> Iterator[None]:
    """Every test starts and ends with no cached settings, components or applications."""
    reset_all()
    yield
    reset_all()
