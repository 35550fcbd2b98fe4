"""The database settings built from a DATABASE_URL."""

from __future__ import annotations

from thywill_server.settings import database


def test_a_mysql_url_keeps_djangos_defaults() -> None:
    """No options: Django's utf8mb4 and READ COMMITTED; no persistent connections."""
    config = database("mysql://thywill:secret@db.example.com:3306/thywill")
    assert (config["ENGINE"], config["NAME"], config["HOST"], config["PORT"]) == (
        "django.db.backends.mysql",
        "thywill",
        "db.example.com",
        3306,
    )
    assert (config["CONN_MAX_AGE"], config.get("OPTIONS", {})) == (0, {})


def test_query_parameters_of_a_mysql_url_are_its_options() -> None:
    config = database("mysql://thywill@db/thywill?isolation_level=repeatable+read")
    assert config["OPTIONS"] == {"isolation_level": "repeatable read"}


def test_a_sqlite_url_gets_wal_and_immediate_transactions() -> None:
    config = database("sqlite:////srv/thywill/db.sqlite3")
    assert config["NAME"] == "/srv/thywill/db.sqlite3"
    assert config["OPTIONS"] == {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
