"""History scale: the time to build the model's context for chats of very different lengths.

Three chats hold 10, 1,000 and 100,000 stored messages. For each, the context the service sends
is built many times (the newest turns that fit the budget, read with one indexed query and a
LIMIT), and the median and p99 are printed. Flat is the goal: the 100,000 case within 1.2x of
the 10 case. With the default window (CONTEXT_MAX_MESSAGES=200) a 10-message chat sends 10 turns
and the longer chats 200, so the first run compares equal windows (--window 10: every chat sends
its newest 10 turns, and only the stored history differs); the default window is printed too.
Run: .venv/bin/python -m bench.history_scale [--window N] [--database URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.support import percentile
from core.clock import SystemClock
from core.context import build_window, prompt_budget
from core.domain import ChatRef
from core.settings import Settings
from core.storage.engine import create_engine
from core.storage.migrate import upgrade_to_head
from core.storage.models import Message
from core.storage.store import SqlChatStore
from core.tokens import estimate_message_tokens

SIZES = (10, 1_000, 100_000)
ROUNDS = 300


async def seed(engine: AsyncEngine, chat_id: int, conversation_id: int, count: int) -> None:
    """Insert ``count`` alternating user/assistant messages in bulk (fast, outside the store)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for n in range(count):
        user = n % 2 == 0
        content = f"{'question' if user else 'answer'} number {n} " + "lorem ipsum " * 8
        rows.append(
            {
                "chat_id": chat_id,
                "conversation_id": conversation_id,
                "role": "user" if user else "assistant",
                "is_command": False,
                "in_context": True,
                "author_id": "u" if user else None,
                "author_name": "User" if user else None,
                "content": content,
                "token_estimate": estimate_message_tokens(content),
                "platform_message_id": f"p{n}" if user else None,
                "created_at": start + timedelta(seconds=n),
            }
        )
    async with engine.begin() as connection:
        for first in range(0, len(rows), 5_000):
            await connection.execute(insert(Message), rows[first : first + 5_000])


async def measure(
    store: SqlChatStore, conversation_id: int, budget: int, limit: int
) -> list[float]:
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        history = await store.recent_messages(conversation_id, limit=limit)
        window = build_window("You are helpful.", history, budget)
        timings.append((time.perf_counter() - started) * 1000)
        assert len(window.turns) > 1
    return timings


async def run(database_url: str | None, window: int | None) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    limit = window or settings.context_max_messages
    budget = prompt_budget(262_144, settings.answer_max_tokens, settings.context_max_tokens)
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'history.db'}"
        await upgrade_to_head(url)
        engine = create_engine(url)
        store = SqlChatStore(engine, SystemClock())
        chats = {}
        for size in SIZES:
            chat = await store.load_chat(ChatRef("bench", f"history-{size}"))
            await seed(engine, chat.id, chat.conversation_id, size)
            chats[size] = chat.conversation_id
        results = {}
        for size in SIZES:
            await measure(store, chats[size], budget, limit)  # warm
            results[size] = await measure(store, chats[size], budget, limit)
        await store.aclose()
        await engine.dispose()
    print(
        f"history scale: context build ({ROUNDS} rounds each, window of up to "
        f"{limit} messages / {budget} tokens), "
        f"database={'sqlite' if database_url is None else database_url.split(':')[0]}"
    )
    for size, timings in results.items():
        print(
            f"  {size:>7,} stored messages: median {statistics.median(timings):.3f} ms, "
            f"p99 {percentile(timings, 99):.3f} ms"
        )
    ratio = statistics.median(results[SIZES[-1]]) / statistics.median(results[SIZES[0]])
    verdict = "OK" if ratio <= 1.2 else "over target"
    print(f"  100,000 vs 10: {ratio:.2f}x (target at most 1.2x: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", help="a DATABASE_URL (default: a temporary SQLite file)")
    parser.add_argument("--window", type=int, help="most messages per context (default: 200)")
    args = parser.parse_args()
    asyncio.run(run(args.database, args.window))


if __name__ == "__main__":
    main()
