"""Fixtures of the Redis push backend's tests: a real Redis, a fresh key prefix each."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.conftest import require
from tests.support.redis_server import RedisServer, shared_redis_url
from thywill.push.redis import RedisPushBackend


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis for the session: REDIS_URL or 127.0.0.1:6379, else one the suite starts."""
    url = shared_redis_url()
    if url is not None:
        yield url
        return
    require(
        RedisServer.available(),
        "a Redis server (REDIS_URL, 127.0.0.1:6379 or redis-server)",
    )
    server = RedisServer(tmp_path_factory.mktemp("redis"), persistent=False)
    server.start()
    yield server.url
    server.kill()


def new_prefix() -> str:
    """A key prefix no other backend uses."""
    return f"thywill-test-{secrets.token_hex(6)}"


async def delete_prefix(url: str, prefix: str) -> None:
    """Delete every key of a prefix (a test's backends clean up after themselves)."""
    client = aioredis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{{{prefix}}}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def make_push_backend(
    redis_url: str,
) -> AsyncIterator[Callable[..., RedisPushBackend]]:
    """Build independent Redis backends (each its own key prefix); close and clean them."""
    made: list[RedisPushBackend] = []

    def make(**options: Any) -> RedisPushBackend:
        options.setdefault("url", redis_url)
        options.setdefault("key_prefix", new_prefix())
        backend = RedisPushBackend(**options)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()
        await delete_prefix(backend.url, backend.key_prefix)


@pytest.fixture
def push_backend(make_push_backend: Callable[..., RedisPushBackend]) -> RedisPushBackend:
    """A fresh Redis backend with default options."""
    return make_push_backend()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, persistent, that the test may kill and restart."""
    require(RedisServer.available(), "the redis-server program")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()
