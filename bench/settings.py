"""Settings of the thywill server the peer benchmark runs (``bench/peers_server.py``).

The site's own settings, production-like: the launcher sets ``DEBUG=0``, ``SECRET_KEY``,
``ALLOWED_HOSTS``, ``DATABASE_URL`` (a SQLite file of the run), ``THYWILL_SERVE_STATIC=0``
and, for the two-process scenario, ``REDIS_URL`` in the environment. On top of them: the
benchmark application, and a rate limit that a closed loop of 1000 clients never reaches
(each client waits for its echo before sending again; the trace pipe stays, as in the
default pipeline).
"""

from __future__ import annotations

import os

from thywill_server.settings import *  # noqa: F403
from thywill_server.settings import INSTALLED_APPS, THYWILL_APPLICATIONS, THYWILL_LIMITS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.benchapp"]

THYWILL_APPLICATIONS = {
    **THYWILL_APPLICATIONS,
    "bench": {"BACKEND": "bench.benchapp.application.BenchApplication", "OPTIONS": {}},
}

THYWILL_PIPELINE = [
    {"BACKEND": "thywill.pipeline.pipes.TracePipe", "OPTIONS": {"level": "DEBUG"}},
    {
        "BACKEND": "thywill.pipeline.pipes.RateLimitPipe",
        "OPTIONS": {"rate": 1_000_000, "per": 1.0, "burst": 1_000_000},
    },
]

if os.environ.get("THYWILL_TRACEMALLOC_DUMP"):
    # Opt-in, for bench/soak.py: trace allocations, and dump a snapshot to
    # $THYWILL_TRACEMALLOC_DUMP.<unix time> on every SIGUSR1.
    import signal
    import time
    import tracemalloc

    tracemalloc.start(10)

    def _dump_allocations(signum: int, frame: object) -> None:
        path = f"{os.environ['THYWILL_TRACEMALLOC_DUMP']}.{time.time():.0f}"
        tracemalloc.take_snapshot().dump(path)

    signal.signal(signal.SIGUSR1, _dump_allocations)

if os.environ.get("THYWILL_BENCH_MAX_STREAM_BYTES"):
    # bench/slow_readers.py: the run without the bound sets it very high.
    THYWILL_LIMITS = {
        **THYWILL_LIMITS,
        "MAX_STREAM_BYTES": int(os.environ["THYWILL_BENCH_MAX_STREAM_BYTES"]),
    }
