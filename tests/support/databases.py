"""The tests' databases: SQLite, or MySQL/MariaDB when THYWILL_TEST_DATABASE_URL names one.

In-process tests run on pytest-django's test database (tests/settings.py). Every live
server gets a ``LiveDatabase`` of its own (the servers of a cluster share one): a SQLite
file in its work directory or, on MySQL, a database created here in utf8mb4, migrated by
the server's ``manage.py migrate`` and dropped at the end of the session. Every database
of a run is named after the run's process, so runs sharing one MySQL server never meet.

``python -m tests.support.databases URL`` checks that a MySQL server answers at URL
(``./dev test-mysql`` runs it before the tests).
"""

from __future__ import annotations

import os
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import dj_database_url

TEST_DATABASE_URL = os.environ.get("THYWILL_TEST_DATABASE_URL", "")
"""The MySQL server of the test run, as a mysql:// URL; empty: SQLite."""
CHARSET = "utf8mb4"
COLLATION = "utf8mb4_unicode_ci"
TIMEOUT = 10
"""Seconds to wait for the MySQL server to accept a connection, or to answer a query."""


def is_mysql(url: str) -> bool:
    return bool(dj_database_url.parse(url)["ENGINE"] == "django.db.backends.mysql")


def run_database_name(url: str) -> str:
    """The name of this run's in-process test database on the server at ``url``."""
    return f"test_{dj_database_url.parse(url)['NAME'] or 'thywill'}_{os.getpid()}"


def redacted(url: str) -> str:
    """``url`` without its password, fit for a message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def mysql_connect(url: str, database: str | None = None) -> Any:
    """A MySQLdb connection to the server at ``url``, on ``database`` or on none."""
    import MySQLdb  # installed by ./dev mysql-deps only

    config = dj_database_url.parse(url)
    params: dict[str, Any] = {
        "user": config["USER"],
        "password": config["PASSWORD"],
        "charset": CHARSET,
        "connect_timeout": TIMEOUT,
        "read_timeout": TIMEOUT,
        "write_timeout": TIMEOUT,
    }
    host = config["HOST"] or "localhost"
    if host.startswith("/"):
        params["unix_socket"] = host
    else:
        params.update(host=host, port=int(config["PORT"] or 3306))
    if database is not None:
        params["database"] = database
    return MySQLdb.connect(**params)


def count_query(table: str, where: dict[str, str], placeholder: str) -> str:
    conditions = " AND ".join(f"{column} = {placeholder}" for column in where) or "1 = 1"
    return f"SELECT COUNT(*) FROM {table} WHERE {conditions}"


class LiveDatabase(Protocol):
    """The database of one live server, or of the servers of one cluster."""

    url: str
    """Its DATABASE_URL."""

    def count(self, table: str, **where: str) -> int:
        """How many rows of ``table`` have the given column values."""
        ...

    def drop(self) -> None: ...


class SqliteLiveDatabase:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"

    def count(self, table: str, **where: str) -> int:
        with closing(sqlite3.connect(self.path, timeout=TIMEOUT)) as db:
            [(count,)] = db.execute(count_query(table, where, "?"), tuple(where.values()))
        return int(count)

    def drop(self) -> None:
        """Nothing to do: the file goes with the session's temporary directory."""


class MysqlLiveDatabase:
    def __init__(self, server_url: str, name: str) -> None:
        self.server_url = server_url
        self.name = name
        self.url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
        with closing(mysql_connect(server_url)) as db, closing(db.cursor()) as cursor:
            cursor.execute(
                f"CREATE DATABASE `{name}` CHARACTER SET {CHARSET} COLLATE {COLLATION}"
            )

    def count(self, table: str, **where: str) -> int:
        with closing(mysql_connect(self.url, self.name)) as db:
            with closing(db.cursor()) as cursor:
                cursor.execute(count_query(table, where, "%s"), tuple(where.values()))
                [(count,)] = cursor.fetchall()
        return int(count)

    def drop(self) -> None:
        with closing(mysql_connect(self.server_url)) as db, closing(db.cursor()) as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{self.name}`")

    def kill_connections(self) -> None:
        """Drop every connection to this database, as a server restart or its
        ``wait_timeout`` does."""
        with closing(mysql_connect(self.server_url)) as db, closing(db.cursor()) as cursor:
            cursor.execute(
                "SELECT ID FROM information_schema.PROCESSLIST"
                " WHERE DB = %s AND ID <> CONNECTION_ID()",
                (self.name,),
            )
            for (connection_id,) in cursor.fetchall():
                cursor.execute(f"KILL {int(connection_id)}")


class LiveDatabases:
    """Makes the live servers' databases, on SQLite or on the MySQL server at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.made: list[LiveDatabase] = []

    def new(self, workdir: Path) -> LiveDatabase:
        """A new, empty database (the first server to use it migrates it)."""
        database: LiveDatabase
        if self.url:
            name = f"{run_database_name(self.url)}_live{len(self.made) + 1}"
            database = MysqlLiveDatabase(self.url, name)
        else:
            database = SqliteLiveDatabase(workdir / "live.sqlite3")
        self.made.append(database)
        return database

    def drop_all(self) -> None:
        for database in self.made:
            database.drop()
        self.made.clear()


def main(url: str) -> int:
    """Print the version of the MySQL server at ``url``; 1 when none answers."""
    import MySQLdb

    try:
        with closing(mysql_connect(url)) as db, closing(db.cursor()) as cursor:
            cursor.execute("SELECT VERSION()")
            [(version,)] = cursor.fetchall()
    except MySQLdb.Error as exc:
        print(f"No MySQL/MariaDB server answers at {redacted(url)}: {exc}", file=sys.stderr)
        return 1
    print(f"MySQL/MariaDB {version} at {redacted(url)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
