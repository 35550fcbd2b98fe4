"""Start thywill for the peer harness: the command of its ``("cmd", ...)`` launcher.

    .venv/bin/python bench/peers_server.py --port 8120                   # one process
    .venv/bin/python bench/peers_server.py --port 8121 --redis-port 6390  # two, Redis

The harness pins the command to a CPU with taskset and measures the pid it started, so
this process becomes the server: it prepares the database, then replaces itself with
uvicorn serving thywill on ``--port`` (``exec``, same pid, same CPU). Settings are
``bench.settings``: production-like, a fresh copy of a migrated SQLite file per start
(in ``THYWILL_BENCH_DIR``, default a directory of the system's temporary one).

With ``--redis-port``, thywill uses the Redis push backend there, and a second server
process listens on ``--port`` + ``PAIR_PORT_OFFSET`` with the same settings, secret key
and key prefix, started before the first and tied to it (it ends when the first ends,
however that ends). Both run on the CPU the harness gave this command.

uvicorn runs as the harness runs its peers: uvloop, httptools, the websockets package,
a listen backlog of 2048, 3 s of graceful shutdown, no access log.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sqlite3
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import processes
from processes import HOST, ROOT

PAIR_PORT_OFFSET = 1000
"""The second process of the Redis scenario listens this far above the first."""
SETTINGS = "bench.settings"
UVICORN_OPTIONS = (
    *("--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio"),
    *("--backlog", "2048", "--timeout-graceful-shutdown", "3"),
)
"""What the harness gives its uvicorn peers (uvicorn[standard]), made explicit."""
TEMPLATE = "template.sqlite3"


def workdir() -> Path:
    """Where the databases live: THYWILL_BENCH_DIR, or a fixed temporary directory."""
    configured = os.environ.get("THYWILL_BENCH_DIR")
    path = Path(configured) if configured else Path(tempfile.gettempdir()) / "thywill-peers"
    path.mkdir(parents=True, exist_ok=True)
    return path


def fresh_database(directory: Path, port: int) -> Path:
    """A new copy of the migrated template (migrated on first use) for one server start.

    The template is made once per directory: ``bench/run`` gives every run its own.
    """
    template = directory / TEMPLATE
    if not template.exists():
        building = directory / f"building-{os.getpid()}.sqlite3"
        processes.migrate(processes.server_env(building, None, "-", "migrate", SETTINGS))
        building.replace(template)
    database = directory / f"server-{port}.sqlite3"
    for stale in directory.glob(f"{database.name}*"):
        stale.unlink()
    with (
        contextlib.closing(sqlite3.connect(template)) as source,
        contextlib.closing(sqlite3.connect(database)) as copy,
    ):
        source.backup(copy)
    return database


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="where to listen")
    parser.add_argument(
        "--redis-port", type=int, help="Redis on 127.0.0.1: two processes through it"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> None:
    args = parse(argv)
    directory = workdir()
    redis_url = None if args.redis_port is None else f"redis://{HOST}:{args.redis_port}/0"
    env = processes.server_env(
        fresh_database(directory, args.port),
        redis_url,
        f"bench{secrets.token_hex(4)}",
        secrets.token_urlsafe(40),
        SETTINGS,
    )
    if redis_url is not None:
        # Our own output is the harness's server log: the second process writes there too.
        processes.start_thywill(
            None,
            env,
            None,
            port=args.port + PAIR_PORT_OFFSET,
            options=UVICORN_OPTIONS,
            tied=True,
        )
    os.chdir(ROOT)
    command = processes.uvicorn_command(args.port, UVICORN_OPTIONS)
    sys.stdout.flush()
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main(sys.argv[1:])
