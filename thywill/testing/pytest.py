"""pytest fixtures for testing thywill applications.

Opt in from the project's ``conftest.py`` (thywill registers no plugin by itself)::

    pytest_plugins = ["thywill.testing.pytest"]

The tests that connect clients need the database, with real transactions in async tests:
``@pytest.mark.django_db(transaction=True)`` (pytest-django).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

import pytest

from thywill.testing.client import TestClient, connect
from thywill.testing.sync import SyncTestClient, connect_sync
from thywill.wiring.runtime import reset_runtime


@pytest.fixture
def thywill_runtime() -> Iterator[None]:
    """A runtime of the test's own: built anew from the settings on first use (with an
    empty in-memory push backend: no channels, groups or leases of other tests), and
    dropped after the test, so no lease of its clients lapses in a later one."""
    reset_runtime()
    yield
    reset_runtime()


@pytest.fixture
def thywill_connect(thywill_runtime: None) -> Callable[..., Awaitable[TestClient]]:
    """``thywill.testing.connect``, in a runtime of the test's own:
    ``client = await thywill_connect("chat")``."""
    return connect


@pytest.fixture
def thywill_connect_sync(thywill_runtime: None) -> Callable[..., SyncTestClient]:
    """``thywill.testing.connect_sync``, in a runtime of the test's own:
    ``client = thywill_connect_sync("chat")``."""
    return connect_sync
