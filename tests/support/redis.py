"""A Redis server for tests: ``CHATRELAY_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``).

``require_redis()`` skips the calling test with the reason when no server answers, or fails
when ``CHATRELAY_REQUIRE_REDIS=1`` (so CI cannot pass a broken setup as "skipped").
``redis_prefix()`` gives a test its own key prefix; ``delete_prefixed`` removes its keys.
"""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from redis.asyncio import Redis

REDIS_URL_ENV = "CHATRELAY_TEST_REDIS_URL"
REQUIRE_REDIS_ENV = "CHATRELAY_REQUIRE_REDIS"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
CONNECT_TIMEOUT_SECONDS = 2.0


def redis_url() -> str:
    return os.environ.get(REDIS_URL_ENV) or DEFAULT_REDIS_URL


@functools.cache
def redis_available() -> str | None:
    """None when the test server answers PING, else why not. Cached."""
    with ThreadPoolExecutor(max_workers=1) as pool:  # works inside a running event loop too
        return pool.submit(asyncio.run, _probe(redis_url())).result()


async def _probe(url: str) -> str | None:
    client = Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS * 2):
            await client.ping()
    except Exception as exc:  # every failure (refused, auth, timeout, ...) means "not available"
        return f"Redis at {url} is not reachable (set {REDIS_URL_ENV}): {type(exc).__name__}"
    finally:
        await client.aclose()
    return None


def require_redis() -> None:
    """Skip the calling test when Redis is unavailable (fail instead if it is required)."""
    reason = redis_available()
    if reason is None:
        return
    if os.environ.get(REQUIRE_REDIS_ENV) == "1":
        pytest.fail(f"{REQUIRE_REDIS_ENV}=1 but {reason}")
    pytest.skip(reason)


def redis_prefix() -> str:
    return f"chatrelay:test-{uuid.uuid4().hex[:12]}:"


async def delete_prefixed(client: Redis, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
