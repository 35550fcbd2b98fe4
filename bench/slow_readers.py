"""Slow readers (issue 14): what clients that stop reading can make a server hold.

    .venv/bin/python bench/slow_readers.py                 # Daphne, 6 readers, 400 x 60 KB
    .venv/bin/python bench/slow_readers.py --server uvicorn

One server process on 127.0.0.1 (``bench.settings``: the in-memory push backend, the
benchmark application, whose clients all follow the group ``all``). ``--readers``
WebSocket clients open their feed and then never read again; one more client
broadcasts ``--messages`` messages of ``--size`` characters to the group, each send
answered before the next. The server's RSS is sampled every 0.2 s: the baseline with
the readers connected, the peak while the broadcasts go out, and the end once the
readers have closed.

Run once with THYWILL_LIMITS["MAX_STREAM_BYTES"] at its default (8 MiB) and once
with it at 1 GiB, which is the behaviour before the bound (nothing ends a stream): on
Daphne, which buffers every write, the growth in the second run is about readers x
messages x size. Results: ``bench/results/slow-readers-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import websockets
from http11 import HttpConnection
from processes import (
    HOST,
    ROOT,
    Process,
    free_port,
    git_commit,
    health_ok,
    migrate,
    server_env,
)
from soak import rss_bytes
from thywill_client import Page, check_sent, load_page

INIT = "/thywill/bench/init/"
STEP_TIMEOUT = 15.0
UNBOUNDED = 1024**3
"""MAX_STREAM_BYTES for the run without the bound."""


def server_command(server: str, port: int) -> list[str]:
    app = "thywill_server.asgi:application"
    if server == "daphne":
        return [sys.executable, "-m", "daphne", "-b", HOST, "-p", str(port), app]
    return [
        *(sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port)),
        *("--no-access-log", "--timeout-graceful-shutdown", "2"),
    ]


async def open_reader(port: int) -> websockets.ClientConnection:
    """A client whose feed is open and which reads nothing after its ``open`` frame."""
    home = HttpConnection(HOST, port)
    try:
        page = await asyncio.wait_for(load_page(home, INIT), STEP_TIMEOUT)
    finally:
        home.close()
    url = f"ws://{HOST}:{port}" + page.feed_target("websocket", "")
    headers = {"Origin": f"http://{HOST}:{port}", "Cookie": page.cookie_header}
    ws = await asyncio.wait_for(
        websockets.connect(url, additional_headers=headers, max_size=None, max_queue=1),
        STEP_TIMEOUT,
    )
    await ws.send(page.auth_frame)
    frame = json.loads(await asyncio.wait_for(ws.recv(), STEP_TIMEOUT))
    if frame["type"] != "open":
        raise RuntimeError(f"the reader's feed did not open: {frame}")
    # Keep the kernel's share small: the server's buffers are what is measured.
    ws.transport.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_RCVBUF, 4096
    )
    return ws


async def broadcast(port: int, messages: int, size: int) -> None:
    """Broadcast ``messages`` texts of ``size`` characters to the group, one at a time."""
    home = HttpConnection(HOST, port)
    origin = f"http://{HOST}:{port}"
    try:
        page: Page = await asyncio.wait_for(load_page(home, INIT), STEP_TIMEOUT)
        headers = {**page.send_headers(origin), "Content-Type": "application/json"}
        for seq in range(1, messages + 1):
            data = {"type": "broadcast", "data": f"{seq:06d}" + "x" * (size - 6)}
            response = await asyncio.wait_for(
                home.request(
                    "POST", page.endpoint("send"), headers, page.send_body(seq, data)
                ),
                STEP_TIMEOUT,
            )
            check_sent(json.loads(response.body)["results"])
    finally:
        home.close()


async def measure(args: argparse.Namespace, port: int, pid: int) -> dict[str, Any]:
    samples: list[tuple[float, int]] = []
    start = time.monotonic()

    async def sample(stop: asyncio.Event) -> None:
        while not stop.is_set():
            samples.append((time.monotonic() - start, rss_bytes(pid)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)

    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(stop))
    readers = [await open_reader(port) for _ in range(args.readers)]
    await asyncio.sleep(2)
    baseline = samples[-1][1]
    sent_at = time.monotonic() - start
    await broadcast(port, args.messages, args.size)
    await asyncio.sleep(args.settle)
    held = samples[-1][1]
    peak = max(rss for t, rss in samples if t >= sent_at)
    for ws in readers:
        ws.transport.abort()
    await asyncio.sleep(args.settle)
    stop.set()
    await sampler
    mb = 1e6
    return {
        "baseline_mb": round(baseline / mb, 1),
        "peak_mb": round(peak / mb, 1),
        "held_mb": round(held / mb, 1),
        "growth_mb": round((peak - baseline) / mb, 1),
        "end_mb": round(samples[-1][1] / mb, 1),
        "written_mb": round(args.readers * args.messages * args.size / mb, 1),
    }


def run(args: argparse.Namespace, max_stream_bytes: int | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="thywill-slow-") as work:
        env = server_env(
            Path(work) / "db.sqlite3", None, "slow", secrets.token_hex(16), "bench.settings"
        )
        if max_stream_bytes is not None:
            env["THYWILL_BENCH_MAX_STREAM_BYTES"] = str(max_stream_bytes)
        migrate(env)
        port = free_port()
        log = Path(work) / "server.log"
        server = Process(args.server, server_command(args.server, port), port, log, env)
        try:
            server.wait_until(lambda: health_ok(port), "healthy")
            result = asyncio.run(measure(args, port, server.pid))
        finally:
            server.stop()
    result["max_stream_bytes"] = max_stream_bytes or "default (8 MiB)"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=("daphne", "uvicorn"), default="daphne")
    parser.add_argument("--readers", type=int, default=6)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--size", type=int, default=60_000, help="characters a message")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds")
    args = parser.parse_args()
    runs = [run(args, None), run(args, UNBOUNDED)]
    result = {
        "options": vars(args),
        "runs": runs,
        "commit": git_commit(),
        "cpus": os.cpu_count(),
    }
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = ROOT / "bench" / "results" / f"slow-readers-{stamp}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    print(f"results: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
