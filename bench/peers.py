"""thywill in the peer harness's matrix: its ``run_all.py``, with thywill's systems added.

Run by ``bench/run`` with the harness's own Python (its venv), so that thywill, the raw
ASGI ceiling and the peers are measured in one invocation, by one orchestrator and one
load generator. The harness's files are not changed: this imports its ``run_all``,
appends thywill to its ``SYSTEMS`` (and the ``idle10000`` scenario to its ``SCEN``), and
calls its ``main()`` with our command line (``--quick``, ``--repeat N``, ``--only``,
``--out``, ... as ``run_all.py --help`` lists them).

The two thywill systems start their servers through ``peers_server.py``, with the venv
``THYWILL_BENCH_VENV`` names (``bench/run`` makes ``.venv-bench`` on the interpreter of the
harness's venv, so that thywill and its peers run on one Python), pinned like every other
server by the harness:

- ``thywill``: one process, the in-memory push backend; WebSocket, SSE and long-poll
  through every scenario, and ``idle10000``;
- ``thywill-redis``: two processes through the harness's Redis; the round trip with 100
  clients, the page from one process and the feed on the other (``peers_adapter.py``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import processes

ROOT = Path(__file__).resolve().parent.parent
IDLE_10000 = "idle10000"
ONE_PROCESS = ("thywill-ws", "thywill-sse", "thywill-longpoll")
TWO_PROCESSES = ("thywill-ws-x", "thywill-sse-x", "thywill-longpoll-x")
WS_SENDS_POSTED = "thywill-ws-xpost"
"""Measured beside them, not a target: a WebSocket whose sends go by POST to the other
process (the shape of ``-sse-x`` and ``-longpoll-x``)."""


def harness() -> Path:
    """The peer harness: THYWILL_PEERS_HARNESS, or ``shared/peers`` beside the project."""
    configured = os.environ.get("THYWILL_PEERS_HARNESS")
    return Path(configured) if configured else ROOT.parent / "shared" / "peers"


def import_harness(module: str) -> Any:
    """One of the harness's ``bench/`` modules (``run_all``, ``report``)."""
    directory = str(harness() / "bench")
    if directory not in sys.path:
        sys.path.insert(0, directory)
    return importlib.import_module(module)


def thywill_python() -> Path:
    """The Python thywill's servers run on: ``THYWILL_BENCH_VENV``'s (``bench/run`` makes
    it on the peers' interpreter), or the project's ``.venv``."""
    venv = os.environ.get("THYWILL_BENCH_VENV")
    return (Path(venv) if venv else ROOT / ".venv") / "bin" / "python"


def thywill_systems(full: list[str], quick: bool) -> list[tuple[Any, ...]]:
    """thywill's rows of the harness's ``SYSTEMS``: key, label, launcher, env, adapters."""
    python = thywill_python()
    server = f"{python} {ROOT / 'bench' / 'peers_server.py'} --port {{port}}"
    scenarios = full if quick else [*full, IDLE_10000]
    return [
        (
            "thywill",
            "thywill (uvicorn)",
            ("cmd", server),
            {},
            [(adapter, scenarios) for adapter in ONE_PROCESS],
        ),
        (
            "thywill-redis",
            "thywill + Redis, two processes (uvicorn)",
            ("cmd", server + " --redis-port {redis_port}"),
            {},
            [(adapter, ["rt100"]) for adapter in (*TWO_PROCESSES, WS_SENDS_POSTED)],
        ),
    ]


def record_start(argv: list[str]) -> None:
    """``run.json`` in the results directory: the options, thywill's commit and the
    machine's load."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--out")
    out = parser.parse_known_args(argv)[0].out
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        about = {
            "argv": [arg for arg in argv if arg != out and arg != "--out"],
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "load_average": [round(load, 2) for load in os.getloadavg()],
            "commit": processes.git_commit(),
        }
        (Path(out) / "run.json").write_text(json.dumps(about) + "\n")


def main(argv: list[str]) -> None:
    record_start(argv)
    run_all = import_harness("run_all")
    run_all.SCEN[IDLE_10000] = {"scenario": "idle", "clients": 10_000}
    # Right after the raw ceiling, so that thywill and its ceiling run close in time.
    run_all.SYSTEMS[1:1] = thywill_systems(run_all.FULL, "--quick" in argv)
    sys.argv = [str(harness() / "bench" / "run_all.py"), *argv]
    run_all.main()


if __name__ == "__main__":
    main(sys.argv[1:])
