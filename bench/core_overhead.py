"""Core overhead: many concurrent chats through ChatService against a fake OpenRouter.

Each chat sends its messages one after another (the next after the answer); the chats start at
random moments within the first LLM delay, as people do, rather than all in the same instant. The
fake OpenRouter runs in its own process and answers after a fixed delay, streamed in chunks. The
LLM's own time is measured first with a bare httpx client (the delay plus the fake's own HTTP
handling); the figure that matters is what each message takes beyond it (history, storage,
request building, SSE parsing, drafts, delivery).
Run: .venv/bin/python -m bench.core_overhead [--chats 100] [--messages 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from bench.support import (
    API_KEY,
    BENCH_MODEL,
    NullSink,
    cpu_seconds,
    describe_ms,
    fake_openrouter_process,
    llm_baseline_ms,
    peak_rss_mb,
    percentile,
)
from core.app import Core, build_core
from core.domain import Author, ChatRef, IncomingMessage
from core.settings import Settings


async def one_chat(
    core: Core, index: int, messages: int, stream: bool, llm_ms: float, start: float
) -> list[float]:
    await asyncio.sleep(start)
    chat, author = ChatRef("bench", f"chat-{index}"), Author(f"user-{index}", f"User {index}")
    overheads = []
    for n in range(messages):
        message = IncomingMessage(chat, author, f"message {n} from chat {index}", f"{index}-{n}")
        sink = NullSink(streams=stream)
        started = time.perf_counter()
        await core.service.handle(message, sink)
        elapsed_ms = (time.perf_counter() - started) * 1000
        assert sink.replies, "no reply"
        assert not sink.replies[-1].is_error, sink.replies[-1]
        overheads.append(elapsed_ms - llm_ms)
    return overheads


async def run(chats: int, messages: int, delay: float, stream: bool, database: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = database or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        async with fake_openrouter_process(first_token_delay=delay) as base_url:
            llm_ms = await llm_baseline_ms(base_url, stream=stream)
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                openrouter_api_key=API_KEY,
                openrouter_base_url=base_url,
                openrouter_stream=stream,
                database_url=url,
                openrouter_models=(BENCH_MODEL,),
            )
            async with build_core(settings) as core:
                await core.catalog.get()  # the model list is fetched once an hour, not per message
                cpu_before, wall_before = cpu_seconds(), time.perf_counter()
                starts = random.Random(7)
                results = await asyncio.gather(
                    *(
                        one_chat(core, i, messages, stream, llm_ms, starts.uniform(0, delay))
                        for i in range(chats)
                    )
                )
                wall = time.perf_counter() - wall_before
                cpu = cpu_seconds() - cpu_before
    overheads = [value for chat in results for value in chat]
    total = len(overheads)
    kind = "sqlite" if database is None else database.split(":")[0]
    print(
        f"core overhead: {chats} concurrent chats x {messages} messages, "
        f"LLM delay {delay * 1000:.0f} ms, stream={stream}, database={kind}"
    )
    print(f"  the LLM's own time (bare httpx client, median): {llm_ms:.1f} ms")
    print(f"  messages: {total} in {wall:.2f} s = {total / wall:.1f} messages/s")
    print(f"  overhead beyond the LLM: {describe_ms(overheads)}")
    print(f"  CPU: {cpu / total * 1000:.2f} ms per message ({cpu:.2f} s in all)")
    print(f"  peak RSS: {peak_rss_mb():.1f} MB")
    verdict = "OK" if percentile(overheads, 99) < 5 else "over target"
    print(f"  target p99 overhead < 5 ms: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--delay", type=float, default=2.0, help="the LLM's own time, seconds")
    parser.add_argument("--no-stream", action="store_true")
    parser.add_argument("--database", help="a DATABASE_URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    asyncio.run(run(args.chats, args.messages, args.delay, not args.no_stream, args.database))


if __name__ == "__main__":
    main()
