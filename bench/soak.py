"""Memory soak (issue 14): clients connect, send, leave and reconnect for minutes, on all
three transports, against one thywill process; its RSS must stay flat and come back.

    .venv/bin/python bench/soak.py                   # 5 minutes of load, then the settle
    .venv/bin/python bench/soak.py --minutes 10
    .venv/bin/python bench/soak.py --short           # a smoke run: 1 minute, short settle

One uvicorn process on 127.0.0.1 (``bench.settings``: the in-memory push backend, DEBUG
off, the benchmark application) serves ``--workers`` simulated tabs. Each worker, in a
loop bounded in count and time: loads a bootstrap page (a new client, a new session),
opens its transport (WebSocket, SSE and long-poll in turn), sends ``--messages``
numbered messages and waits for each echo, closes the transport halfway and reconnects
from its cursor, then leaves. Every echo must arrive exactly once (0 lost, 0
duplicated, across the reconnect). The server's RSS is sampled every second
(psutil when installed, else /proc/<pid>/status).

With THYWILL_TRACEMALLOC_DUMP=/path/prefix, the server traces its allocations
(``bench/settings.py``) and dumps a snapshot after the warm-up and one at the end, as
``<prefix>.<unix time>``; compare them with ``tracemalloc.Snapshot.load()`` and
``compare_to()``. With THYWILL_MEMORY_STATS=/path, it appends a JSON line every 5 s of
what its RSS is made of (glibc's heap in use and freed, CPython's blocks, threads; live
objects by type once a minute).

Reported: the slope of RSS after the warm-up (MB/min, least squares), the baseline (the
median RSS of the first 10 s after the warm-up), the RSS at the end of the load, and
after every client left and ``--settle`` seconds passed (leases lapse PRESENCE_TTL,
60 s, after a client's last read; its disconnect event then frees what it held). Targets:
slope < 0.5 MB/min, end within 10 % of the baseline. Results: one JSON file in
``bench/results/soak-<timestamp>.json``, samples included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import websockets
from http11 import HttpConnection
from processes import (
    CROSS_PROCESS_OPTIONS,
    HOST,
    ROOT,
    git_commit,
    migrate,
    server_env,
    start_thywill,
)
from thywill_client import check_sent, load_page

TRANSPORTS = ("websocket", "sse", "longpoll")
INIT = "/thywill/bench/init/"
STEP_TIMEOUT = 15.0
"""The longest any one step of a worker (a page, a connect, an echo) may take."""


def rss_bytes(pid: int) -> int:
    """The resident set size of ``pid``."""
    try:
        import psutil  # type: ignore[import-untyped]

        return int(psutil.Process(pid).memory_info().rss)
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("cannot read the server's RSS")


def slope_mb_per_min(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS over time, in MB per minute."""
    xs = [t for t, _ in samples]
    ys = [r / 1e6 for _, r in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den


@dataclass
class Tally:
    clients: int = 0
    sent: int = 0
    received: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    resets: int = 0


class Feed:
    """A client's transport: ``open(cursor)``, ``receive()`` echoes, ``close()``."""

    def __init__(self, transport: str, page: Any, port: int) -> None:
        self.transport = transport
        self.page = page
        self.port = port
        self.cursor = ""
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()
        self.resets = 0
        self._task: asyncio.Task[None] | None = None
        self._ws: Any = None
        self._http: HttpConnection | None = None

    async def open(self) -> None:
        opened = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._read(opened))
        await asyncio.wait_for(opened, STEP_TIMEOUT)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), STEP_TIMEOUT)
        if self._http is not None:
            self._http.close()
        self._task = self._ws = self._http = None

    def _deliver(self, batch: dict[str, Any]) -> None:
        if batch.get("reset"):
            self.resets += 1
        for message in batch["messages"]:
            self.inbox.put_nowait(message["data"])
        self.cursor = batch["cursor"]

    async def _read(self, opened: asyncio.Future[None]) -> None:
        try:
            await self._read_feed(opened)
        except BaseException as exc:
            if not opened.done():
                opened.set_exception(exc)
            raise

    async def _read_feed(self, opened: asyncio.Future[None]) -> None:
        if self.transport == "websocket":
            url = f"ws://{HOST}:{self.port}" + self.page.feed_target(
                "websocket", self.cursor
            )
            headers = {
                "Origin": f"http://{HOST}:{self.port}",
                "Cookie": self.page.cookie_header,
            }
            async with websockets.connect(url, additional_headers=headers) as ws:
                self._ws = ws
                await ws.send(self.page.auth_frame)
                async for raw in ws:
                    frame = json.loads(raw)
                    if frame["type"] == "open":
                        opened.set_result(None)
                    elif frame["type"] == "batch":
                        self._deliver(frame)
                    elif frame["type"] == "error":
                        raise RuntimeError(frame["error"]["code"])
        elif self.transport == "sse":
            self._http = HttpConnection(HOST, self.port)
            head, body = await self._http.stream(
                self.page.feed_target("sse", self.cursor),
                self.page.feed_headers,
            )
            if head.status != 200:
                raise RuntimeError(f"sse {head.status}")
            buffer = ""
            async for piece in body:
                buffer += piece.decode()
                *blocks, buffer = buffer.split("\n\n")
                for block in blocks:
                    fields = dict(
                        line.split(": ", 1) for line in block.split("\n") if ": " in line
                    )
                    event = fields.get("event", "message")
                    if "data" not in fields:
                        continue  # the padding comment
                    if event == "open":
                        opened.set_result(None)
                    elif event == "reset":
                        self.resets += 1
                    elif event == "message":
                        self.inbox.put_nowait(json.loads(fields["data"])["data"])
                    if "id" in fields:  # an SSE id is a whole cursor: where to resume
                        self.cursor = fields["id"]
        else:
            self._http = HttpConnection(HOST, self.port)
            wait = "0"
            for _ in range(100_000):
                query = {"cursor": self.cursor}
                if wait == "0":
                    query["wait"] = "0"
                target = f"{self.page.endpoint('longpoll')}?{urlencode(query)}"
                response = await self._http.request("GET", target, self.page.feed_headers)
                if response.head.status != 200:
                    raise RuntimeError(f"longpoll {response.head.status}")
                self._deliver(json.loads(response.body))
                if not opened.done():
                    opened.set_result(None)
                wait = "1"


async def worker(index: int, port: int, until: float, messages: int, tally: Tally) -> None:
    """Clients one after another until ``until``: page, feed, sends, reconnect, leave."""
    for iteration in range(1_000_000):
        if time.monotonic() >= until:
            return
        transport = TRANSPORTS[(index + iteration) % len(TRANSPORTS)]
        home = HttpConnection(HOST, port)
        feed = None
        try:
            page = await asyncio.wait_for(load_page(home, INIT), STEP_TIMEOUT)
            tally.clients += 1
            feed = Feed(transport, page, port)
            await feed.open()
            origin = f"http://{HOST}:{port}"
            for seq in range(1, messages + 1):
                if seq == messages // 2 + 1:  # leave halfway, come back from the cursor
                    await feed.close()
                    await feed.open()
                tag = f"{index}.{iteration}.{seq}"
                headers = {**page.send_headers(origin), "Content-Type": "application/json"}
                response = await asyncio.wait_for(
                    home.request(
                        "POST", page.endpoint("send"), headers, page.send_body(seq, tag)
                    ),
                    STEP_TIMEOUT,
                )
                check_sent(json.loads(response.body)["results"])
                tally.sent += 1
                echo = await asyncio.wait_for(feed.inbox.get(), STEP_TIMEOUT)
                tally.received[echo] += 1
            # anything still queued (a duplicate would be) is counted too
            await asyncio.sleep(0.05)
            while not feed.inbox.empty():
                tally.received[feed.inbox.get_nowait()] += 1
            tally.resets += feed.resets
        except Exception as exc:  # noqa: BLE001 (counted and reported; the worker goes on)
            tally.errors[f"{transport}: {type(exc).__name__}: {exc}"[:120]] += 1
        finally:
            if feed is not None:
                await feed.close()
            home.close()


async def sample(
    pid: int,
    samples: list[tuple[float, int]],
    start: float,
    stop: asyncio.Event,
    dump_at: float | None,
) -> None:
    """RSS every second until ``stop``; at ``dump_at`` s, ask for a tracemalloc dump."""
    while not stop.is_set():
        if dump_at is not None and time.monotonic() - start >= dump_at:
            os.kill(pid, signal.SIGUSR1)  # tracemalloc snapshot after the warm-up
            dump_at = None
        samples.append((time.monotonic() - start, rss_bytes(pid)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def soak(args: argparse.Namespace, port: int, pid: int) -> dict[str, Any]:
    tally = Tally()
    samples: list[tuple[float, int]] = []
    start = time.monotonic()
    stop = asyncio.Event()
    dump_at = args.warmup if os.environ.get("THYWILL_TRACEMALLOC_DUMP") else None
    sampler = asyncio.create_task(sample(pid, samples, start, stop, dump_at))
    until = start + args.minutes * 60
    await asyncio.wait_for(
        asyncio.gather(
            *(worker(i, port, until, args.messages, tally) for i in range(args.workers))
        ),
        args.minutes * 60 + 4 * STEP_TIMEOUT * args.messages,
    )
    load_end = time.monotonic() - start
    await asyncio.sleep(args.settle)
    if os.environ.get("THYWILL_TRACEMALLOC_DUMP"):
        os.kill(pid, signal.SIGUSR1)  # the end snapshot (the first was after the warm-up)
        await asyncio.sleep(5)
    stop.set()
    await sampler
    warm = [s for s in samples if args.warmup <= s[0] <= load_end]
    baseline = statistics.median(r for t, r in warm if t <= args.warmup + 10)
    at_load_end = statistics.median(r for t, r in samples if load_end - 10 <= t <= load_end)
    end = statistics.median(r for t, r in samples if t >= samples[-1][0] - 10)
    duplicated = sum(1 for n in tally.received.values() if n > 1)
    lost = tally.sent - sum(1 for n in tally.received.values() if n >= 1)
    slope = slope_mb_per_min(warm)
    return {
        "clients": tally.clients,
        "sent": tally.sent,
        "received": sum(tally.received.values()),
        "lost": lost,
        "duplicated": duplicated,
        "resets": tally.resets,
        "errors": dict(tally.errors),
        "load_seconds": round(load_end, 1),
        "slope_mb_per_min": round(slope, 3),
        "baseline_mb": round(baseline / 1e6, 1),
        "load_end_mb": round(at_load_end / 1e6, 1),
        "end_mb": round(end / 1e6, 1),
        "end_vs_baseline": round(end / baseline - 1, 3),
        "targets_met": slope < 0.5 and end <= baseline * 1.10,
        "samples": [(round(t, 1), r) for t, r in samples],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="of load (default 5)")
    parser.add_argument("--workers", type=int, default=20, help="tabs at once (default 20)")
    parser.add_argument(
        "--messages", type=int, default=6, help="echoes per client (default 6)"
    )
    parser.add_argument("--warmup", type=float, default=90.0, help="seconds (default 90)")
    parser.add_argument("--settle", type=float, default=100.0, help="seconds (default 100)")
    parser.add_argument(
        "--max-age",
        type=float,
        default=None,
        help="the push backend's max_age in seconds (default: the site's, 3600), so "
        "that what it keeps per client that long reaches its bound within the run",
    )
    parser.add_argument(
        "--short", action="store_true", help="1 min, 20 s warm-up, 80 s settle"
    )
    args = parser.parse_args()
    if args.short:
        args.minutes, args.warmup, args.settle = 1.0, 20.0, 80.0
    with tempfile.TemporaryDirectory(prefix="thywill-soak-") as work:
        env = server_env(
            Path(work) / "db.sqlite3", None, "soak", secrets.token_hex(16), "bench.settings"
        )
        if args.max_age is not None:
            env["THYWILL_BENCH_MAX_AGE"] = str(args.max_age)
        migrate(env)
        server = start_thywill(Path(work), env, None, options=CROSS_PROCESS_OPTIONS)
        try:
            result = asyncio.run(soak(args, server.port, server.pid))
        finally:
            server.stop()
    result["options"] = vars(args)
    result["commit"] = git_commit()
    result["cpus"] = os.cpu_count()
    result["loadavg"] = os.getloadavg()
    # glibc's arena count shapes how much freed memory RSS keeps (performance.md).
    result["malloc_arena_max"] = os.environ.get("MALLOC_ARENA_MAX")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = ROOT / "bench" / "results" / f"soak-{stamp}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    summary = {k: v for k, v in result.items() if k != "samples"}
    print(json.dumps(summary, indent=1))
    print(f"results: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
