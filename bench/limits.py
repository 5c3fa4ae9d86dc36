"""What users of a default deployment meet under load: N chats x M messages on a paid model and
on the default free chain, through the real core and the fake OpenRouter (which enforces
OpenRouter's free limits), on a sped-up clock so that minutes of queueing take seconds.

    .venv/bin/python -m bench.limits [--chats 20] [--messages 5] [--speed 25]

Prints, per model: messages answered, queue notices, the most requests started in any 60 s,
and the time from sending to the answer (simulated seconds: p50, p95, max).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.support import API_KEY, NullSink
from core.app import build_core
from core.domain import Author, ChatRef, IncomingMessage
from core.settings import DEFAULT_MODELS, Settings
from tests.fakes.openrouter import FakeOpenRouter
from tests.support.clock import ScaledClock


@dataclass
class Outcome:
    waits: list[float]  # simulated seconds from sending to the answer
    notices: int
    answered: int
    starts: list[float]  # when OpenRouter saw each request (simulated seconds)


async def scenario(
    models: Sequence[str], chats: int, messages: int, speed: float, tmp: Path
) -> Outcome:
    clock = ScaledClock(speed=speed)
    async with FakeOpenRouter(api_key=API_KEY, clock=clock.monotonic, record=True) as fake:
        fake.key_data = {"is_free_tier": False}
        fake.free_daily_limit = 1000
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            openrouter_api_key=API_KEY,
            openrouter_base_url=fake.base_url,
            openrouter_models=tuple(models),
            database_url=f"sqlite+aiosqlite:///{tmp / (models[0].replace('/', '_') + '.db')}",
        )
        outcome = Outcome([], 0, 0, [])
        async with build_core(settings, clock=clock) as core:

            async def chat(number: int) -> None:
                for index in range(messages):
                    sink = NullSink(streams=True)
                    message = IncomingMessage(
                        chat=ChatRef("bench", f"chat-{number}"),
                        author=Author(f"user-{number}", f"User {number}"),
                        text=f"message {index}",
                        message_id=f"{number}-{index}",
                    )
                    sent = clock.monotonic()
                    await core.service.handle(message, sink)
                    outcome.waits.append(clock.monotonic() - sent)
                    texts = [reply.text for reply in sink.replies]
                    outcome.notices += sum("queued" in text for text in texts)
                    outcome.answered += sum(text.startswith("Echo:") for text in texts)

            await asyncio.gather(*(chat(number) for number in range(chats)))
        outcome.starts = [request.at for request in fake.chat_requests]
    return outcome


def most_in_a_minute(starts: Sequence[float]) -> int:
    ordered = sorted(starts)
    return max((sum(1 for t in ordered if s <= t < s + 60) for s in ordered), default=0)


def report(name: str, outcome: Outcome, total: int) -> None:
    waits = sorted(outcome.waits)
    p95 = waits[max(0, round(len(waits) * 0.95) - 1)]
    print(f"{name}:")
    print(f"  answered {outcome.answered} of {total}; queue notices {outcome.notices}")
    print(f"  requests to OpenRouter {len(outcome.starts)}; most in any 60 s: "
          f"{most_in_a_minute(outcome.starts)}")  # fmt: skip
    print(f"  send -> answer (simulated s): p50 {statistics.median(waits):.1f}, "
          f"p95 {p95:.1f}, max {waits[-1]:.1f}")  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    total = args.chats * args.messages
    print(f"{args.chats} chats x {args.messages} messages, default limits, clock x{args.speed}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, models in (
            ("paid (openai/gpt-5)", ("openai/gpt-5",)),
            ("free (the default chain)", DEFAULT_MODELS),
        ):
            outcome = await scenario(models, args.chats, args.messages, args.speed, Path(tmp))
            report(name, outcome, total)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chats", type=int, default=20)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument("--speed", type=float, default=25.0)
    asyncio.run(main(parser.parse_args()))
