"""What this process has carried, for the inspector (thywill.inspector): integer adds on
the hot paths, kept whether Prometheus metrics are on or off.

The transports bump these as they open and close connections and write messages; the
send path as it handles messages. Nothing else happens here (no lock, no clock, no I/O):
the inspector's ticker reads them once a second while an inspector page is open, and
they cost an add per event otherwise. Every server process keeps its own; the inspector
page sums them over the processes.
"""

from __future__ import annotations

TRANSPORTS = ("websocket", "sse", "longpoll")

connections: dict[str, int] = dict.fromkeys(TRANSPORTS, 0)
"""Transport connections open in this process now, by transport."""

messages_in = 0
"""Messages clients sent that this process handled, since it started."""

messages_out = 0
"""Messages this process wrote to clients' connections, since it started."""


def opened(transport: str) -> None:
    """Count a transport connection opened."""
    connections[transport] = connections.get(transport, 0) + 1


def closed(transport: str) -> None:
    """Count a transport connection closed."""
    connections[transport] = connections.get(transport, 0) - 1


def received(count: int) -> None:
    """Count messages handled from a client's send."""
    global messages_in
    messages_in += count


def delivered(count: int) -> None:
    """Count messages written to a client's connection."""
    global messages_out
    messages_out += count


def read() -> tuple[dict[str, int], int, int]:
    """The open connections by transport, and the messages in and out so far."""
    return dict(connections), messages_in, messages_out
