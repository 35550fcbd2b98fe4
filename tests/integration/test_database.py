"""What live servers keep in their database, on SQLite or on MySQL/MariaDB."""

from __future__ import annotations

import pytest

from tests.live import LiveServer
from tests.support.http_client import ThywillHttpClient

pytestmark = pytest.mark.live


def test_the_bootstrap_page_records_the_client_in_the_servers_database(
    live: LiveServer, live_url: str
) -> None:
    """The server writes to the database the suite gave it (MySQL in the MySQL run)."""
    with ThywillHttpClient(live_url) as tab:
        tab.bootstrap()
        assert live.database.count("thywill_server_client", id=tab.client_id) == 1
