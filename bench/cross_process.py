"""Cross-process benchmark: thywill on the Redis push backend, one process against two.

Each tab (a simulated browser) loads ``/thywill/init/`` on server A and sends to the
echo application on A, which replies to the sender; the tab reads the echo from its
feed: on A ("one" process) or on server B ("two" processes, so every message crosses
from A to B through Redis). Every tab runs a closed loop: send, wait for the echo,
send again. Each message carries its send time, so the receiver measures send→receive
latency; throughput is echoes received per second of the measured window.

The benchmark starts its own redis-server and uvicorn processes on 127.0.0.1 (servers
pinned one per CPU with taskset), runs the scenarios interleaved ``--repeat`` times,
prints medians and appends JSON lines to ``bench/results/cross_process.jsonl``.

    .venv/bin/python bench/cross_process.py [--clients 100] [--duration 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import datetime
import json
import os
import platform
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import processes
import redis.asyncio as aioredis
from processes import HOST, ROOT, Process, cpu_seconds
from thywill_client import NETWORK_ERRORS, RejectedError, Server, ThywillTab, Transport

RESULTS = Path(__file__).resolve().parent / "results" / "cross_process.jsonl"
SCENARIOS = {"one": 1, "two": 2}
"""Scenario name → how many server processes it runs (the feed is on the last one)."""
DATABASE = "bench.sqlite3"
"""The SQLite file of a run, in its temporary directory."""
CONNECT_CONCURRENCY = 10
CONNECT_TIMEOUT = 15.0
CONNECT_BUDGET = 120.0
CLOSE_BUDGET = 10.0
ERROR_PAUSE = 0.05
now = time.perf_counter


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    """What the command line chose."""

    clients: int
    duration: float
    warmup: float
    repeat: int
    transports: tuple[Transport, ...]
    scenarios: tuple[str, ...]
    reply_timeout: float
    max_per_tab: int
    pin: bool


@dataclasses.dataclass(slots=True)
class Tally:
    """What the tabs measured: only round trips inside the window count."""

    start: float
    end: float
    latencies: list[float] = dataclasses.field(default_factory=list)
    delivered: int = 0
    timeouts: int = 0
    errors: collections.Counter[str] = dataclasses.field(
        default_factory=collections.Counter
    )

    def record(self, sent: float, received: float) -> None:
        """One echo arrived: count it if received in the window, time it if sent in it."""
        if self.start <= received <= self.end:
            self.delivered += 1
            if sent >= self.start:
                self.latencies.append(received - sent)


class Inbox:
    """A tab's awaited echoes, by message number; resolves each with its latency."""

    def __init__(self) -> None:
        self._waiting: dict[int, asyncio.Future[tuple[float, float]]] = {}

    def expect(self, number: int) -> asyncio.Future[tuple[float, float]]:
        """A future resolved with ``(sent, received)`` when message ``number`` echoes."""
        future = asyncio.get_running_loop().create_future()
        self._waiting[number] = future
        return future

    def forget(self, number: int) -> None:
        self._waiting.pop(number, None)

    def on_message(self, data: Any) -> None:
        """The tab's callback: match the echo to its sender by number."""
        received = now()
        future = self._waiting.pop(data["n"], None)
        if future is not None and not future.done():
            future.set_result((float(data["sent"]), received))


# --- one run ---------------------------------------------------------------------------


async def open_tabs(
    home: Server, feed: Server, transport: Transport, count: int
) -> tuple[list[tuple[ThywillTab, Inbox]], collections.Counter[str]]:
    """Connect ``count`` tabs, a few at a time, each and all within bounded time."""
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    failures: collections.Counter[str] = collections.Counter()
    deadline = now() + CONNECT_BUDGET

    async def one() -> tuple[ThywillTab, Inbox] | None:
        inbox = Inbox()
        tab = ThywillTab(home, feed, transport, inbox.on_message)
        async with gate:
            try:
                await tab.connect(min(CONNECT_TIMEOUT, max(0.0, deadline - now())))
            except (*NETWORK_ERRORS, RejectedError) as error:
                failures[type(error).__name__] += 1
                await tab.close()
                return None
        return tab, inbox

    opened = await asyncio.gather(*(one() for _ in range(count)))
    return [pair for pair in opened if pair is not None], failures


async def drive(tab: ThywillTab, inbox: Inbox, tally: Tally, options: Options) -> None:
    """Send, wait for the echo, repeat, until the window ends (or the count cap)."""
    for number in range(1, options.max_per_tab + 1):
        sent = now()
        if sent >= tally.end or tab.closed:
            return
        echo = inbox.expect(number)
        try:
            await tab.send({"n": number, "sent": sent}, options.reply_timeout)
            async with asyncio.timeout(options.reply_timeout):
                sent_at, received = await echo
        except TimeoutError:
            tally.timeouts += 1
            inbox.forget(number)
            continue
        except (*NETWORK_ERRORS, RejectedError) as error:
            tally.errors[type(error).__name__] += 1
            inbox.forget(number)
            await asyncio.sleep(ERROR_PAUSE)
            continue
        tally.record(sent_at, received)


async def cpu_usage(pids: dict[str, int], start: float, end: float) -> dict[str, float]:
    """Each process's CPU use over ``[start, end]``, in percent of one core."""
    await asyncio.sleep(max(0.0, start - now()))
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    began = now()
    await asyncio.sleep(max(0.0, end - now()))
    elapsed = now() - began
    usage = {}
    for name, pid in pids.items():
        first, last = before[name], cpu_seconds(pid)
        if first is not None and last is not None and elapsed > 0:
            usage[name] = round(100 * (last - first) / elapsed, 1)
    return usage


async def redis_commands(url: str, start: float, end: float) -> dict[str, int]:
    """The commands Redis ran over ``[start, end]``, by name (those a script called
    included, each script call counted once more as ``evalsha``); not our own INFO."""
    client = aioredis.Redis.from_url(url, socket_timeout=5.0)
    try:
        await asyncio.sleep(max(0.0, start - now()))
        before = await client.info("commandstats")
        await asyncio.sleep(max(0.0, end - now()))
        after = await client.info("commandstats")
    finally:
        await client.aclose()
    counts = {}
    for key, stats in after.items():
        name = key.removeprefix("cmdstat_")
        calls = stats["calls"] - before.get(key, {}).get("calls", 0)
        if calls and name != "info":
            counts[name] = calls
    return counts


async def measure(
    home: Server,
    feed: Server,
    transport: Transport,
    pids: dict[str, int],
    redis_url: str,
    options: Options,
) -> dict[str, Any]:
    """Connect the tabs, run the closed loops, and return this run's figures."""
    tabs, failures = await open_tabs(home, feed, transport, options.clients)
    try:
        start = now() + options.warmup
        tally = Tally(start, start + options.duration)
        sampler = asyncio.create_task(cpu_usage(pids, tally.start, tally.end))
        counter = asyncio.create_task(redis_commands(redis_url, tally.start, tally.end))
        loops = [
            asyncio.create_task(drive(tab, inbox, tally, options)) for tab, inbox in tabs
        ]
        limit = options.warmup + options.duration + 2 * options.reply_timeout + 5
        _, late = await asyncio.wait([sampler, counter, *loops], timeout=limit)
        for task in late:
            task.cancel()
        usage = {} if sampler in late else sampler.result()
        commands = {} if counter in late or counter.exception() else counter.result()
        failures["feed_lost"] += sum(tab.error is not None for tab, _ in tabs)
    finally:
        await close_tabs([tab for tab, _ in tabs])
    return figures(tally, options, len(tabs), failures, usage, commands)


async def close_tabs(tabs: list[ThywillTab]) -> None:
    """Close every tab, all within CLOSE_BUDGET seconds."""
    if tabs:
        await asyncio.wait(
            [asyncio.create_task(tab.close()) for tab in tabs], timeout=CLOSE_BUDGET
        )


def figures(
    tally: Tally,
    options: Options,
    connected: int,
    failures: collections.Counter[str],
    usage: dict[str, float],
    commands: dict[str, int],
) -> dict[str, Any]:
    """A run's JSON record (``failures``: tabs that did not connect or lost their feed;
    ``commands``: what Redis ran in the window, by name)."""
    ordered = sorted(tally.latencies)
    rate = tally.delivered / options.duration
    return {
        "connected": connected,
        "failures": {kind: count for kind, count in failures.items() if count},
        "messages_per_s": round(rate, 1),
        "server_cpu_ms_per_message": server_cpu_per_message(usage, rate),
        # What bounds a scale-out on one Redis: a core of it serves 1e6 / this.
        "redis_cpu_us_per_message": (
            round(usage["redis"] * 1e4 / rate, 1) if "redis" in usage and rate else None
        ),
        "redis_commands_per_message": per_message(sum(commands.values()), tally),
        "redis_scripts_per_message": per_message(
            commands.get("evalsha", 0) + commands.get("eval", 0), tally
        ),
        "redis_commands": commands,
        "latency_ms": {
            f"p{q}": round(1000 * percentile(ordered, q), 2) if ordered else None
            for q in (50, 90, 99)
        },
        "timed": len(ordered),
        "timeouts": tally.timeouts,
        "errors": dict(tally.errors),
        "cpu_percent": usage,
    }


def server_cpu_per_message(usage: dict[str, float], rate: float) -> float | None:
    """CPU milliseconds all server processes spent per echo: less noisy than latency
    on a shared machine, as it counts the work, not the waiting for a core."""
    servers = [percent for name, percent in usage.items() if name.startswith("server")]
    if not servers or not rate:
        return None
    return round(sum(servers) * 10 / rate, 2)


def per_message(count: int, tally: Tally) -> float | None:
    """``count`` (done in the window) per echo delivered in it."""
    return round(count / tally.delivered, 2) if tally.delivered else None


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``th percentile of sorted values."""
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))
    return ordered[rank]


@contextmanager
def thywill_servers(
    count: int, workdir: Path, env: dict[str, str], pin: bool
) -> Iterator[list[Process]]:
    """``count`` server processes, server i pinned to the i-th usable CPU (round robin)."""
    cpus = processes.usable_cpus()
    with ExitStack() as stack:
        servers = []
        for index in range(count):
            cpu = cpus[index % len(cpus)] if pin else None
            server = processes.start_thywill(workdir, env, cpu)
            stack.callback(server.stop)
            servers.append(server)
        yield servers


def run_once(
    scenario: str,
    transport: Transport,
    redis: Process,
    redis_url: str,
    workdir: Path,
    options: Options,
) -> dict[str, Any]:
    """Start the scenario's servers on a fresh key prefix, measure, stop them."""
    env = processes.server_env(
        workdir / DATABASE,
        redis_url,
        f"bench{secrets.token_hex(4)}",
        secrets.token_urlsafe(40),
    )
    with thywill_servers(SCENARIOS[scenario], workdir, env, options.pin) as servers:
        home, feed = servers[0], servers[-1]
        pids = {f"server{i}": server.pid for i, server in enumerate(servers)}
        pids |= {"redis": redis.pid, "loadgen": os.getpid()}
        result = asyncio.run(
            measure(
                Server(HOST, home.port),
                Server(HOST, feed.port),
                transport,
                pids,
                redis_url,
                options,
            )
        )
    return {"scenario": scenario, "transport": transport, **result}


# --- many runs -------------------------------------------------------------------------


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians over the repeats of each (scenario, transport)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = collections.defaultdict(list)
    for run in runs:
        groups[run["scenario"], run["transport"]].append(run)
    summary = []
    for (scenario, transport), group in groups.items():
        rates = [run["messages_per_s"] for run in group]
        summary.append(
            {
                "scenario": scenario,
                "transport": transport,
                "runs": len(group),
                "messages_per_s": statistics.median(rates),
                "messages_per_s_range": [min(rates), max(rates)],
                "latency_ms": {
                    q: median_of([run["latency_ms"][q] for run in group])
                    for q in ("p50", "p90", "p99")
                },
                **{
                    name: median_of([run[name] for run in group])
                    for name in (
                        "server_cpu_ms_per_message",
                        "redis_cpu_us_per_message",
                        "redis_commands_per_message",
                        "redis_scripts_per_message",
                    )
                },
                "timeouts": sum(run["timeouts"] for run in group),
                "errors": sum(sum(run["errors"].values()) for run in group),
                "cpu_percent": {
                    name: median_of([run["cpu_percent"].get(name) for run in group])
                    for name in group[0]["cpu_percent"]
                },
            }
        )
    return summary


def median_of(values: Sequence[float | None]) -> float | None:
    """The median of the known values, or ``None`` when none is known."""
    known = [value for value in values if value is not None]
    return round(statistics.median(known), 2) if known else None


def table(summary: list[dict[str, Any]]) -> str:
    """The summary as a plain-text table, with the two/one ratios per transport."""
    header = (
        f"{'processes':<10}{'transport':<10}{'runs':>5}{'msg/s':>9}{'range':>16}"
        f"{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'cpu ms/msg':>11}{'t/o':>5}{'err':>5}"
        f"{'redis us/msg':>13}{'cmds/msg':>9}{'scripts/msg':>12}  cpu % (median)"
    )
    lines = [header, "-" * len(header)]
    for row in summary:
        low, high = row["messages_per_s_range"]
        latency = row["latency_ms"]
        cpu = " ".join(f"{name}={value}" for name, value in row["cpu_percent"].items())
        lines.append(
            f"{row['scenario']:<10}{row['transport']:<10}{row['runs']:>5}"
            f"{row['messages_per_s']:>9.1f}{f'{low:.0f}-{high:.0f}':>16}"
            f"{fmt(latency['p50']):>9}{fmt(latency['p90']):>9}{fmt(latency['p99']):>9}"
            f"{fmt(row['server_cpu_ms_per_message']):>11}"
            f"{row['timeouts']:>5}{row['errors']:>5}"
            f"{fmt(row['redis_cpu_us_per_message']):>13}"
            f"{fmt(row['redis_commands_per_message']):>9}"
            f"{fmt(row['redis_scripts_per_message']):>12}  {cpu}"
        )
    lines.extend(ratios(summary))
    return "\n".join(lines)


def ratios(summary: list[dict[str, Any]]) -> list[str]:
    """``two / one`` for throughput and latency, per transport measured both ways."""
    rows = {(row["scenario"], row["transport"]): row for row in summary}
    lines = []
    for transport in dict.fromkeys(row["transport"] for row in summary):
        one, two = rows.get(("one", transport)), rows.get(("two", transport))
        if one is None or two is None or not one["messages_per_s"]:
            continue
        parts = [f"msg/s x{two['messages_per_s'] / one['messages_per_s']:.2f}"]
        for q in ("p50", "p99"):
            if one["latency_ms"][q] and two["latency_ms"][q]:
                parts.append(f"{q} x{two['latency_ms'][q] / one['latency_ms'][q]:.2f}")
        lines.append(f"two / one ({transport}): " + ", ".join(parts))
    return lines


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpus": len(processes.usable_cpus()),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": processes.git_commit(),
    }


def append_results(records: list[dict[str, Any]]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as out:
        for record in records:
            out.write(json.dumps(record, sort_keys=True) + "\n")


def run_all(options: Options) -> list[dict[str, Any]]:
    """Every run, scenarios interleaved within each repeat; servers restarted per run."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="thywill-bench-") as tmp:
        workdir = Path(tmp)
        with processes.redis_server(workdir) as (redis_url, redis):
            migrate_env = processes.server_env(
                workdir / DATABASE, redis_url, "bench", "migrate"
            )
            processes.migrate(migrate_env)
            for repeat in range(options.repeat):
                for transport in options.transports:
                    for scenario in options.scenarios:
                        run = run_once(
                            scenario, transport, redis, redis_url, workdir, options
                        )
                        runs.append({"repeat": repeat, **run})
                        print(progress(run), flush=True)
    return runs


def progress(run: dict[str, Any]) -> str:
    latency = run["latency_ms"]
    return (
        f"  {run['scenario']:<4} {run['transport']:<9} "
        f"{run['messages_per_s']:>8.1f} msg/s  "
        f"p50 {fmt(latency['p50'])} ms  p99 {fmt(latency['p99'])} ms  "
        f"connected {run['connected']}  timeouts {run['timeouts']}  "
        f"cpu {run['cpu_percent']}"
    )


def parse_options(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100, help="tabs (default 100)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured seconds first"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each scenario")
    parser.add_argument(
        "--transport", choices=["sse", "longpoll", "both"], default="sse", help="feed"
    )
    parser.add_argument(
        "--scenarios", default="one,two", help="comma-separated: one, two (default both)"
    )
    parser.add_argument("--reply-timeout", type=float, default=10.0, help="seconds")
    parser.add_argument("--max-per-tab", type=int, default=100_000, help="messages cap")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers to CPUs")
    args = parser.parse_args(argv)
    scenarios = tuple(name.strip() for name in args.scenarios.split(",") if name.strip())
    if not scenarios or not set(scenarios) <= set(SCENARIOS):
        parser.error(f"--scenarios: choose among {', '.join(SCENARIOS)}")
    if min(args.clients, args.repeat, args.max_per_tab) < 1 or args.duration <= 0:
        parser.error("--clients, --repeat, --max-per-tab and --duration must be positive")
    both: tuple[Transport, ...] = ("sse", "longpoll")
    return Options(
        clients=args.clients,
        duration=args.duration,
        warmup=max(0.0, args.warmup),
        repeat=args.repeat,
        transports=both if args.transport == "both" else (args.transport,),
        scenarios=scenarios,
        reply_timeout=args.reply_timeout,
        max_per_tab=args.max_per_tab,
        pin=not args.no_pin,
    )


def main(argv: Sequence[str]) -> int:
    options = parse_options(argv)
    # SIGINT and SIGTERM unwind as KeyboardInterrupt (even when started in the
    # background, where SIGINT comes ignored), so every process we started is stopped.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    bench_id = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    context = {
        "bench": "cross_process",
        "id": bench_id,
        "options": dataclasses.asdict(options),
    }
    context["machine"] = machine()
    print(f"cross_process {bench_id}: {json.dumps(context['options'])}", flush=True)
    runs = run_all(options)
    summary = summarize(runs)
    print(table(summary))
    append_results(
        [{"kind": "run", **context, **run} for run in runs]
        + [{"kind": "summary", **context, **row} for row in summary]
    )
    print(f"results appended to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("interrupted; every process started here is stopped", file=sys.stderr)
        sys.exit(130)
