"""What thywill's hot paths report to Prometheus, through small functions.

Each function does nothing but test one module global while metrics are off
(THYWILL_METRICS["ENABLED"] is false, the default): prometheus_client is not even
imported then. The runtime turns them on (``enable``) when the setting says so. The
metrics, their labels and how to scrape them: documentation/operations.md#metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from thywill.metrics.instruments import Instruments

_on: Instruments | None = None


class Published(Protocol):
    """A delivered message: when it was published, in ``time.time()`` seconds (None
    when its push backend cannot tell)."""

    @property
    def published_at(self) -> float | None: ...


def enable() -> None:
    """Start keeping metrics in this process (imports prometheus_client)."""
    global _on
    if _on is None:
        from prometheus_client import CollectorRegistry

        from thywill.metrics.instruments import Instruments

        _on = Instruments(CollectorRegistry())


def disable() -> None:
    """Stop keeping metrics in this process; what was kept is dropped."""
    global _on
    _on = None


def on() -> bool:
    """Whether metrics are kept in this process."""
    return _on is not None


def current() -> Instruments | None:
    """The metrics kept in this process, or None while they are off."""
    return _on


def clock() -> float:
    """Now, for a latency (``time.perf_counter()``), or 0.0 while metrics are off."""
    return 0.0 if _on is None else time.perf_counter()


def connection_opened(transport: str, application: str) -> Callable[[], None] | None:
    """Count an open connection; return what counts it closed (None while off)."""
    if _on is None:
        return None
    gauge = _on.connection(transport, application)
    gauge.inc()
    return gauge.dec


def sent(outcome: str) -> None:
    """Count one message a client sent, by what became of it (or one refused send)."""
    if _on is not None:
        _on.send(outcome).inc()


def handled(application: str, event: str, started: float) -> None:
    """Observe a handler's latency since ``started`` (from ``clock()``)."""
    if _on is not None:
        _on.handler_time(application, event).observe(time.perf_counter() - started)


def flowed(application: str, event: str, started: float) -> None:
    """Observe an event flow's latency since ``started`` (from ``clock()``)."""
    if _on is not None:
        _on.pipeline_time(application, event).observe(time.perf_counter() - started)


def delivered(transport: str, messages: Iterable[Published]) -> None:
    """Observe the delivery latency of messages just written to a connection."""
    if _on is None:
        return
    histogram = _on.delivery_time(transport)
    now = time.time()
    for message in messages:
        published = message.published_at
        if published is not None:
            # Clocks of two hosts (Redis's, this one's) may disagree by a little.
            histogram.observe(max(now - published, 0.0))


def reset(reason: str) -> None:
    """Count one channel reset to a client, by reason."""
    if _on is not None:
        _on.reset(reason).inc()


def lease_taken() -> None:
    """Count a presence lease taken (a client became present)."""
    if _on is not None:
        _on.leases.inc()


def lease_lapsed() -> None:
    """Count a lapsed presence lease whose disconnect event ran here."""
    if _on is not None:
        _on.lapses.inc()


def round_trip(backend: str, started: float) -> None:
    """Observe a push backend round trip since ``started`` (from ``clock()``)."""
    if _on is not None:
        _on.round_trip(backend).observe(time.perf_counter() - started)


def push_failed(backend: str) -> None:
    """Count a push backend operation that failed to reach it."""
    if _on is not None:
        _on.push_error(backend).inc()


def outage(backend: str, down: bool) -> None:
    """Record that an outage of the push backend started (``down``) or ended."""
    if _on is not None:
        _on.outage_of(backend).set(1 if down else 0)


def buffered(size: int) -> None:
    """Record what the in-memory push backend holds now."""
    if _on is not None:
        _on.buffered.set(size)
