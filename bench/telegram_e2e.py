"""Telegram end to end: users in private chats write to the bot through the fake Telegram Bot API,
the bot (python-telegram-bot long polling + chatrelay's core, SQLite in a temp dir) answers from
the fake OpenRouter, and the figures are the bot process's.

Three processes: the bot alone in its own (bench.telegram_bot), so its CPU and peak memory are
read from /proc as the bot's; the fake OpenRouter in another; this one plays the users and runs
the fake Telegram, timestamping both ends with one clock: when a user's message enters the fake's
update queue, and when the bot's sendMessage with the whole answer ("Echo: <text>") arrives. The
LLM answers after --delay (streamed: 80% of it until the first chunk, the rest spread over the 9
that follow); its own time is measured first with a bare httpx client, and overhead is what a
reply takes beyond it.

Conversation load: --chats private chats (starting at random moments within the first LLM delay)
each send --messages messages in turn: the next one --think seconds after the previous answer's
final message arrived. Telegram's flood limits are on (per chat about 1 message/s with a burst of
3, overall 30/s); with no think time the 4th quick answer in a chat must wait out a 429 (see
--think 0). Burst (--burst): --burst-chats chats send 2 messages each, all queued at t=0; the fake's
global 30 messages/s limit is off for it (it alone would make 1,000 replies take 33 s), the
per-chat limit stays on.

Run: .venv/bin/python -m bench.telegram_e2e [--stream|--no-stream|--both] [--burst]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench import e2e
from bench.support import describe_ms, llm_baseline_ms
from bench.telegram_bot import TOKEN
from tests.fakes.telegram import Chat, FakeTelegram, FloodLimits
from tests.fakes.telegram.model import PLACEHOLDER_END
from tests.fakes.telegram.server import Params

STREAM_FIRST_SHARE = 0.8  # of the LLM's time, until the first chunk
CONVERSATION_BASE_ID = 1_000_000
BURST_BASE_ID = 2_000_000
WARMUP_BASE_ID = 3_000_000
DEFAULT_BURST_TIMEOUT = 60.0

# targets on this 2-core machine: (without streaming, with streaming)
TARGET_P99_MS = {False: 100.0, True: 150.0}
TARGET_CPU_PER_1000 = {False: 6.0, True: 10.0}
TARGET_BURST_SECONDS = 18.0
TARGET_PEAK_RSS_MB = 80.0

Json = dict[str, Any]


class TimedTelegram(FakeTelegram):
    """The fake Bot API, noting (on this process's monotonic clock) when each awaited final
    answer arrives: as a sendMessage, or as the editMessageText that fills in the placeholder
    the bot posted first (TELEGRAM_PLACEHOLDERS, on by default)."""

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self.answers = e2e.Answers()

    api_name = "Bot API"
    unexpected_name = "other messages the bot sent"

    async def send_message(self, p: Params) -> Json:
        arrived = time.monotonic()
        message = await super().send_message(p)  # a 429 or 400 raises: not an answer
        text = str(message["text"])
        final = not text.endswith(PLACEHOLDER_END)
        self.answers.arrived(arrived, int(message["chat"]["id"]), text, final=final)
        return message

    async def edit_message_text(self, p: Params) -> Json:
        arrived = time.monotonic()
        message = await super().edit_message_text(p)
        self.answers.arrived(arrived, int(message["chat"]["id"]), str(message["text"]), final=False)
        return message

    def calls_by_method(self) -> str:
        calls = ((call.method, call.ok) for call in self.calls)
        return e2e.tally(calls, refused="{count} refused", separator=", ")

    def recent_calls(self, count: int = 10) -> str:
        return "; ".join(
            f"{c.method}:{c.status}" + (f" {c.description}" if c.description else "")
            for c in self.calls[-count:]
        )


# --------------------------------------------------------------------------- figures


@dataclass(kw_only=True)
class Result(e2e.Outcome):
    scenario: str  # "conversation" | "burst"
    stream: bool
    flood_429: int = 0


def mode_name(stream: bool) -> str:
    return "streaming" if stream else "no streaming"


# --------------------------------------------------------------------------- users


async def say(tg: TimedTelegram, chat: Chat, text: str) -> asyncio.Future[float]:
    """The user writes ``text``; returns the future of the answer's arrival."""
    answered = tg.answers.expect(chat.id, f"Echo: {text}")
    await tg.user_says(chat, None, text)
    return answered


async def one_chat(tg: TimedTelegram, chat: Chat, pace: e2e.Pace) -> list[float]:
    async def message(n: int) -> asyncio.Future[float]:
        return await say(tg, chat, f"message {n} from chat {chat.id}")

    return await e2e.take_turns(message, f"chat {chat.id}", pace)


async def conversation(
    tg: TimedTelegram, bot: e2e.BotProcess, args: argparse.Namespace, stream: bool, llm_ms: float
) -> Result:
    chats = [
        tg.private_chat(CONVERSATION_BASE_ID + i, f"User{i}", f"user{i}") for i in range(args.chats)
    ]

    def failed(failures: list[BaseException]) -> str:
        missing = sum(1 for outcome in failures if isinstance(outcome, e2e.BenchError))
        return (
            f"conversation load ({mode_name(stream)}): {missing} of {len(chats)} chats never got "
            f"an answer (first: {failures[0]})\n{e2e.diagnosis(tg, bot)}"
        )

    load = await e2e.measure_turns(
        bot,
        [
            one_chat(tg, chat, pace)
            for chat, pace in zip(chats, e2e.paces(args, len(chats)), strict=True)
        ],
        failed,
    )
    result = Result(
        scenario="conversation",
        stream=stream,
        replies=len(load.latencies_ms),
        wall=load.wall,
        latencies_ms=load.latencies_ms,
        usage=load.usage,
        llm_ms=llm_ms,
        calls=tg.calls_by_method(),
        flood_429=tg.flood.rejected,
    )
    result.check_p99(TARGET_P99_MS[stream])
    return result


async def queue_burst(
    tg: TimedTelegram, chats: Sequence[Chat]
) -> list[tuple[asyncio.Future[float], float]]:
    """Two messages from each chat, each with its answer's future and the time it was queued.
    No await here gives the loop a turn: all are queued before the bot reads any."""
    pending = []
    for n in range(2):
        for chat in chats:
            answered = await say(tg, chat, f"burst message {n} from chat {chat.id}")
            pending.append((answered, time.monotonic()))
    return pending


async def burst(
    tg: TimedTelegram, bot: e2e.BotProcess, args: argparse.Namespace, stream: bool
) -> Result:
    chats = [tg.private_chat(BURST_BASE_ID + i, f"Burst{i}") for i in range(args.burst_chats)]
    async with e2e.measuring(bot) as usage:
        began = time.monotonic()
        pending = await queue_burst(tg, chats)
        queued_in = time.monotonic() - began
        futures = [future for future, _ in pending]
        _, late = await asyncio.wait(futures, timeout=args.burst_timeout)
        if late:
            raise e2e.BenchError(
                f"burst ({mode_name(stream)}): {len(late)} of {len(futures)} messages still "
                f"unanswered after {args.burst_timeout:.0f} s\n{e2e.diagnosis(tg, bot)}"
            )
        wall = max(future.result() for future in futures) - began
    result = Result(
        scenario="burst",
        stream=stream,
        replies=len(futures),
        wall=wall,
        latencies_ms=[(future.result() - queued) * 1000 for future, queued in pending],
        usage=usage,
        calls=tg.calls_by_method(),
        flood_429=tg.flood.rejected,
    )
    result.check(
        f"all {len(futures)} answered within {TARGET_BURST_SECONDS:.0f} s",
        wall <= TARGET_BURST_SECONDS,
        f"{wall:.2f} s; queueing them took {queued_in * 1000:.0f} ms",
    )
    return result


# --------------------------------------------------------------------------- one run


def llm_timing(delay: float, stream: bool) -> e2e.LlmTiming:
    """The fake LLM's own time is ``delay`` either way; streamed, it ends in a few chunks."""
    if not stream:
        return {"first_token_delay": delay, "chunks": e2e.CHUNKS, "chunk_delay": 0.0}
    return e2e.streamed_timing(delay, STREAM_FIRST_SHARE)


async def measure(
    scenario: str,
    stream: bool,
    args: argparse.Namespace,
    number: int,
    space: e2e.Workspace,
    llm_ms: float | None,
) -> Result:
    """Warm the bot up, then measure ``scenario`` on the fake Telegram."""
    limits = FloodLimits() if scenario == "conversation" else FloodLimits(global_per_second=0)
    tg = TimedTelegram(TOKEN, bot_username="chatrelay_bench_bot", flood=limits)
    async with (
        tg,
        e2e.bot_process(
            "bench.telegram_bot",
            space,
            ["--telegram", tg.base_url, "--stream" if stream else "--no-stream"],
            log_level=args.log_level,
            env={"PTB_TIMEDELTA": "1"},
        ) as bot,
    ):
        warm = [tg.private_chat(WARMUP_BASE_ID + i, f"Warm{i}") for i in range(3)]
        await e2e.warm_up(
            [one_chat(tg, chat, e2e.warmup_pace(args.timeout)) for chat in warm],
            lambda: e2e.diagnosis(tg, bot),
        )
        tg.reset()
        tg.answers.unexpected.clear()
        async with e2e.profiled(args, bot, f"{scenario}-{mode_name(stream)}-{number}"):
            if scenario == "conversation":
                assert llm_ms is not None
                result = await conversation(tg, bot, args, stream, llm_ms)
            else:
                result = await burst(tg, bot, args, stream)
        tg.answers.note("messages")
    return result


async def run_once(scenario: str, stream: bool, args: argparse.Namespace, number: int) -> Result:
    async with e2e.workspace(llm_timing(args.delay, stream)) as space:
        llm_ms = None
        if scenario == "conversation":
            llm_ms = await llm_baseline_ms(space.openrouter, stream=stream, rounds=9)
        result = await measure(scenario, stream, args, number, space, llm_ms)
    result.check_cpu(TARGET_CPU_PER_1000[stream])
    result.check(
        f"bot peak RSS < {TARGET_PEAK_RSS_MB:.0f} MB",
        result.usage.peak_rss_mb < TARGET_PEAK_RSS_MB,
        f"{result.usage.peak_rss_mb:.1f} MB",
    )
    return result


def report(result: Result, args: argparse.Namespace, number: int) -> None:
    mode = mode_name(result.stream)
    print()
    if result.scenario == "conversation":
        print(
            f"conversation load #{number}, {mode}: {args.chats} private chats x {args.messages} "
            f"messages, each sent {args.think:g} s after the previous answer"
        )
        print("  fake Telegram flood limits: per chat 1/s (burst 3) on, overall 30/s on")
        assert result.llm_ms is not None
        print(f"  the LLM's own time (bare httpx client, median): {result.llm_ms:.1f} ms")
        print(
            f"  replies: {result.replies} in {result.wall:.2f} s = "
            f"{result.per_second:.1f} replies/s"
            + (" (paced by the users' think time)" if args.think else "")
        )
        result.print_overhead()
    else:
        print(
            f"burst #{number}, {mode}: {result.replies} messages from {args.burst_chats} private "
            f"chats (2 each), all queued at t=0; LLM {args.delay * 1000:.0f} ms"
        )
        print(
            "  fake Telegram flood limits: per chat 1/s (burst 3) on, overall 30/s OFF "
            "(real Telegram's would need >= 33 s for 1,000 replies)"
        )
        print(f"  all answered after {result.wall:.2f} s = {result.per_second:.1f} replies/s")
        print(f"  time to each answer: {describe_ms(result.latencies_ms)}")
    result.print_usage(fake="Telegram", threads="SQLite", ready="polling", cpu_split=False)
    print(f"  Bot API calls: {result.calls}; flood 429s: {result.flood_429}")
    result.print_checks()


def summary(results: Sequence[Result]) -> None:
    print()
    print("summary (overhead for the conversation load, time to all answers for the burst)")
    for result in results:
        if result.scenario == "conversation":
            figure = result.overhead_figure(6)
        else:
            figure = f"all answered in {result.wall:5.2f} s ({result.per_second:.0f}/s)"
        print(
            f"  {result.scenario:12} {mode_name(result.stream):12}  {figure}  "
            f"{result.usage_figure}  {result.verdict}"
        )


async def run(args: argparse.Namespace) -> int:
    modes = {"stream": [True], "no-stream": [False], "both": [False, True]}[args.mode]
    scenarios = ([] if args.no_conversation else ["conversation"]) + (
        ["burst"] if args.burst else []
    )
    if not scenarios:
        print("nothing to run: --no-conversation without --burst")
        return 2
    if e2e.profiling(args) and args.burst_timeout == DEFAULT_BURST_TIMEOUT:
        args.burst_timeout *= 5
    results = []
    for scenario in scenarios:
        for stream in modes:
            for number in range(1, args.repeat + 1):
                result = await run_once(scenario, stream, args, number)
                report(result, args, number)
                results.append(result)
    summary(results)
    return 0


def add_options(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--stream", dest="mode", action="store_const", const="stream",
        help="only with OPENROUTER_STREAM on (drafts while the answer streams)",
    )  # fmt: skip
    which.add_argument(
        "--no-stream", dest="mode", action="store_const", const="no-stream",
        help="only with OPENROUTER_STREAM off",
    )  # fmt: skip
    which.add_argument(
        "--both", dest="mode", action="store_const", const="both",
        help="without streaming, then with it (the default)",
    )  # fmt: skip
    parser.set_defaults(mode="both")
    parser.add_argument("--burst", action="store_true", help="also run the burst")
    parser.add_argument("--no-conversation", action="store_true", help="skip the conversation load")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each scenario and mode")
    parser.add_argument("--chats", type=int, default=20, help="conversation: chats (20)")
    parser.add_argument("--messages", type=int, default=5, help="conversation: per chat (5)")
    parser.add_argument(
        "--think",
        type=float,
        default=0.7,
        help="conversation: seconds between an answer and the user's next message (0.7)",
    )
    parser.add_argument("--burst-chats", type=int, default=500, help="burst: chats (500)")
    parser.add_argument(
        "--delay", type=float, default=0.3, help="the LLM's own time per answer, seconds (0.3)"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="conversation: seconds to wait for an answer"
    )
    parser.add_argument(
        "--burst-timeout",
        type=float,
        default=DEFAULT_BURST_TIMEOUT,
        help="burst: seconds to wait for all (60; 5x that when profiling)",
    )


def main(argv: Sequence[str] | None = None) -> None:
    e2e.bench_main("telegram_e2e", __doc__, add_options, run, argv)


if __name__ == "__main__":
    main()
