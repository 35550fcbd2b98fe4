"""The Redis backend's metrics in the test's own process: round trips, errors and the
outage state across a Redis that is killed and started again."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import pytest

from thywill import metrics
from thywill.exceptions import PushUnavailableError
from thywill.metrics.instruments import Instruments
from thywill.push.redis import RedisPushBackend

WAIT = 10.0
"""Seconds, at most, for Redis to answer again once started."""


@pytest.fixture
def kept() -> Iterator[Instruments]:
    """Metrics on for the test, off again after it."""
    metrics.enable()
    instruments = metrics.current()
    assert instruments is not None
    yield instruments
    metrics.disable()


def redis_sample(kept: Instruments, name: str) -> float | None:
    return kept.registry.get_sample_value(name, {"backend": "redis"})


async def test_an_outage_sets_the_state_counts_each_error_and_ends_on_recovery(
    private_redis, kept
):
    """Answered calls are round trips; while Redis is down each failed call is an error
    and the outage gauge is 1; the first answer after that sets it back to 0."""
    backend = RedisPushBackend(url=private_redis.url, socket_connect_timeout=0.5)
    channel = f"metrics-{secrets.token_hex(4)}"
    try:
        # Redis has none of the scripts yet: the publish also loads them and sends again.
        await backend.publish(channel, '"up"')
        answered = redis_sample(kept, "thywill_push_round_trip_seconds_count")
        assert answered == 3
        await backend.ping()
        assert redis_sample(kept, "thywill_push_round_trip_seconds_count") == answered + 1
        assert redis_sample(kept, "thywill_push_errors_total") is None  # none yet
        private_redis.kill()
        for _ in range(3):
            with pytest.raises(PushUnavailableError):
                await backend.publish(channel, '"down"')
        assert redis_sample(kept, "thywill_push_errors_total") == 3
        assert redis_sample(kept, "thywill_push_outage") == 1
        assert redis_sample(kept, "thywill_push_round_trip_seconds_count") == answered + 1
        private_redis.start()
        async with asyncio.timeout(WAIT):
            while True:
                try:
                    await backend.ping()
                    break
                except PushUnavailableError:
                    await asyncio.sleep(0.1)
        assert redis_sample(kept, "thywill_push_outage") == 0
        assert redis_sample(kept, "thywill_push_round_trip_seconds_count") == answered + 2
    finally:
        await backend.aclose()
