"""Discord end to end: users @mention the bot in the text channels of one guild of the fake Discord
(REST v10 + gateway), the bot (discord.py + chatrelay's core, SQLite in a temp dir) answers from
the fake OpenRouter, streaming: one message per answer, edited as the answer grows (at most once
per --edit-interval per answer), then edited to the final text. The figures are the bot process's.

Three processes: the bot alone in its own (bench.discord_bot), so its CPU and peak memory are
read from /proc as the bot's; the fake OpenRouter in another; this one plays the users and runs
the fake Discord, timestamping both ends with one clock: when a user's MESSAGE_CREATE is sent on
the gateway, and when the fake receives the bot's message create or edit whose content is the
whole answer ("Echo: <speaker>: <text>", without the "still writing" marker). The LLM streams
its answer over --delay: the first chunk (reasoning) after --first-share of it, the rest (4
reasoning chunks, 4 content chunks, finish, usage) spread evenly over the remainder; its own time
is measured first with a bare httpx client, and overhead is what a reply takes beyond it.

Load: --channels text channels, each with its own user sending --messages @mentions in turn, the
next one --think seconds (0) after the previous answer is complete; the channels start at random
moments within the first LLM delay. Discord's rate limits are ON in the fake as on Discord (per
channel and route 5 message creates or edits per 5 s, fixed windows; 50 requests/s overall);
discord.py waits them out itself when it sees a bucket empty, and the fake counts its 429s.
--no-rate-limits turns them off, to see the bot's own overhead apart from Discord's pacing.

Run: .venv/bin/python -m bench.discord_e2e [--repeat N] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench import e2e
from bench.discord_bot import TOKEN
from bench.support import llm_baseline_ms
from tests.fakes.discord import Channel, FakeDiscord, Guild, RateLimits, User
from tests.fakes.discord.server import Request

WRITING_MARKER = "▌"
WARMUP_CHANNELS = 3
MESSAGE_ROUTES = (
    "POST /channels/{channel_id}/messages",
    "PATCH /channels/{channel_id}/messages/{message_id}",
)

# targets on this 2-core machine
TARGET_P99_MS = 300.0
TARGET_REPLIES_PER_SECOND = 13.0
TARGET_CPU_PER_1000 = 10.0

Json = dict[str, Any]


class TimedDiscord(FakeDiscord):
    """The fake Discord, noting (on this process's monotonic clock) when each awaited final
    answer arrives, as a message create or an edit. The limiter has let the request through by
    then; a 429 never reaches these handlers. Final-looking contents nobody waited for are kept
    in ``answers.unexpected``."""

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self.answers = e2e.Answers()

    api_name = "REST"
    unexpected_name = "other final-looking messages from the bot"

    def _arrived(self, arrived: float, message: Json) -> None:
        content = str(message.get("content") or "")
        final = not content.endswith(WRITING_MARKER)
        self.answers.arrived(arrived, int(message["channel_id"]), content, final=final)

    async def _create_message(self, req: Request) -> Json:
        arrived = time.monotonic()
        message = await super()._create_message(req)  # a 400 raises: not an answer
        self._arrived(arrived, message)
        return message

    async def _edit_message(self, req: Request) -> Json:
        arrived = time.monotonic()
        message = await super()._edit_message(req)
        self._arrived(arrived, message)
        return message

    def calls_by_route(self) -> str:
        calls = ((call.route, call.status != 429) for call in self.calls)
        return e2e.tally(calls, refused="{count} x 429", separator="; ")

    @property
    def rejected(self) -> int:
        return sum(1 for call in self.calls if call.status == 429)

    def message_calls(self) -> int:
        return sum(1 for call in self.calls if call.route in MESSAGE_ROUTES and call.status < 300)

    def recent_calls(self, count: int = 10) -> str:
        return "; ".join(f"{c.route}:{c.status}" for c in self.calls[-count:])


@dataclass
class World:
    fake: TimedDiscord
    guild: Guild
    channels: list[tuple[Channel, User]]
    warmup: list[tuple[Channel, User]]


def build_world(fake: TimedDiscord, channels: int) -> World:
    """The guild, its channels and users; made before the bot connects (it learns them in
    GUILD_CREATE)."""
    guild = fake.guild("Bench Guild")
    measured = [
        (fake.text_channel(guild, f"bench-{i}"), fake.user(f"user{i}")) for i in range(channels)
    ]
    warmup = [
        (fake.text_channel(guild, f"warm-{i}"), fake.user(f"warm{i}"))
        for i in range(WARMUP_CHANNELS)
    ]
    return World(fake, guild, measured, warmup)


# --------------------------------------------------------------------------- figures


@dataclass(kw_only=True)
class Result(e2e.Outcome):
    llm_ms: float
    rate_limited: bool
    rejected_429: int = 0
    message_calls: int = 0


# --------------------------------------------------------------------------- users


def answer_to(user: User, text: str) -> str:
    """The fake OpenRouter's default answer in a guild: it echoes the last user turn, which the
    core writes as "<display name>: <text>" in shared chats."""
    return f"Echo: {user.global_name or user.username}: {text}"


async def one_channel(
    fake: TimedDiscord,
    channel: Channel,
    user: User,
    pace: e2e.Pace,
) -> list[float]:
    async def message(n: int) -> asyncio.Future[float]:
        text = f"message {n} in {channel.name}"
        answered = fake.answers.expect(channel.id, answer_to(user, text))
        await fake.user_says(channel, user, text, mentions_bot=True)
        return answered

    return await e2e.take_turns(message, f"#{channel.name}", pace)


async def conversation(
    world: World, bot: e2e.BotProcess, args: argparse.Namespace, llm_ms: float
) -> Result:
    fake = world.fake

    def failed(failures: list[BaseException]) -> str:
        return (
            f"{len(failures)} of {len(world.channels)} channels did not get all their answers "
            f"(first: {failures[0]})\n{e2e.diagnosis(fake, bot)}"
        )

    load = await e2e.measure_turns(
        bot,
        [
            one_channel(fake, channel, user, pace)
            for (channel, user), pace in zip(
                world.channels, e2e.paces(args, len(world.channels)), strict=True
            )
        ],
        failed,
    )
    return Result(
        replies=len(load.latencies_ms),
        wall=load.wall,
        latencies_ms=load.latencies_ms,
        usage=load.usage,
        llm_ms=llm_ms,
        rate_limited=not args.no_rate_limits,
        calls=fake.calls_by_route(),
        rejected_429=fake.rejected,
        message_calls=fake.message_calls(),
    )


# --------------------------------------------------------------------------- one run


async def measure(
    args: argparse.Namespace, number: int, space: e2e.Workspace, llm_ms: float
) -> Result:
    """Warm the bot up, then measure the conversation load on the fake Discord."""
    limits = RateLimits.off() if args.no_rate_limits else RateLimits()
    fake = TimedDiscord(TOKEN, rate_limits=limits)
    async with fake:
        world = build_world(fake, args.channels)
        options = [
            "--api",
            f"{fake.base_url}/api/v10",
            "--gateway",
            fake.gateway_url,
            "--edit-interval",
            str(args.edit_interval),
        ]
        async with e2e.bot_process(
            "bench.discord_bot", space, options, log_level=args.log_level
        ) as bot:
            await e2e.warm_up(
                [
                    one_channel(fake, channel, user, e2e.warmup_pace(args.timeout))
                    for channel, user in world.warmup
                ],
                lambda: e2e.diagnosis(fake, bot),
            )
            fake.reset()
            fake.answers.unexpected.clear()
            async with e2e.profiled(args, bot, f"discord-{number}"):
                result = await conversation(world, bot, args, llm_ms)
            fake.answers.note("final-looking messages")
    return result


async def run_once(args: argparse.Namespace, number: int) -> Result:
    async with e2e.workspace(e2e.streamed_timing(args.delay, args.first_share)) as space:
        llm_ms = await llm_baseline_ms(space.openrouter, stream=True, rounds=9)
        result = await measure(args, number, space, llm_ms)
    result.check_p99(TARGET_P99_MS)
    result.check(
        f">= {TARGET_REPLIES_PER_SECOND:.0f} replies/s",
        result.per_second >= TARGET_REPLIES_PER_SECOND,
        f"{result.per_second:.1f}/s",
    )
    result.check_cpu(TARGET_CPU_PER_1000)
    return result


def report(result: Result, args: argparse.Namespace, number: int) -> None:
    print()
    print(
        f"run #{number}: {args.channels} channels x {args.messages} @mentions, each sent "
        f"{args.think:g} s after the previous answer; edit interval {args.edit_interval:g} s"
    )
    if result.rate_limited:
        print(
            "  fake Discord rate limits ON: per channel and route 5 creates/edits per 5 s, "
            "50 requests/s overall"
        )
    else:
        print("  fake Discord rate limits OFF (--no-rate-limits)")
    print(
        f"  the LLM: {args.delay * 1000:.0f} ms streamed, first chunk after "
        f"{args.delay * args.first_share * 1000:.0f} ms; its own time (bare httpx client, "
        f"median): {result.llm_ms:.1f} ms"
    )
    print(f"  replies: {result.replies} in {result.wall:.2f} s = {result.per_second:.1f} replies/s")
    result.print_overhead()
    result.print_usage(
        fake="Discord", threads="SQLite, discord.py's heartbeat", ready="ready", cpu_split=True
    )
    print(
        f"  message creates + edits accepted: {result.message_calls} "
        f"({result.message_calls / result.replies:.2f} per reply); 429s from the fake: "
        f"{result.rejected_429}"
    )
    print(f"  REST calls: {result.calls}")
    result.print_checks()


def summary(results: Sequence[Result]) -> None:
    print()
    print("summary")
    for number, result in enumerate(results, 1):
        print(
            f"  #{number}  {result.per_second:5.1f} replies/s  {result.overhead_figure(7)}  "
            f"{result.usage_figure}  429s {result.rejected_429}  {result.verdict}"
        )


async def run(args: argparse.Namespace) -> int:
    e2e.profiling(args)
    results = []
    for number in range(1, args.repeat + 1):
        result = await run_once(args, number)
        report(result, args, number)
        results.append(result)
    summary(results)
    return 0


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeat", type=int, default=1, help="runs, each with a fresh bot (1)")
    parser.add_argument("--channels", type=int, default=8, help="text channels, one user each (8)")
    parser.add_argument("--messages", type=int, default=10, help="@mentions per channel (10)")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="seconds between an answer and the user's next message (0)",
    )
    parser.add_argument(
        "--delay", type=float, default=0.5, help="the LLM's streamed answer, seconds (0.5)"
    )
    parser.add_argument(
        "--first-share",
        type=float,
        default=0.1,
        help="share of --delay until the LLM's first chunk (0.1)",
    )
    parser.add_argument(
        "--edit-interval",
        type=float,
        default=1.0,
        help="DISCORD_EDIT_INTERVAL: seconds between edits of a streaming answer (1.0)",
    )
    parser.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="turn the fake's Discord rate limits off (on by default, as on Discord)",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for an answer")


def main(argv: Sequence[str] | None = None) -> None:
    e2e.bench_main("discord_e2e", __doc__, add_options, run, argv)


if __name__ == "__main__":
    main()
