"""Micro-benchmark: the cost of running one event through a flow, pipes and core alone.

The pipes are the demo site's default pipeline (TracePipe logging at DEBUG, which a
production log discards, and a RateLimitPipe that never refuses) around a core that does
nothing, so the figure is the pipeline's own overhead per event: what issue 15 measured
as the shield's allocations and a trace line built for nobody. It also counts the full
(generation 2) garbage collections the run triggered.

    PYTHONPATH=. .venv/bin/python bench/flow.py [--events 20000] [--repeat 5]

``--scenario send`` measures a whole send instead: one message through the event
runner (``handle_messages``: the client's lock and sequence, the flow with the test
settings' pipeline, the echo application's handler, the reply published) on the
in-memory push backend, which is where the metrics hooks are; ``--metrics`` turns
Prometheus metrics on for it (documentation/operations.md#metrics). It uses nothing of
``thywill.metrics`` otherwise, so the same script measures a checkout without them.

Prints the median microseconds per event and appends a JSON line to
``bench/results/flow.jsonl``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from thywill.pipeline.event import Event  # noqa: E402
from thywill.pipeline.flow import Flow  # noqa: E402
from thywill.pipeline.pipes import RateLimitPipe, TracePipe  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "flow.jsonl"


class _Context:
    """The two attributes of a handler context that the pipes read."""

    client_id = "Qx3abcdefghijklmnopqrs"
    application = "echo"


async def _core(event: Event, **kwargs: Any) -> None:
    return None


async def measure(events: int, repeat: int) -> dict[str, Any]:
    pipes = [TracePipe(level="DEBUG"), RateLimitPipe(rate=10**9, per=1.0)]
    flow = Flow(pipes, "message", _core)
    event = Event("message", _Context())  # type: ignore[arg-type]
    for _ in range(min(events, 2000)):  # warm up
        await flow(event)
    gc.collect()
    full_before = gc.get_stats()[2]["collections"]
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(events):
            await flow(event)
        samples.append((time.perf_counter() - started) / events * 1e6)
    return {
        "us_per_event": round(statistics.median(samples), 2),
        "samples": [round(s, 2) for s in samples],
        "full_gcs": gc.get_stats()[2]["collections"] - full_before,
    }


async def measure_send(events: int, repeat: int, *, metrics_on: bool) -> dict[str, Any]:
    from thywill.identity.tokens import ClientIdentity, new_client_id
    from thywill.wire.inbound import InboundMessage
    from thywill.wiring.runtime import get_runtime

    runtime = get_runtime()
    if metrics_on:
        from thywill import metrics

        metrics.enable()
    app = runtime.application("echo")
    identity = ClientIdentity(new_client_id(), "echo", "h" * 32)
    handle = runtime.events.handle_messages
    seq = 0

    async def run(count: int) -> None:
        nonlocal seq
        for _ in range(count):
            seq += 1
            await handle(app, identity, [InboundMessage(seq, "ping")])

    await run(min(events, 2000))  # warm up
    gc.collect()
    full_before = gc.get_stats()[2]["collections"]
    samples, cpu_samples = [], []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        await run(events)
        samples.append((time.perf_counter() - started) / events * 1e6)
        # CPU time too: on a shared machine the wall clock also counts others' turns.
        cpu_samples.append((time.process_time() - cpu_started) / events * 1e6)
    return {
        "us_per_event": round(statistics.median(samples), 2),
        "cpu_us_per_event": round(statistics.median(cpu_samples), 2),
        "samples": [round(s, 2) for s in samples],
        "full_gcs": gc.get_stats()[2]["collections"] - full_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scenario", choices=["flow", "send"], default="flow")
    parser.add_argument("--metrics", action="store_true", help="send: metrics on")
    options = parser.parse_args()
    if options.scenario == "send":
        figures = asyncio.run(
            measure_send(options.events, options.repeat, metrics_on=options.metrics)
        )
        figures = {"scenario": "send", "metrics": options.metrics, **figures}
    else:
        figures = asyncio.run(measure(options.events, options.repeat))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    record = {
        "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "events": options.events,
        **figures,
    }
    with RESULTS.open("a") as results:
        results.write(json.dumps(record) + "\n")
    cpu = figures.get("cpu_us_per_event")
    print(
        f"{figures['us_per_event']} µs per event (median of {options.repeat})"
        + ("" if cpu is None else f", {cpu} µs of CPU")
        + f", {figures['full_gcs']} full collections"
    )


if __name__ == "__main__":
    main()
