"""Pipes that come with thywill: tracing, rate limiting, size and schema checks.

Name them in THYWILL_PIPELINE (every event of the site), an application's ``pipeline``
or a handler's ``use_pipes``; documentation/settings.md lists their options.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Mapping
from typing import Any

from thywill.exceptions import RateLimitedError
from thywill.pipeline.event import Event, fail
from thywill.pipeline.pipe import NextPipe, Pipe
from thywill.pipeline.schema import check_schema, errors


class TracePipe(Pipe):
    """Logs one structured line per event: kind, client, trace id, outcome, timings.

    Put it first, so that its timings cover every other pipe. The record carries
    ``thywill_trace_id``, ``thywill_event``, ``thywill_client_id``, ``thywill_outcome``,
    ``thywill_ms`` and ``thywill_timings`` (milliseconds per pipe) as attributes for
    structured handlers. Failures are traced at the same level: the log component
    already reports each one once, as an error or a rejection.

    Args:
        logger: the logger's name.
        level: the level of every line.
    """

    def __init__(self, *, logger: str = "thywill.trace", level: str = "INFO") -> None:
        self.logger = logging.getLogger(logger)
        level_number = logging.getLevelName(level)
        if not isinstance(level_number, int):
            raise ValueError(f"unknown logging level {level!r}")
        self.level = level_number

    async def pipe(self, next_pipe: NextPipe, event: Event, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            result = await next_pipe(**kwargs)
        except Exception as exc:
            self._log(event, started, f"failed: {type(exc).__name__}")
            raise
        self._log(event, started, "ok")
        return result

    def _log(self, event: Event, started: float, outcome: str) -> None:
        if not self.logger.isEnabledFor(self.level):
            return  # a line nobody keeps: build none of it
        elapsed = (time.perf_counter() - started) * 1000
        timings = {name: round(ms, 3) for name, ms in event.timings.items()}
        self.logger.log(
            self.level,
            "%s %s client=%s trace=%s %s in %.2f ms %s",
            event.application,
            event.kind + (f":{event.message_type}" if event.message_type else ""),
            event.client_id,
            event.trace_id,
            outcome,
            elapsed,
            json.dumps(timings, separators=(",", ":")),
            extra={
                "thywill_trace_id": event.trace_id,
                "thywill_event": event.kind,
                "thywill_client_id": event.client_id,
                "thywill_outcome": outcome,
                "thywill_ms": round(elapsed, 3),
                "thywill_timings": timings,
            },
        )


class RateLimitPipe(Pipe):
    """Limits how fast each client may send messages (a token bucket per client).

    A client may send ``burst`` messages at once, then ``rate`` per ``per`` seconds. A
    message over the limit fails with code ``rate_limited`` and ``retryAfter`` (seconds)
    in its result, and its handler does not run. Buckets live in the process: behind N
    processes with no stickiness a client gets up to N times the rate.

    Args:
        rate: messages allowed per ``per`` seconds.
        per: the period, in seconds.
        burst: messages allowed at once (default: ``rate``).
    """

    def __init__(
        self, *, rate: int = 20, per: float = 1.0, burst: int | None = None
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, int) or rate < 1:
            raise ValueError(f"rate must be a positive integer, not {rate!r}")
        if isinstance(per, bool) or not isinstance(per, int | float) or per <= 0:
            raise ValueError(f"per must be a positive number of seconds, not {per!r}")
        burst = rate if burst is None else burst
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError(f"burst must be a positive integer, not {burst!r}")
        self.rate, self.per, self.burst = rate, float(per), burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    async def pipe_message(self, next_pipe: NextPipe, event: Event, **kwargs: Any) -> Any:
        wait = self.take(event.client_id)
        if wait > 0:
            raise RateLimitedError(
                f"Too many messages: at most {self.rate} every {self.per:g} s. "
                f"Try again in {math.ceil(wait * 10) / 10:g} s.",
                retry_after=wait,
            )
        return await next_pipe(**kwargs)

    def take(self, client_id: str) -> float:
        """Take one token for ``client_id``: 0 when allowed, else seconds to wait."""
        now = time.monotonic()
        refill = self.rate / self.per
        with self._lock:
            tokens, then = self._buckets.get(client_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * refill)
            if tokens < 1:
                self._buckets[client_id] = (tokens, now)
                return (1 - tokens) / refill
            self._buckets[client_id] = (tokens - 1, now)
            self._sweep(now)
            return 0.0

    def _sweep(self, now: float) -> None:
        # A bucket idle long enough to be full again carries no information.
        if now < self._next_sweep:
            return
        full_after = self.burst * self.per / self.rate
        self._next_sweep = now + max(full_after, 1.0)
        for client_id in [c for c, (_, t) in self._buckets.items() if now - t > full_after]:
            del self._buckets[client_id]


class MessageSizePipe(Pipe):
    """Refuses messages whose data is over ``max_bytes`` as compact JSON (code too_large).

    The send endpoint already caps whole request bodies (``MAX_MESSAGE_BYTES``); this
    sets a smaller bound per message, per application or per handler.

    Args:
        max_bytes: the largest accepted size of one message's data, in UTF-8 bytes.
    """

    def __init__(self, *, max_bytes: int) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ValueError(f"max_bytes must be a positive integer, not {max_bytes!r}")
        self.max_bytes = max_bytes

    async def pipe_message(self, next_pipe: NextPipe, event: Event, **kwargs: Any) -> Any:
        size = len(json.dumps(event.data, separators=(",", ":")).encode())
        if size > self.max_bytes:
            fail(
                f"The message is {size} bytes; the limit is {self.max_bytes}.",
                code="too_large",
            )
        return await next_pipe(**kwargs)


class SchemaPipe(Pipe):
    """Refuses messages whose data does not match a schema (code bad_message).

    Args:
        schema: the schema every message must match (see ``pipeline/schema.py``), or
            None.
        types: schemas by message ``type``; a typed message must match its own too.
    """

    def __init__(
        self,
        *,
        schema: Mapping[str, Any] | None = None,
        types: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.schema = schema
        self.types = dict(types or {})
        if schema is not None:
            check_schema(schema)
        for name, sub in self.types.items():
            check_schema(sub, f"types[{name!r}]")

    async def pipe_message(self, next_pipe: NextPipe, event: Event, **kwargs: Any) -> Any:
        found = [] if self.schema is None else errors(event.data, self.schema)
        typed = self.types.get(event.message_type or "")
        if typed is not None:
            found += errors(event.data, typed)
        if found:
            fail("The message is not valid: " + "; ".join(found) + ".", code="bad_message")
        return await next_pipe(**kwargs)
