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
import contextlib
import os
import pstats
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.support import (
    API_KEY,
    cpu_seconds,
    describe_ms,
    fake_openrouter_process,
    llm_baseline_ms,
    percentile,
    process_cpu_seconds,
    process_peak_rss_mb,
    process_rss_mb,
)
from bench.telegram_bot import TOKEN
from core.storage.migrate import upgrade_to_head
from tests.fakes.telegram import Chat, FakeTelegram, FloodLimits
from tests.fakes.telegram.server import Params

ROOT = Path(__file__).resolve().parent.parent
CHUNKS = 4  # a streamed answer: this many reasoning chunks, as many content chunks, finish, usage
STREAM_FIRST_SHARE = 0.8  # of the LLM's time, until the first chunk
CONVERSATION_BASE_ID = 1_000_000
BURST_BASE_ID = 2_000_000
WARMUP_BASE_ID = 3_000_000
DEFAULT_BURST_TIMEOUT = 60.0
SETTLE = 0.5  # after the last reply, before reading the bot's CPU (its bookkeeping after a reply)

# targets on this 2-core machine: (without streaming, with streaming)
TARGET_P99_MS = {False: 100.0, True: 150.0}
TARGET_CPU_PER_1000 = {False: 6.0, True: 10.0}
TARGET_BURST_SECONDS = 18.0
TARGET_PEAK_RSS_MB = 80.0

Json = dict[str, Any]


class BenchError(Exception):
    """The run could not be measured (replies missing, a process died); the message says why."""


class TimedTelegram(FakeTelegram):
    """The fake Bot API, noting (on this process's monotonic clock) when each awaited final
    answer arrives as a sendMessage."""

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self._expected: dict[tuple[int, str], asyncio.Future[float]] = {}
        self.unexpected: list[tuple[int, str]] = []

    def expect(self, chat_id: int, text: str) -> asyncio.Future[float]:
        """A future set to the arrival time of the sendMessage of ``text`` in ``chat_id``."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._expected[(chat_id, text)] = future
        return future

    async def send_message(self, p: Params) -> Json:
        arrived = time.monotonic()
        message = await super().send_message(p)  # a 429 or 400 raises: not an answer
        key = (int(message["chat"]["id"]), str(message["text"]))
        future = self._expected.pop(key, None)
        if future is None:
            self.unexpected.append(key)
        elif not future.done():
            future.set_result(arrived)
        return message

    def calls_by_method(self) -> str:
        counts = Counter(call.method for call in self.calls)
        failed = Counter(call.method for call in self.calls if not call.ok)
        parts = []
        for method, count in counts.most_common():
            errors = f" ({failed[method]} refused)" if failed[method] else ""
            parts.append(f"{method} {count}{errors}")
        return ", ".join(parts) or "none"

    def recent_calls(self, count: int = 10) -> str:
        return "; ".join(
            f"{c.method}:{c.status}" + (f" {c.description}" if c.description else "")
            for c in self.calls[-count:]
        )


# --------------------------------------------------------------------------- the bot process


class BotProcess:
    def __init__(self, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.process = process
        self.pid = process.pid
        self.log_path = log_path
        self.ready_rss_mb = 0.0

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(f"    | {line}" for line in text[-lines:]) or "    | (empty)"

    async def _line(self, expected: str, timeout: float) -> None:  # noqa: ASYNC109
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        except TimeoutError:
            raise BenchError(
                f"the bot process did not say {expected!r} within {timeout:.0f} s; its log ends:\n"
                f"{self.log_tail()}"
            ) from None
        if line.decode().strip() != expected:
            await self.process.wait()
            raise BenchError(
                f"the bot process exited (status {self.process.returncode}) instead of saying "
                f"{expected!r}; its log ends:\n{self.log_tail()}"
            )

    async def command(self, line: str, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()
        await self._line("ok", timeout)

    async def close(self) -> None:
        process = self.process
        if process.returncode is None:
            with contextlib.suppress(BenchError, OSError, ConnectionError):
                await self.command("stop", timeout=20.0)
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 20.0)
            except TimeoutError:
                print("  (the bot process did not stop within 20 s; terminating it)")
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 5.0)
                except TimeoutError:
                    process.kill()
                    await process.wait()


@contextlib.asynccontextmanager
async def bot_process(
    *, telegram: str, openrouter: str, database: str, stream: bool, log_path: Path, log_level: str
) -> AsyncIterator[BotProcess]:
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.telegram_bot",
            "--telegram",
            telegram,
            "--openrouter",
            openrouter,
            "--api-key",
            API_KEY,
            "--database",
            database,
            "--stream" if stream else "--no-stream",
            "--log-level",
            log_level,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            cwd=ROOT,
            env={**os.environ, "PTB_TIMEDELTA": "1"},
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
class Window:
    """CPU of the bot (all threads, and its main thread: the event loop) and of this process
    over the measured part of a run."""

    bot_pid: int
    bot_cpu: float = 0.0
    loop_cpu: float = 0.0
    own_cpu: float = 0.0
    _starts: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def _now(self) -> tuple[float, float, float]:
        pid = self.bot_pid
        return process_cpu_seconds(pid), process_cpu_seconds(pid, pid), cpu_seconds()

    def start(self) -> None:
        self._starts = self._now()

    def stop(self) -> None:
        ends = self._now()
        self.bot_cpu, self.loop_cpu, self.own_cpu = (
            end - start for end, start in zip(ends, self._starts, strict=True)
        )


@dataclass
class Result:
    scenario: str  # "conversation" | "burst"
    stream: bool
    replies: int
    wall: float
    bot_cpu: float
    loop_cpu: float
    own_cpu: float
    peak_rss_mb: float
    ready_rss_mb: float
    latencies_ms: list[float]
    llm_ms: float | None = None
    calls: str = ""
    flood_429: int = 0
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    @property
    def cpu_per_1000(self) -> float:
        return self.bot_cpu / self.replies * 1000

    @property
    def overheads_ms(self) -> list[float]:
        assert self.llm_ms is not None
        return [latency - self.llm_ms for latency in self.latencies_ms]

    def check(self, label: str, ok: bool, figure: str) -> None:
        self.checks.append((label, ok, figure))


def mode_name(stream: bool) -> str:
    return "streaming" if stream else "no streaming"


def print_checks(result: Result) -> None:
    for label, ok, figure in result.checks:
        print(f"  target {label}: {'PASS' if ok else 'MISS'} ({figure})")


# --------------------------------------------------------------------------- users


async def say(tg: TimedTelegram, chat: Chat, text: str) -> tuple[asyncio.Future[float], float]:
    """The user writes ``text``; returns the answer's arrival future and the time it was queued."""
    answered = tg.expect(chat.id, f"Echo: {text}")
    await tg.user_says(chat, None, text)
    return answered, time.monotonic()


async def one_chat(
    tg: TimedTelegram,
    chat: Chat,
    messages: int,
    think: float,
    start: float,
    timeout: float,  # noqa: ASYNC109
) -> list[float]:
    await asyncio.sleep(start)
    latencies = []
    for n in range(messages):
        answered, queued = await say(tg, chat, f"message {n} from chat {chat.id}")
        try:
            arrived = await asyncio.wait_for(answered, timeout)
        except TimeoutError:
            raise BenchError(
                f"chat {chat.id}: no answer to message {n} within {timeout:.0f} s"
            ) from None
        latencies.append((arrived - queued) * 1000)
        if n + 1 < messages:
            await asyncio.sleep(think)
    return latencies


async def warm_up(tg: TimedTelegram, timeout: float) -> None:  # noqa: ASYNC109
    """A few answers first: connections, the model list, the database, lazy imports."""
    chats = [tg.private_chat(WARMUP_BASE_ID + i, f"Warm{i}") for i in range(3)]
    await asyncio.gather(*(one_chat(tg, chat, 2, 0.0, 0.0, timeout) for chat in chats))
    await asyncio.sleep(0.3)


def diagnose(tg: TimedTelegram, bot: BotProcess) -> str:
    unexpected = "; ".join(f"{chat}: {text[:80]!r}" for chat, text in tg.unexpected[:5])
    return (
        f"  the fake's last Bot API calls: {tg.recent_calls() or 'none'}\n"
        f"  other messages the bot sent: {unexpected or 'none'}\n"
        f"  the bot's log ends:\n{bot.log_tail()}"
    )


async def conversation(
    tg: TimedTelegram, bot: BotProcess, args: argparse.Namespace, stream: bool, llm_ms: float
) -> Result:
    chats = [
        tg.private_chat(CONVERSATION_BASE_ID + i, f"User{i}", f"user{i}") for i in range(args.chats)
    ]
    starts = random.Random(7)
    window = Window(bot.pid)
    window.start()
    began = time.monotonic()
    outcomes = await asyncio.gather(
        *(
            one_chat(
                tg, chat, args.messages, args.think, starts.uniform(0, args.delay), args.timeout
            )
            for chat in chats
        ),
        return_exceptions=True,
    )
    wall = time.monotonic() - began
    failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    if failures:
        missing = sum(1 for outcome in failures if isinstance(outcome, BenchError))
        raise BenchError(
            f"conversation load ({mode_name(stream)}): {missing} of {len(chats)} chats never got "
            f"an answer (first: {failures[0]})\n{diagnose(tg, bot)}"
        ) from failures[0]
    await asyncio.sleep(SETTLE)
    window.stop()
    latencies = [value for outcome in outcomes if isinstance(outcome, list) for value in outcome]
    result = Result(
        "conversation",
        stream,
        len(latencies),
        wall,
        window.bot_cpu,
        window.loop_cpu,
        window.own_cpu,
        process_peak_rss_mb(bot.pid),
        bot.ready_rss_mb,
        latencies,
        llm_ms=llm_ms,
        calls=tg.calls_by_method(),
        flood_429=tg.flood.rejected,
    )
    p99 = percentile(result.overheads_ms, 99)
    result.check(
        f"overhead p99 <= {TARGET_P99_MS[stream]:.0f} ms",
        p99 <= TARGET_P99_MS[stream],
        f"{p99:.1f} ms",
    )
    return result


async def burst(
    tg: TimedTelegram, bot: BotProcess, args: argparse.Namespace, stream: bool
) -> Result:
    chats = [tg.private_chat(BURST_BASE_ID + i, f"Burst{i}") for i in range(args.burst_chats)]
    window = Window(bot.pid)
    window.start()
    began = time.monotonic()
    pending: list[tuple[asyncio.Future[float], float]] = []
    for n in range(2):  # no await below gives the loop a turn: all are queued before any is read
        for chat in chats:
            pending.append(await say(tg, chat, f"burst message {n} from chat {chat.id}"))
    queued_in = time.monotonic() - began
    futures = [future for future, _ in pending]
    _, late = await asyncio.wait(futures, timeout=args.burst_timeout)
    if late:
        raise BenchError(
            f"burst ({mode_name(stream)}): {len(late)} of {len(futures)} messages still "
            f"unanswered after {args.burst_timeout:.0f} s\n{diagnose(tg, bot)}"
        )
    wall = max(future.result() for future in futures) - began
    await asyncio.sleep(SETTLE)
    window.stop()
    result = Result(
        "burst",
        stream,
        len(futures),
        wall,
        window.bot_cpu,
        window.loop_cpu,
        window.own_cpu,
        process_peak_rss_mb(bot.pid),
        bot.ready_rss_mb,
        [(future.result() - queued) * 1000 for future, queued in pending],
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


def llm_timing(delay: float, stream: bool) -> dict[str, float | int]:
    """The fake LLM's own time is ``delay`` either way; streamed, it ends in a few chunks."""
    if not stream:
        return {"first_token_delay": delay, "chunks": CHUNKS, "chunk_delay": 0.0}
    first = delay * STREAM_FIRST_SHARE
    return {
        "first_token_delay": first,
        "chunks": CHUNKS,
        "chunk_delay": (delay - first) / (2 * CHUNKS + 1),  # the pauses between 2N+2 chunks
    }


async def run_once(scenario: str, stream: bool, args: argparse.Namespace, number: int) -> Result:
    limits = FloodLimits() if scenario == "conversation" else FloodLimits(global_per_second=0)
    with tempfile.TemporaryDirectory(prefix="chatrelay-bench-") as tmp:
        database = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        # As a deployment does (`chatrelay migrate`, then `chatrelay run`): the bot starts on a
        # database already at the newest schema, so Alembic stays out of its memory.
        await upgrade_to_head(database)
        timing = llm_timing(args.delay, stream)
        async with fake_openrouter_process(**timing) as openrouter:  # type: ignore[arg-type]
            llm_ms = None
            if scenario == "conversation":
                llm_ms = await llm_baseline_ms(openrouter, stream=stream, rounds=9)
            async with (
                TimedTelegram(TOKEN, bot_username="chatrelay_bench_bot", flood=limits) as tg,
                bot_process(
                    telegram=tg.base_url,
                    openrouter=openrouter,
                    database=database,
                    stream=stream,
                    log_path=Path(tmp) / "bot.log",
                    log_level=args.log_level,
                ) as bot,
            ):
                try:
                    await warm_up(tg, args.timeout)
                except BenchError as error:
                    raise BenchError(f"warm-up: {error}\n{diagnose(tg, bot)}") from None
                tg.reset()
                tg.unexpected.clear()
                profiler = Profiler.choose(args, bot, f"{scenario}-{mode_name(stream)}-{number}")
                if profiler is not None:
                    await profiler.start()
                try:
                    if scenario == "conversation":
                        assert llm_ms is not None
                        result = await conversation(tg, bot, args, stream, llm_ms)
                    else:
                        result = await burst(tg, bot, args, stream)
                finally:
                    if profiler is not None:
                        await profiler.stop()
                if profiler is not None:
                    profiler.show(args.profile_top)
                if tg.unexpected:
                    print(
                        f"  note: {len(tg.unexpected)} other messages from the bot, e.g. "
                        f"{tg.unexpected[0][1][:80]!r}"
                    )
    cpu_target = TARGET_CPU_PER_1000[stream]
    result.check(
        f"bot CPU <= {cpu_target:.0f} s per 1,000 replies",
        result.cpu_per_1000 <= cpu_target,
        f"{result.cpu_per_1000:.2f} s",
    )
    result.check(
        f"bot peak RSS < {TARGET_PEAK_RSS_MB:.0f} MB",
        result.peak_rss_mb < TARGET_PEAK_RSS_MB,
        f"{result.peak_rss_mb:.1f} MB",
    )
    return result


class Profiler:
    """cProfile inside the bot (its event loop thread), or py-spy sampling it from outside (all
    its threads, less intrusive), over the measured part of a run."""

    def __init__(self, bot: BotProcess, path: Path, py_spy: str | None) -> None:
        self._bot = bot
        self.path = path
        self._py_spy = py_spy
        self._sampler: asyncio.subprocess.Process | None = None

    @classmethod
    def choose(cls, args: argparse.Namespace, bot: BotProcess, name: str) -> Profiler | None:
        if args.py_spy:
            executable = os.environ.get("PY_SPY") or shutil.which("py-spy")
            if executable is None:
                raise BenchError("--py-spy needs py-spy on PATH or in $PY_SPY")
            folder, suffix = Path(args.py_spy), ".txt"
        elif args.profile:
            executable, folder, suffix = None, Path(args.profile), ".pstats"
        else:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        return cls(bot, (folder / name.replace(" ", "-")).with_suffix(suffix), executable)

    async def start(self) -> None:
        if self._py_spy is None:
            await self._bot.command("profile-start")
            return
        self._sampler = await asyncio.create_subprocess_exec(
            self._py_spy,
            "record",
            "--pid",
            str(self._bot.pid),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(self.path),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(0.5)  # until it samples

    async def stop(self) -> None:
        if self._sampler is None:
            await self._bot.command(f"profile-stop {self.path.resolve()}")
            return
        if self._sampler.returncode is None:
            self._sampler.send_signal(signal.SIGINT)  # py-spy writes its file and exits
        await asyncio.wait_for(self._sampler.wait(), 30.0)

    def show(self, top: int) -> None:
        if self._sampler is None:
            print(f"  cProfile of the bot's event loop thread over the measured part: {self.path}")
            for order in ("tottime", "cumulative"):
                print(f"  --- top {top} by {order}")
                stats = pstats.Stats(str(self.path), stream=sys.stdout)
                stats.strip_dirs().sort_stats(order).print_stats(top)
            return
        show_samples(self.path, top)


def show_samples(path: Path, top: int) -> None:
    """The top functions of py-spy's collapsed stacks, by own and by inclusive samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    print(f"  py-spy samples of the bot (all threads, 200/s) over the measured part: {path}")
    if not total:
        print("  (no samples)")
        return
    for title, counter in (("own", own), ("inclusive", inclusive)):
        print(f"  --- top {top} by {title} samples, of {total}")
        for frame, count in counter.most_common(top):
            print(f"  {count / total * 100:5.1f}%  {frame}")


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
            f"{result.replies / result.wall:.1f} replies/s"
            + (" (paced by the users' think time)" if args.think else "")
        )
        print(f"  overhead beyond the LLM: {describe_ms(result.overheads_ms)}")
    else:
        print(
            f"burst #{number}, {mode}: {result.replies} messages from {args.burst_chats} private "
            f"chats (2 each), all queued at t=0; LLM {args.delay * 1000:.0f} ms"
        )
        print(
            "  fake Telegram flood limits: per chat 1/s (burst 3) on, overall 30/s OFF "
            "(real Telegram's would need >= 33 s for 1,000 replies)"
        )
        print(
            f"  all answered after {result.wall:.2f} s = "
            f"{result.replies / result.wall:.1f} replies/s"
        )
        print(f"  time to each answer: {describe_ms(result.latencies_ms)}")
    print(
        f"  bot CPU: {result.bot_cpu:.2f} s = {result.cpu_per_1000:.2f} s per 1,000 replies; "
        f"its event loop thread {result.loop_cpu:.2f} s, other threads (SQLite) "
        f"{result.bot_cpu - result.loop_cpu:.2f} s"
    )
    print(f"  CPU of this process (the fake Telegram, the users): {result.own_cpu:.2f} s")
    print(
        f"  bot peak RSS: {result.peak_rss_mb:.1f} MB "
        f"({result.ready_rss_mb:.1f} MB once polling, before any message)"
    )
    print(f"  Bot API calls: {result.calls}; flood 429s: {result.flood_429}")
    print_checks(result)


def summary(results: Sequence[Result]) -> None:
    print()
    print("summary (overhead for the conversation load, time to all answers for the burst)")
    for result in results:
        if result.scenario == "conversation":
            values = result.overheads_ms
            figure = (
                f"overhead p50 {percentile(values, 50):6.1f} p95 {percentile(values, 95):6.1f} "
                f"p99 {percentile(values, 99):6.1f} ms"
            )
        else:
            figure = f"all answered in {result.wall:5.2f} s ({result.replies / result.wall:.0f}/s)"
        misses = [label for label, ok, _ in result.checks if not ok]
        verdict = "PASS" if not misses else "MISS: " + "; ".join(misses)
        print(
            f"  {result.scenario:12} {mode_name(result.stream):12}  {figure}  "
            f"CPU {result.cpu_per_1000:5.2f} s/1000  RSS {result.peak_rss_mb:5.1f} MB  {verdict}"
        )


async def run(args: argparse.Namespace) -> int:
    modes = {"stream": [True], "no-stream": [False], "both": [False, True]}[args.mode]
    scenarios = ([] if args.no_conversation else ["conversation"]) + (
        ["burst"] if args.burst else []
    )
    if not scenarios:
        print("nothing to run: --no-conversation without --burst")
        return 2
    if args.profile or args.py_spy:
        print("profiling the bot: its CPU and timing figures are inflated")
        if args.burst_timeout == DEFAULT_BURST_TIMEOUT:
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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
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
        print(f"\ntelegram_e2e: {error}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
