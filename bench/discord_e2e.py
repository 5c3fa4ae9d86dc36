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
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.discord_bot import TOKEN
from bench.support import (
    API_KEY,
    describe_ms,
    fake_openrouter_process,
    llm_baseline_ms,
    percentile,
    process_cpu_split,
    process_peak_rss_mb,
    process_rss_mb,
)
from bench.telegram_e2e import BenchError, BotProcess, Profiler, Window
from core.storage.migrate import upgrade_to_head
from tests.fakes.discord import Channel, FakeDiscord, Guild, RateLimits, User
from tests.fakes.discord.server import Request

ROOT = Path(__file__).resolve().parent.parent
CHUNKS = 4  # a streamed answer: this many reasoning chunks, as many content chunks, finish, usage
WRITING_MARKER = "▌"
SETTLE = 0.5  # after the last reply, before reading the bot's CPU (its bookkeeping after a reply)
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
    then; a 429 never reaches these handlers."""

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self._expected: dict[tuple[int, str], asyncio.Future[float]] = {}
        self.unexpected: list[tuple[int, str]] = []  # final-looking contents nobody waited for

    def expect(self, channel_id: int, content: str) -> asyncio.Future[float]:
        """A future set to the arrival time of ``content`` in ``channel_id``."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._expected[(channel_id, content)] = future
        return future

    def _arrived(self, arrived: float, message: Json) -> None:
        content = str(message.get("content") or "")
        key = (int(message["channel_id"]), content)
        future = self._expected.pop(key, None)
        if future is None:
            if not content.endswith(WRITING_MARKER):
                self.unexpected.append(key)
        elif not future.done():
            future.set_result(arrived)

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
        counts = Counter(call.route for call in self.calls)
        refused = Counter(call.route for call in self.calls if call.status == 429)
        parts = []
        for route, count in counts.most_common():
            extra = f" ({refused[route]} x 429)" if refused[route] else ""
            parts.append(f"{route} {count}{extra}")
        return "; ".join(parts) or "none"

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


# --------------------------------------------------------------------------- the bot process


@asynccontextmanager
async def bot_process(
    *,
    fake: FakeDiscord,
    openrouter: str,
    database: str,
    edit_interval: float,
    log_path: Path,
    log_level: str,
) -> AsyncIterator[BotProcess]:
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.discord_bot",
            "--api",
            f"{fake.base_url}/api/v10",
            "--gateway",
            fake.gateway_url,
            "--openrouter",
            openrouter,
            "--api-key",
            API_KEY,
            "--database",
            database,
            "--edit-interval",
            str(edit_interval),
            "--log-level",
            log_level,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            cwd=ROOT,
            env=dict(os.environ),
        )
    bot = BotProcess(process, log_path)
    try:
        await bot._line("ready", 60.0)
        bot.ready_rss_mb = process_rss_mb(bot.pid)
        yield bot
    finally:
        await bot.close()


# --------------------------------------------------------------------------- figures


@dataclass
class Result:
    replies: int
    wall: float
    bot_cpu: float
    loop_cpu: float
    own_cpu: float
    peak_rss_mb: float
    ready_rss_mb: float
    latencies_ms: list[float]
    llm_ms: float
    rate_limited: bool
    user_cpu: float = 0.0
    system_cpu: float = 0.0
    calls: str = ""
    rejected_429: int = 0
    message_calls: int = 0
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    @property
    def cpu_per_1000(self) -> float:
        return self.bot_cpu / self.replies * 1000

    @property
    def per_second(self) -> float:
        return self.replies / self.wall

    @property
    def overheads_ms(self) -> list[float]:
        return [latency - self.llm_ms for latency in self.latencies_ms]

    def check(self, label: str, ok: bool, figure: str) -> None:
        self.checks.append((label, ok, figure))


# --------------------------------------------------------------------------- users


def answer_to(user: User, text: str) -> str:
    """The fake OpenRouter's default answer in a guild: it echoes the last user turn, which the
    core writes as "<display name>: <text>" in shared chats."""
    return f"Echo: {user.global_name or user.username}: {text}"


async def one_channel(
    fake: TimedDiscord,
    channel: Channel,
    user: User,
    messages: int,
    think: float,
    start: float,
    timeout: float,  # noqa: ASYNC109
) -> list[float]:
    await asyncio.sleep(start)
    latencies = []
    for n in range(messages):
        text = f"message {n} in {channel.name}"
        answered = fake.expect(channel.id, answer_to(user, text))
        await fake.user_says(channel, user, text, mentions_bot=True)
        queued = time.monotonic()
        try:
            arrived = await asyncio.wait_for(answered, timeout)
        except TimeoutError:
            raise BenchError(
                f"#{channel.name}: no answer to message {n} within {timeout:.0f} s"
            ) from None
        latencies.append((arrived - queued) * 1000)
        if n + 1 < messages and think:
            await asyncio.sleep(think)
    return latencies


def diagnose(fake: TimedDiscord, bot: BotProcess) -> str:
    unexpected = "; ".join(f"{channel}: {text[:80]!r}" for channel, text in fake.unexpected[:5])
    return (
        f"  the fake's last REST calls: {fake.recent_calls() or 'none'}\n"
        f"  other final-looking messages from the bot: {unexpected or 'none'}\n"
        f"  the bot's log ends:\n{bot.log_tail()}"
    )


async def warm_up(world: World, bot: BotProcess, timeout: float) -> None:  # noqa: ASYNC109
    """A few answers first: connections, the model list, the database, lazy imports."""
    try:
        await asyncio.gather(
            *(
                one_channel(world.fake, channel, user, 2, 0.0, 0.0, timeout)
                for channel, user in world.warmup
            )
        )
    except BenchError as error:
        raise BenchError(f"warm-up: {error}\n{diagnose(world.fake, bot)}") from None
    await asyncio.sleep(0.3)


async def conversation(
    world: World, bot: BotProcess, args: argparse.Namespace, llm_ms: float
) -> Result:
    fake = world.fake
    starts = random.Random(7)
    window = Window(bot.pid)
    split_start = process_cpu_split(bot.pid)
    window.start()
    began = time.monotonic()
    outcomes = await asyncio.gather(
        *(
            one_channel(
                fake,
                channel,
                user,
                args.messages,
                args.think,
                starts.uniform(0, args.delay),
                args.timeout,
            )
            for channel, user in world.channels
        ),
        return_exceptions=True,
    )
    wall = time.monotonic() - began
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    if failures:
        raise BenchError(
            f"{len(failures)} of {len(world.channels)} channels did not get all their answers "
            f"(first: {failures[0]})\n{diagnose(fake, bot)}"
        ) from failures[0]
    await asyncio.sleep(SETTLE)
    window.stop()
    user_cpu, system_cpu = (
        end - start for end, start in zip(process_cpu_split(bot.pid), split_start, strict=True)
    )
    latencies = [value for outcome in outcomes if isinstance(outcome, list) for value in outcome]
    return Result(
        len(latencies),
        wall,
        window.bot_cpu,
        window.loop_cpu,
        window.own_cpu,
        process_peak_rss_mb(bot.pid),
        bot.ready_rss_mb,
        latencies,
        llm_ms,
        not args.no_rate_limits,
        user_cpu=user_cpu,
        system_cpu=system_cpu,
        calls=fake.calls_by_route(),
        rejected_429=fake.rejected,
        message_calls=fake.message_calls(),
    )


# --------------------------------------------------------------------------- one run


def llm_timing(delay: float, first_share: float) -> dict[str, float | int]:
    """Streamed over ``delay``: the first chunk after ``first_share`` of it, the others spread
    evenly over the rest (2N+2 chunks, so 2N+1 pauses)."""
    first = delay * first_share
    return {
        "first_token_delay": first,
        "chunks": CHUNKS,
        "chunk_delay": (delay - first) / (2 * CHUNKS + 1),
    }


async def run_once(args: argparse.Namespace, number: int) -> Result:
    limits = RateLimits.off() if args.no_rate_limits else RateLimits()
    with tempfile.TemporaryDirectory(prefix="chatrelay-bench-") as tmp:
        database = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        # As a deployment does (`chatrelay migrate`, then `chatrelay run`).
        await upgrade_to_head(database)
        timing = llm_timing(args.delay, args.first_share)
        async with fake_openrouter_process(**timing) as openrouter:  # type: ignore[arg-type]
            llm_ms = await llm_baseline_ms(openrouter, stream=True, rounds=9)
            async with TimedDiscord(TOKEN, rate_limits=limits) as fake:
                world = build_world(fake, args.channels)
                async with bot_process(
                    fake=fake,
                    openrouter=openrouter,
                    database=database,
                    edit_interval=args.edit_interval,
                    log_path=Path(tmp) / "bot.log",
                    log_level=args.log_level,
                ) as bot:
                    await warm_up(world, bot, args.timeout)
                    fake.reset()
                    fake.unexpected.clear()
                    profiler = Profiler.choose(args, bot, f"discord-{number}")
                    if profiler is not None:
                        await profiler.start()
                    try:
                        result = await conversation(world, bot, args, llm_ms)
                    finally:
                        if profiler is not None:
                            await profiler.stop()
                    if profiler is not None:
                        profiler.show(args.profile_top)
                    if fake.unexpected:
                        print(
                            f"  note: {len(fake.unexpected)} other final-looking messages from "
                            f"the bot, e.g. {fake.unexpected[0][1][:80]!r}"
                        )
    p99 = percentile(result.overheads_ms, 99)
    result.check(f"overhead p99 <= {TARGET_P99_MS:.0f} ms", p99 <= TARGET_P99_MS, f"{p99:.1f} ms")
    result.check(
        f">= {TARGET_REPLIES_PER_SECOND:.0f} replies/s",
        result.per_second >= TARGET_REPLIES_PER_SECOND,
        f"{result.per_second:.1f}/s",
    )
    result.check(
        f"bot CPU <= {TARGET_CPU_PER_1000:.0f} s per 1,000 replies",
        result.cpu_per_1000 <= TARGET_CPU_PER_1000,
        f"{result.cpu_per_1000:.2f} s",
    )
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
    print(f"  overhead beyond the LLM: {describe_ms(result.overheads_ms)}")
    print(
        f"  bot CPU: {result.bot_cpu:.2f} s = {result.cpu_per_1000:.2f} s per 1,000 replies; "
        f"its event loop thread {result.loop_cpu:.2f} s, other threads (SQLite, discord.py's "
        f"heartbeat) {result.bot_cpu - result.loop_cpu:.2f} s; user {result.user_cpu:.2f} s, "
        f"system {result.system_cpu:.2f} s"
    )
    print(f"  CPU of this process (the fake Discord, the users): {result.own_cpu:.2f} s")
    print(
        f"  bot peak RSS: {result.peak_rss_mb:.1f} MB "
        f"({result.ready_rss_mb:.1f} MB once ready, before any message)"
    )
    print(
        f"  message creates + edits accepted: {result.message_calls} "
        f"({result.message_calls / result.replies:.2f} per reply); 429s from the fake: "
        f"{result.rejected_429}"
    )
    print(f"  REST calls: {result.calls}")
    for label, ok, figure in result.checks:
        print(f"  target {label}: {'PASS' if ok else 'MISS'} ({figure})")


def summary(results: Sequence[Result]) -> None:
    print()
    print("summary")
    for number, result in enumerate(results, 1):
        values = result.overheads_ms
        misses = [label for label, ok, _ in result.checks if not ok]
        verdict = "PASS" if not misses else "MISS: " + "; ".join(misses)
        print(
            f"  #{number}  {result.per_second:5.1f} replies/s  overhead p50 "
            f"{percentile(values, 50):7.1f} p95 {percentile(values, 95):7.1f} p99 "
            f"{percentile(values, 99):7.1f} ms  CPU {result.cpu_per_1000:5.2f} s/1000  "
            f"RSS {result.peak_rss_mb:5.1f} MB  429s {result.rejected_429}  {verdict}"
        )


async def run(args: argparse.Namespace) -> int:
    if args.profile or args.py_spy:
        print("profiling the bot: its CPU and timing figures are inflated")
    results = []
    for number in range(1, args.repeat + 1):
        result = await run_once(args, number)
        report(result, args, number)
        results.append(result)
    summary(results)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
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
    parser.add_argument("--log-level", default="INFO", help="the bot's log level (INFO)")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="cProfile the bot over the measured part, write DIR/*.pstats, print the top",
    )
    parser.add_argument(
        "--py-spy",
        metavar="DIR",
        help="sample the bot with py-spy ($PY_SPY or on PATH) instead, write DIR/*.txt",
    )
    parser.add_argument("--profile-top", type=int, default=25, help="profile lines shown (25)")
    args = parser.parse_args(argv)
    try:
        code = asyncio.run(run(args))
    except BenchError as error:
        print(f"\ndiscord_e2e: {error}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
