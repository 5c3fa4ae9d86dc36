"""The cost of one ``ModelLimits.admit`` with the limits shared by replicas: this process alone
(no store), the in-memory store, PostgreSQL and Redis (the test servers of tests/support).

    .venv/bin/python -m bench.shared_limits [--admits 500]

Prints, per store and model kind, the wall time of one admit that does not wait (ms, p50 and
p99): a paid model in a limited window (one grant), and a free model (a grant in the free
window and one count of the daily quota). Limits are set high so nothing queues.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from redis.asyncio import Redis

from core.clock import SystemClock
from core.llm.limits import LimitSettings, ModelLimits
from core.llm.redis_limits import RedisLimitStore
from core.llm.shared import LimitStore, MemoryLimitStore
from core.storage.database import database_for
from core.storage.engine import create_engine
from core.storage.limits import SqlLimitStore
from tests.support.databases import postgres_available, temporary_database
from tests.support.redis import delete_prefixed, redis_available, redis_prefix, redis_url

PAID = "openai/gpt-5"
FREE = "deepseek/deepseek-v4-flash:free"
SETTINGS = LimitSettings(
    free_requests_per_minute=1_000_000, free_requests_per_day=None, requests_per_minute=1_000_000
)


@asynccontextmanager
async def no_store() -> AsyncIterator[LimitStore | None]:
    yield None


@asynccontextmanager
async def memory() -> AsyncIterator[LimitStore | None]:
    yield MemoryLimitStore()


@asynccontextmanager
async def postgres() -> AsyncIterator[LimitStore | None]:
    with tempfile.TemporaryDirectory() as tmp:
        async with temporary_database("postgres", Path(tmp), migrated=True) as url:
            engine = create_engine(url)
            try:
                yield SqlLimitStore(database_for(engine))
            finally:
                await engine.dispose()


@asynccontextmanager
async def redis() -> AsyncIterator[LimitStore | None]:
    client = Redis.from_url(redis_url())
    prefix = redis_prefix()
    try:
        yield RedisLimitStore(client, prefix)
    finally:
        await delete_prefixed(client, prefix)
        await client.aclose()


async def measure(store: LimitStore | None, model: str, admits: int) -> list[float]:
    limits = ModelLimits(SETTINGS, SystemClock(), store)
    times = []
    for _ in range(admits):
        started = time.perf_counter()
        await limits.admit(model, 100)
        times.append((time.perf_counter() - started) * 1000)
    await limits.aclose()
    return sorted(times)


def quantile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, round(len(ordered) * share))]


async def main(args: argparse.Namespace) -> None:
    backends: list[tuple[str, Callable[[], AbstractAsyncContextManager[LimitStore | None]]]] = [
        ("none (one process)", no_store),
        ("memory store", memory),
    ]
    reason = postgres_available()
    backends.append(("PostgreSQL", postgres)) if reason is None else print(f"skip PG: {reason}")
    reason = redis_available()
    backends.append(("Redis", redis)) if reason is None else print(f"skip Redis: {reason}")
    print(f"{args.admits} admits each, ms per admit (p50 / p99):")
    for name, backend in backends:
        async with backend() as store:
            for kind, model in (("paid", PAID), ("free", FREE)):
                times = await measure(store, model, args.admits)
                print(f"  {name:20} {kind}: {statistics.median(times):7.3f} / "
                      f"{quantile(times, 0.99):7.3f}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--admits", type=int, default=500)
    asyncio.run(main(parser.parse_args()))
