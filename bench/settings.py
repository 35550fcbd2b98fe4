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
from thywill_server.settings import (
    INSTALLED_APPS,
    THYWILL_APPLICATIONS,
    THYWILL_COMPONENTS,
    THYWILL_LIMITS,
)

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
    # Opt-in, for bench/soak.py and bench/idle_memory.py: trace allocations, and dump a
    # snapshot to $THYWILL_TRACEMALLOC_DUMP.<unix time> on every SIGUSR1; after a full
    # collection when THYWILL_TRACEMALLOC_COLLECT is set, so that it holds what is kept,
    # not the cyclic garbage the next collection would free.
    import gc
    import signal
    import time
    import tracemalloc

    tracemalloc.start(10)

    def _dump_allocations(signum: int, frame: object) -> None:
        path = f"{os.environ['THYWILL_TRACEMALLOC_DUMP']}.{time.time():.0f}"
        if os.environ.get("THYWILL_TRACEMALLOC_COLLECT"):
            gc.collect()
        tracemalloc.take_snapshot().dump(path)

    signal.signal(signal.SIGUSR1, _dump_allocations)

if os.environ.get("THYWILL_BENCH_MAX_AGE"):
    # bench/soak.py --max-age: the push backend's max_age, so that what it keeps per
    # client for that long (send sequences) reaches its bound within the run.
    THYWILL_COMPONENTS = {
        **THYWILL_COMPONENTS,
        "push": {
            **THYWILL_COMPONENTS["push"],
            "OPTIONS": {
                **THYWILL_COMPONENTS["push"]["OPTIONS"],
                "max_age": float(os.environ["THYWILL_BENCH_MAX_AGE"]),
            },
        },
    }

if os.environ.get("THYWILL_BENCH_MAX_STREAM_BYTES"):
    # bench/slow_readers.py: the run without the bound sets it very high.
    THYWILL_LIMITS = {
        **THYWILL_LIMITS,
        "MAX_STREAM_BYTES": int(os.environ["THYWILL_BENCH_MAX_STREAM_BYTES"]),
    }

if os.environ.get("THYWILL_MEMORY_STATS"):
    # Opt-in, for bench/soak.py: every 5 s, one JSON line to $THYWILL_MEMORY_STATS with
    # what RSS is made of: glibc's heap (mallinfo2: in use, free but kept, mmapped),
    # CPython's own allocator (blocks), threads and live objects by type.
    import collections
    import ctypes
    import gc
    import json
    import sys
    import threading
    import time

    class _MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks "
            "fordblks keepcost".split()
        ]

    _libc = ctypes.CDLL("libc.so.6")
    _libc.mallinfo2.restype = _MallInfo2

    def _large_containers(least: int = 5000) -> dict[str, int]:
        """The dicts, sets and deques of ``least`` items or more reachable from the loaded
        modules (frozen objects and untracked dicts of strings included), each named by
        the type of what holds it."""
        found: dict[str, int] = {}
        seen: set[int] = set()
        stack: list[tuple[object, str]] = [
            (m, "module") for m in list(sys.modules.values())
        ]
        atoms = (str, bytes, int, float, bool, type(None))
        while stack:
            obj, held_by = stack.pop()
            if id(obj) in seen or isinstance(obj, atoms):
                continue
            seen.add(id(obj))
            if isinstance(obj, dict | set | frozenset | collections.deque):
                if len(obj) >= least:
                    key = f"{held_by}>{type(obj).__name__}"
                    found[key] = max(found.get(key, 0), len(obj))
                    continue  # not into its items: they are what it is made of
            try:
                referents = gc.get_referents(obj)
            except Exception:  # noqa: BLE001 (a diagnostic walk: skip what cannot be walked)
                continue
            name = type(obj).__name__
            holder = held_by if name in ("dict", "list", "tuple", "cell") else name
            stack.extend((r, holder) for r in referents)
        return found

    def _memory_stats() -> None:
        path = os.environ["THYWILL_MEMORY_STATS"]
        start = time.monotonic()
        tick = 0
        while True:
            info = _libc.mallinfo2()
            line: dict[str, object] = {
                "t": round(time.monotonic() - start, 1),
                "rss": int(open("/proc/self/statm").read().split()[1]) * 4096,
                **{name: getattr(info, name) for name, _ in _MallInfo2._fields_},
                "blocks": sys.getallocatedblocks(),
                "threads": threading.active_count(),
            }
            if tick % 12 == 0:  # once a minute: the most numerous live objects
                counts = collections.Counter(type(o).__name__ for o in gc.get_objects())
                line["objects"] = dict(counts.most_common(25))
                if os.environ.get("THYWILL_MEMORY_STATS_LARGE"):  # costly: it walks all
                    line["large"] = _large_containers()
            tick += 1
            with open(path, "a") as out:
                out.write(json.dumps(line) + "\n")
            time.sleep(5)

    threading.Thread(target=_memory_stats, daemon=True, name="memory-stats").start()
