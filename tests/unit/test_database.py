"""The database settings, and the database the in-process suite runs on."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.apps.models import Departure
from tests.support.databases import TEST_DATABASE_URL
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


@pytest.mark.django_db(transaction=True)
def test_the_suite_runs_on_the_database_it_was_asked_for() -> None:
    assert connection.vendor == ("mysql" if TEST_DATABASE_URL else "sqlite")


@pytest.mark.django_db(transaction=True)
def test_text_outside_the_basic_multilingual_plane_round_trips() -> None:
    """Four-byte UTF-8 is stored as it is: on MySQL, utf8mb4 tables and connections."""
    text = "naïve 🎉 𝄞"
    Departure.objects.create(client_id=text)
    assert Departure.objects.get().client_id == text
