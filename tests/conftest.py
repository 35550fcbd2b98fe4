"""Fixtures shared by every test suite."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.live import LiveServer
from tests.support.databases import TEST_DATABASE_URL, LiveDatabase, LiveDatabases

# thywill's fixtures for application tests, as a project opts in to them.
pytest_plugins = ["thywill.testing.pytest"]

IN_CI = os.environ.get("CI", "").lower() == "true"
SERVERS = os.environ.get("THYWILL_TEST_SERVERS", "daphne,uvicorn").split(",")
DATABASE_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
        "live_factory",  # every live server has a database
    }
)


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``database`` every test that touches a database: the MySQL run selects them."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("django_db") or fixtures & DATABASE_FIXTURES:
            item.add_marker(pytest.mark.database)


def require(condition: bool, what: str) -> None:
    """Skip when a real component is missing, but fail under CI=true (it must be there)."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true but is missing")
    pytest.skip(f"{what} is not available")


@pytest.fixture(scope="session")
def live_databases() -> Iterator[LiveDatabases]:
    """The live servers' databases (SQLite, or THYWILL_TEST_DATABASE_URL's server);
    dropped at session end."""
    databases = LiveDatabases(TEST_DATABASE_URL)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session", params=SERVERS)
def live_factory(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    live_databases: LiveDatabases,
) -> Iterator[Callable[..., LiveServer]]:
    """Start live servers with their own environment; all stop at session end.

    Each server has a new database, unless it is given the ``database`` of another.
    Every test that uses live servers runs once per ASGI server in THYWILL_TEST_SERVERS
    (default: daphne and uvicorn): thywill must behave the same on each.
    """
    servers: list[LiveServer] = []

    def make(database: LiveDatabase | None = None, **env: str) -> LiveServer:
        env = {"THYWILL_TEST_SERVER": request.param, **env}
        workdir = Path(tmp_path_factory.mktemp("live"))
        server = LiveServer(workdir, database or live_databases.new(workdir), env)
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
