"""The exposition of the metrics: this process's, or every process's on the host.

In multiprocess mode (PROMETHEUS_MULTIPROC_DIR set before the server starts) any
process answers the scrape for all of them, from the files in that directory.
"""

from __future__ import annotations

import atexit
import os

from thywill import metrics

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"

_exit_hook = False


def multiprocess_dir() -> str | None:
    """The directory of the multiprocess mode, or None (one process's metrics)."""
    return os.environ.get(MULTIPROC_DIR) or None


def render() -> tuple[bytes, str]:
    """The metrics as Prometheus text, and its content type (metrics must be on)."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    directory = multiprocess_dir()
    if directory is None:
        kept = metrics.current()
        assert kept is not None, "metrics are off"
        registry = kept.registry
    else:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST


def process_exiting() -> None:
    """Drop this process's live gauges from the multiprocess directory, as it stops.

    Their ``livesum`` and ``livemax`` then no longer count it; a process killed
    without a chance to call this leaves its files until the directory is cleaned.
    """
    directory = multiprocess_dir()
    if directory is not None and metrics.current() is not None:
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


def clean_up_at_exit() -> None:
    """Call ``process_exiting`` when this process exits normally (once registered)."""
    global _exit_hook
    if not _exit_hook:
        _exit_hook = True
        atexit.register(process_exiting)
