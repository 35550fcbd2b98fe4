"""Fixtures shared by every test suite."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.live import LiveServer

IN_CI = os.environ.get("CI", "").lower() == "true"
SERVERS = os.environ.get("THYWILL_TEST_SERVERS", "daphne,uvicorn").split(",")


def require(condition: bool, what: str) -> None:
    """Skip when a real component is missing, but fail under CI=true (it must be there)."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is missing")
    pytest.skip(f"{what} is not available")


@pytest.fixture(scope="session", params=SERVERS)
def live_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., LiveServer]]:
    """Start live servers with their own environment; all stop at session end.

    Every test that uses live servers runs once per ASGI server in THYWILL_TEST_SERVERS
    (default: daphne and uvicorn): thywill must behave the same on each.
    """
    servers: list[LiveServer] = []

    def make(**env: str) -> LiveServer:
        env = {"THYWILL_TEST_SERVER": request.param, **env}
        server = LiveServer(Path(tmp_path_factory.mktemp("live")), env)
        server.migrate()
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def live(live_factory: Callable[..., LiveServer]) -> LiveServer:
    """One live server process for the session, with default settings."""
    return live_factory()


@pytest.fixture
def live_url(live: LiveServer) -> Iterator[str]:
    """The base URL of the session's live server (restarted if a test stopped it)."""
    if live.process is None or live.process.poll() is not None:
        live.start()
    yield live.url
