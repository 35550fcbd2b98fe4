"""thywill's Prometheus metrics, built once when metrics are enabled.

Importing this module imports prometheus_client (the ``metrics`` extra); only
``thywill.metrics.enable()`` does, so a site with metrics off never loads it. The label
children the hot path uses are bound once per label set and kept in plain dicts: a
lookup there skips prometheus_client's own lock and label validation.

With PROMETHEUS_MULTIPROC_DIR set (before prometheus_client is first imported), every
value lives in that directory, one file per process and metric type, and the
exposition sums the processes (documentation/operations.md#metrics).
"""

from __future__ import annotations

from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

M = TypeVar("M", Counter, Gauge, Histogram)

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Seconds, for handlers, pipelines and deliveries: a handler is often under a millisecond,
a delivery to a long-polling client up to a poll's interval."""

ROUND_TRIP_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip
"""Seconds, for push backend round trips: a Redis call on a LAN takes a fraction of a
millisecond."""


class Instruments:
    """Every metric of thywill, and the label children bound so far.

    Args:
        registry: where the metrics are registered (a fresh one per instance, so that
            enabling again in one process never registers a name twice).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.connections = Gauge(
            "thywill_connections",
            "Open transport connections (a long-poll counts while its request waits).",
            ["transport", "application"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.sends = Counter(
            "thywill_sends",
            "Messages clients sent, by what became of each; a send refused as a whole "
            "(refused, unavailable) counts once.",
            ["outcome"],
            registry=registry,
        )
        self.handler = Histogram(
            "thywill_handler_seconds",
            "Time in the application's handler of an event.",
            ["application", "event"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.pipeline = Histogram(
            "thywill_pipeline_seconds",
            "Time in an event's whole flow: its pipes, hook scripts and handler.",
            ["application", "event"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.delivery = Histogram(
            "thywill_delivery_seconds",
            "From a message's publication to its write to the client's connection.",
            ["transport"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.resets = Counter(
            "thywill_resets",
            "Channels whose history a client's cursor needed was gone (reset events).",
            ["reason"],
            registry=registry,
        )
        self.leases = Counter(
            "thywill_presence_leases",
            "Presence leases taken: a client became present.",
            registry=registry,
        )
        self.lapses = Counter(
            "thywill_presence_lapses",
            "Presence leases that lapsed and whose disconnect event ran here.",
            registry=registry,
        )
        self.round_trips = Histogram(
            "thywill_push_round_trip_seconds",
            "Round trips to a networked push backend that it answered.",
            ["backend"],
            registry=registry,
            buckets=ROUND_TRIP_BUCKETS,
        )
        self.push_errors = Counter(
            "thywill_push_errors",
            "Push backend operations that failed to reach it.",
            ["backend"],
            registry=registry,
        )
        self.outage = Gauge(
            "thywill_push_outage",
            "1 while a server process finds the push backend unreachable, else 0.",
            ["backend"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.buffered = Gauge(
            "thywill_push_buffered_bytes",
            "What the in-memory push backend holds, in characters of JSON text.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self._bound: dict[tuple[object, ...], object] = {}

    def connection(self, transport: str, application: str) -> Gauge:
        """The open connections' gauge of one transport and application."""
        return self._child(self.connections, transport, application)

    def send(self, outcome: str) -> Counter:
        """The sends' counter of one outcome."""
        return self._child(self.sends, outcome)

    def handler_time(self, application: str, event: str) -> Histogram:
        """The handler latency of one application's events of one kind."""
        return self._child(self.handler, application, event)

    def pipeline_time(self, application: str, event: str) -> Histogram:
        """The flow latency of one application's events of one kind."""
        return self._child(self.pipeline, application, event)

    def delivery_time(self, transport: str) -> Histogram:
        """The delivery latency over one transport."""
        return self._child(self.delivery, transport)

    def reset(self, reason: str) -> Counter:
        """The resets' counter of one reason."""
        return self._child(self.resets, reason)

    def round_trip(self, backend: str) -> Histogram:
        """The round trips to one push backend."""
        return self._child(self.round_trips, backend)

    def push_error(self, backend: str) -> Counter:
        """The failed operations of one push backend."""
        return self._child(self.push_errors, backend)

    def outage_of(self, backend: str) -> Gauge:
        """The outage state of one push backend."""
        return self._child(self.outage, backend)

    def _child(self, metric: M, *labels: str) -> M:
        # The key is the metric and its labels: one tuple, no lock, no validation.
        key = (metric, *labels)
        child = self._bound.get(key)
        if child is None:
            child = self._bound[key] = metric.labels(*labels)
        return child  # type: ignore[return-value]
