"""What an idle connection keeps, by the line that allocated it (issue 15).

    .venv-bench/bin/python bench/idle_memory.py --transport websocket
    .venv-bench/bin/python bench/idle_memory.py --transport sse --clients 500 --top 40
    .venv-bench/bin/python bench/idle_memory.py --transport websocket --deflate
    .venv-bench/bin/python bench/idle_memory.py --transport longpoll --keep-garbage

One thywill process as ``bench/run`` starts it (``bench.settings``, the harness's uvicorn
options: uvloop, httptools), tracing its allocations (``THYWILL_TRACEMALLOC_DUMP``, 10
frames). ``--warm`` clients of the benchmark application open their feed and stay idle;
the server dumps a snapshot; ``--clients`` more open theirs; it dumps another. Each dump
follows a full collection, so it holds what the connections keep; ``--keep-garbage``
counts the cyclic garbage that awaits the next collection too (the bootstrap request's,
mostly), which makes the figure vary with when the collector last ran. Printed:
the traced growth per connection, and its largest parts, each under the innermost frame
outside the standard library (the line of thywill, Django, Channels, uvicorn or
websockets that asked for it). The harness's ``idle2000`` cell measures RSS, what a
deployment pays; this says where it goes. Tracing costs memory of its own: compare
traced bytes between runs, not the RSS of a traced process with the harness's figures.
Needs ``.venv-bench`` (``bench/run`` makes it).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import secrets
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import websockets
from http11 import HttpConnection
from peers_server import UVICORN_OPTIONS
from processes import HOST, migrate, server_env, start_thywill
from thywill_client import Page, load_page

TRANSPORTS = ("websocket", "sse", "longpoll")
STEP_TIMEOUT = 15.0
"""The longest one client's page and feed may take to open."""
AT_ONCE = 50
"""Clients opening together."""


class Idle:
    """Idle clients of one transport, each with its page loaded and its feed open."""

    def __init__(self, transport: str, port: int, *, deflate: bool = False) -> None:
        self.transport = transport
        self.port = port
        self.deflate = deflate
        self.held: list[Any] = []
        self.tasks: list[asyncio.Task[Any]] = []

    async def open(self, count: int) -> None:
        for start in range(0, count, AT_ONCE):
            batch = [self.open_one() for _ in range(min(AT_ONCE, count - start))]
            await asyncio.wait_for(asyncio.gather(*batch), STEP_TIMEOUT * 4)

    async def open_one(self) -> None:
        http = HttpConnection(HOST, self.port)
        page = await asyncio.wait_for(load_page(http), STEP_TIMEOUT)
        http.close()
        cursor = str(page.config["cursor"])
        if self.transport == "websocket":
            await self.open_websocket(page, cursor)
            return
        feed = HttpConnection(HOST, self.port)
        self.held.append(feed)
        if self.transport == "sse":
            head, body = await feed.stream(
                page.feed_target("sse", cursor),
                {"Accept": "text/event-stream", **page.feed_headers},
            )
            if head.status != 200:
                raise RuntimeError(f"the SSE stream answered {head.status}")
            chunks = aiter(body)
            await asyncio.wait_for(anext(chunks), STEP_TIMEOUT)  # the open event
            self.held.append(chunks)
            return
        first = await feed.request(
            "GET", page.feed_target("longpoll", cursor, wait="0"), page.feed_headers
        )
        cursor = json.loads(first.body)["cursor"]
        waiting = feed.request(
            "GET", page.feed_target("longpoll", cursor), page.feed_headers
        )
        self.tasks.append(asyncio.create_task(waiting))

    async def open_websocket(self, page: Page, cursor: str) -> None:
        socket = await websockets.connect(
            f"ws://{HOST}:{self.port}{page.endpoint('websocket')}?cursor={cursor}",
            origin=websockets.Origin(f"http://{HOST}:{self.port}"),
            additional_headers={"Cookie": page.cookie_header},
            # The harness's clients ask for no permessage-deflate; browsers all do.
            compression="deflate" if self.deflate else None,
        )
        await socket.send(page.auth_frame)
        opened = json.loads(await asyncio.wait_for(socket.recv(), STEP_TIMEOUT))
        if opened["type"] != "open":
            raise RuntimeError(f"the socket answered {opened}")
        self.held.append(socket)


def dump(pid: int, prefix: Path) -> tracemalloc.Snapshot:
    """Have the server dump a snapshot (SIGUSR1), and load it."""
    before = set(prefix.parent.glob(prefix.name + ".*"))
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = set(prefix.parent.glob(prefix.name + ".*")) - before
        if new:
            path = new.pop()
            size = -1
            while size != path.stat().st_size:  # until the server finished writing
                size = path.stat().st_size
                time.sleep(1)
            return tracemalloc.Snapshot.load(str(path))
        time.sleep(0.2)
    raise RuntimeError("the server dumped no snapshot")


def where(traceback: tracemalloc.Traceback) -> str:
    """The innermost frame outside the standard library, as ``package/file.py:line``."""
    stdlib = os.path.dirname(os.__file__) + "/"
    root = str(Path(__file__).resolve().parents[1]) + "/"
    for frame in reversed(traceback):
        name = frame.filename
        if name.startswith(stdlib) and "site-packages" not in name:
            continue
        return f"{name.split('site-packages/')[-1].removeprefix(root)}:{frame.lineno}"
    return f"(the standard library) {traceback[-1].filename}:{traceback[-1].lineno}"


def report(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, clients: int, top: int
) -> None:
    sizes: collections.Counter[str] = collections.Counter()
    counts: collections.Counter[str] = collections.Counter()
    for stat in after.compare_to(before, "traceback"):
        key = where(stat.traceback)
        sizes[key] += stat.size_diff
        counts[key] += stat.count_diff
    total = sum(sizes.values())
    print(f"traced growth: {total / clients / 1024:.1f} KB per connection")
    print(f"{'bytes':>8} {'blocks':>7}  allocated at")
    for key, size in sizes.most_common(top):
        print(f"{size / clients:8.0f} {counts[key] / clients:7.1f}  {key}")


async def measure(args: argparse.Namespace, port: int, pid: int, prefix: Path) -> None:
    idle = Idle(args.transport, port, deflate=args.deflate)
    await idle.open(args.warm)
    await asyncio.sleep(3)
    before = dump(pid, prefix)
    await idle.open(args.clients)
    await asyncio.sleep(3)
    after = dump(pid, prefix)
    report(before, after, args.clients, args.top)
    for task in idle.tasks:
        task.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transport", choices=TRANSPORTS, default="websocket")
    parser.add_argument("--clients", type=int, default=300, help="measured (default 300)")
    parser.add_argument("--warm", type=int, default=50, help="before the first snapshot")
    parser.add_argument("--top", type=int, default=30, help="lines shown (default 30)")
    parser.add_argument(
        "--deflate", action="store_true", help="WebSockets ask for permessage-deflate"
    )
    parser.add_argument(
        "--keep-garbage",
        action="store_true",
        help="no full collection before each snapshot: count cyclic garbage too",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="thywill-idle-") as work:
        prefix = Path(work) / "snapshot"
        env = server_env(
            Path(work) / "db.sqlite3", None, "idle", secrets.token_hex(16), "bench.settings"
        )
        env["THYWILL_TRACEMALLOC_DUMP"] = str(prefix)
        if not args.keep_garbage:
            env["THYWILL_TRACEMALLOC_COLLECT"] = "1"
        migrate(env)
        server = start_thywill(Path(work), env, None, options=UVICORN_OPTIONS)
        try:
            asyncio.run(measure(args, server.port, server.pid, prefix))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
