"""What live servers keep in their database, on SQLite or on MySQL/MariaDB."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.live import LiveServer
from tests.support.cluster import wait_for
from tests.support.databases import TEST_DATABASE_URL, MysqlLiveDatabase
from tests.support.http_client import ThywillHttpClient

pytestmark = pytest.mark.live


def test_the_bootstrap_page_records_the_client_in_the_servers_database(
    live: LiveServer, live_url: str
) -> None:
    """The server writes to the database the suite gave it (MySQL in the MySQL run)."""
    with ThywillHttpClient(live_url) as tab:
        tab.bootstrap()
        assert live.database.count("thywill_client", id=tab.client_id) == 1


@pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="only a database server drops connections"
)
def test_disconnect_events_survive_the_database_dropping_connections(
    live_factory: Callable[..., LiveServer],
) -> None:
    """After the database dropped the server's connections (its wait_timeout, a restart),
    the next disconnect event still runs: no event reuses a dead connection."""
    server = live_factory(THYWILL_TEST_PRESENCE_TTL="1")
    database = server.database
    assert isinstance(database, MysqlLiveDatabase)
    for _ in range(2):
        with ThywillHttpClient(server.url, app="testkit") as tab:
            tab.bootstrap()
            tab.longpoll(wait=False)
            assert wait_for(
                lambda: database.count("apps_departure", client_id=tab.client_id) == 1, 10
            ), server.log()
        database.kill_connections()
