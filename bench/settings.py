"""Settings of the thywill server the peer benchmark runs (``bench/peers_server.py``).

The site's own settings, production-like: the launcher sets ``DEBUG=0``, ``SECRET_KEY``,
``ALLOWED_HOSTS``, ``DATABASE_URL`` (a SQLite file of the run), ``THYWILL_SERVE_STATIC=0``
and, for the two-process scenario, ``REDIS_URL`` in the environment. On top of them: the
benchmark application, and a rate limit that a closed loop of 1000 clients never reaches
(each client waits for its echo before sending again; the trace pipe stays, as in the
default pipeline).
"""

from __future__ import annotations

from thywill_server.settings import *  # noqa: F403
from thywill_server.settings import INSTALLED_APPS, THYWILL_APPLICATIONS

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
