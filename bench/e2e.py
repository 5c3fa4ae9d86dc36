"""What the end-to-end benchmarks (``bench.telegram_e2e``, ``bench.discord_e2e``) share.

Both run the bot alone in its own process (``bench.telegram_bot``, ``bench.discord_bot``), so
that its CPU and peak memory can be read from /proc as the bot's, play the users and the fake
platform in the driver process, and time each answer on the driver's clock.

For the driver: the bot process's lifecycle (``bot_process``, ``BotProcess``), a fresh database
and fake OpenRouter per run (``workspace``), the users (``Pace``, ``take_turns``) and the
measured window (``Usage``, ``measure_turns``), profiling the bot (``profiled``), the figures
and target verdicts (``Outcome``), and the command line (``bench_main``). For the bot process:
its stdin command loop (``serve_commands``) and the wiring around the platform's adapter
(``bot_main``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
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
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypedDict

from bench.support import (
    API_KEY,
    BENCH_MODEL,
    cpu_seconds,
    describe_ms,
    fake_openrouter_process,
    percentile,
    process_cpu_seconds,
    process_cpu_split,
    process_peak_rss_mb,
    process_rss_mb,
)
from core.app import Core, build_core
from core.clock import SystemClock
from core.logs import configure_logging
from core.ports import Clock
from core.settings import Settings
from core.storage.migrate import upgrade_to_head

ROOT = Path(__file__).resolve().parent.parent
CHUNKS = 4  # a streamed answer: this many reasoning chunks, as many content chunks, finish, usage
SETTLE = 0.5  # after the last reply, before reading the bot's CPU (its bookkeeping after a reply)
WARMUP_PAUSE = 0.3  # after the warm-up answers, before the measured part

Turns = Coroutine[Any, Any, list[float]]  # one user's conversation: its answers' latencies, ms


class BenchError(Exception):
    """The run could not be measured (replies missing, a process died); the message says why."""


# --------------------------------------------------------------------------- the bot process


class BotProcess:
    """The bot's process as the driver sees it: its stdin commands, its log, its memory once
    ready."""

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

    async def expect(self, expected: str, timeout: float) -> None:  # noqa: ASYNC109
        """Wait for the bot process to print the line ``expected``."""
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
        """Send one of the commands ``serve_commands`` knows, and wait for its ``ok``."""
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()
        await self.expect("ok", timeout)

    async def close(self) -> None:
        """Ask the bot to stop; terminate it, then kill it, if it does not."""
        process = self.process
        if process.returncode is not None:
            return
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


@dataclass(frozen=True)
class Workspace:
    """One run's temp folder (the bot's log), its database and the fake OpenRouter's URL."""

    folder: Path
    database: str
    openrouter: str

    @property
    def log_path(self) -> Path:
        return self.folder / "bot.log"


class LlmTiming(TypedDict):
    """How the fake OpenRouter paces its answers (its command line options)."""

    first_token_delay: float
    chunks: int
    chunk_delay: float


def streamed_timing(delay: float, first_share: float) -> LlmTiming:
    """Streamed over ``delay``: the first chunk after ``first_share`` of it, the others spread
    evenly over the rest (2N+2 chunks, so 2N+1 pauses)."""
    first = delay * first_share
    return {
        "first_token_delay": first,
        "chunks": CHUNKS,
        "chunk_delay": (delay - first) / (2 * CHUNKS + 1),
    }


@contextlib.asynccontextmanager
async def workspace(timing: LlmTiming) -> AsyncIterator[Workspace]:
    """A temp folder with a database already at the newest schema, and the fake OpenRouter."""
    with tempfile.TemporaryDirectory(prefix="chatrelay-bench-") as tmp:
        database = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        # As a deployment does (`chatrelay migrate`, then `chatrelay run`): the bot starts on a
        # database already at the newest schema, so Alembic stays out of its memory.
        await upgrade_to_head(database)
        async with fake_openrouter_process(**timing) as openrouter:
            yield Workspace(Path(tmp), database, openrouter)


@contextlib.asynccontextmanager
async def bot_process(
    module: str,
    space: Workspace,
    options: Sequence[str],
    *,
    log_level: str,
    env: dict[str, str] | None = None,
) -> AsyncIterator[BotProcess]:
    """Start ``python -m module`` with the platform's ``options`` and the core's, wait until it
    is ready, and stop it at the end."""
    with space.log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            *options,
            "--openrouter",
            space.openrouter,
            "--api-key",
            API_KEY,
            "--database",
            space.database,
            "--log-level",
            log_level,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )
    bot = BotProcess(process, space.log_path)
    try:
        await bot.expect("ready", 60.0)
        bot.ready_rss_mb = process_rss_mb(bot.pid)
        yield bot
    finally:
        await bot.close()


# --------------------------------------------------------------------------- the fake's side


class Answers:
    """Futures for the final answers the users await, set to their arrival time (on this
    process's monotonic clock); final answers nobody awaited are kept in ``unexpected``."""

    def __init__(self) -> None:
        self._expected: dict[tuple[int, str], asyncio.Future[float]] = {}
        self.unexpected: list[tuple[int, str]] = []

    def expect(self, chat_id: int, text: str) -> asyncio.Future[float]:
        """A future set to the arrival time of ``text`` in ``chat_id``."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._expected[(chat_id, text)] = future
        return future

    def arrived(self, at: float, chat_id: int, text: str, *, final: bool = True) -> None:
        """``text`` arrived in ``chat_id`` at ``at``; ``final``: not a draft still growing."""
        future = self._expected.pop((chat_id, text), None)
        if future is None:
            if final:
                self.unexpected.append((chat_id, text))
        elif not future.done():
            future.set_result(at)

    def note(self, kind: str) -> None:
        """Print how many ``kind`` (unexpected messages) the bot sent, if any."""
        if self.unexpected:
            print(
                f"  note: {len(self.unexpected)} other {kind} from the bot, e.g. "
                f"{self.unexpected[0][1][:80]!r}"
            )


def tally(calls: Iterable[tuple[str, bool]], *, refused: str, separator: str) -> str:
    """``name count`` of each kind of (name, accepted) call, most first, with ``refused``
    (a format of ``count``) after those some of which were refused."""
    counts: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for name, ok in calls:
        counts[name] += 1
        failed[name] += not ok
    parts = []
    for name, count in counts.most_common():
        extra = " (" + refused.format(count=failed[name]) + ")" if failed[name] else ""
        parts.append(f"{name} {count}{extra}")
    return separator.join(parts) or "none"


class TimedFake(Protocol):
    """A fake platform that times the answers; ``api_name`` names its API in diagnoses,
    ``unexpected_name`` the messages nobody awaited."""

    api_name: str
    unexpected_name: str

    @property
    def answers(self) -> Answers: ...

    def recent_calls(self) -> str: ...


def diagnosis(fake: TimedFake, bot: BotProcess) -> str:
    """Why answers went missing: the fake's last calls, other messages, the bot's log."""
    unexpected = "; ".join(f"{chat}: {text[:80]!r}" for chat, text in fake.answers.unexpected[:5])
    return (
        f"  the fake's last {fake.api_name} calls: {fake.recent_calls() or 'none'}\n"
        f"  {fake.unexpected_name}: {unexpected or 'none'}\n"
        f"  the bot's log ends:\n{bot.log_tail()}"
    )


# --------------------------------------------------------------------------- users


@dataclass(frozen=True)
class Pace:
    """How one user talks: ``messages`` in turn, the first after ``start`` seconds, each next one
    ``think`` seconds after the previous answer; ``timeout``: how long it waits for an answer."""

    messages: int
    think: float
    start: float
    timeout: float


def paces(args: argparse.Namespace, users: int) -> list[Pace]:
    """The measured users' paces: --messages, --think, --timeout, starting at random moments
    within the first LLM --delay (the same ones each run)."""
    starts = random.Random(7)
    return [
        Pace(args.messages, args.think, starts.uniform(0, args.delay), args.timeout)
        for _ in range(users)
    ]


def warmup_pace(timeout: float) -> Pace:
    """A warm-up user's: two messages, at once."""
    return Pace(2, 0.0, 0.0, timeout)


async def take_turns(
    say: Callable[[int], Awaitable[asyncio.Future[float]]], name: str, pace: Pace
) -> list[float]:
    """One user at ``pace``: ``say`` message after message (each returns the future of its
    answer, once the message is on its way); the answers' latencies in ms. ``name`` says where,
    for errors."""
    await asyncio.sleep(pace.start)
    latencies = []
    for n in range(pace.messages):
        answered = await say(n)
        queued = time.monotonic()
        try:
            arrived = await asyncio.wait_for(answered, pace.timeout)
        except TimeoutError:
            raise BenchError(
                f"{name}: no answer to message {n} within {pace.timeout:.0f} s"
            ) from None
        latencies.append((arrived - queued) * 1000)
        if n + 1 < pace.messages and pace.think:
            await asyncio.sleep(pace.think)
    return latencies


async def warm_up(turns: Sequence[Turns], diagnose: Callable[[], str]) -> None:
    """A few answers first: connections, the model list, the database, lazy imports."""
    try:
        await asyncio.gather(*turns)
    except BenchError as error:
        raise BenchError(f"warm-up: {error}\n{diagnose()}") from None
    await asyncio.sleep(WARMUP_PAUSE)


# --------------------------------------------------------------------------- figures


@dataclass
class Usage:
    """CPU of the bot (all threads, its main thread: the event loop, user and system) and of
    this process over the measured part of a run, and the bot's memory."""

    bot_pid: int
    ready_rss_mb: float = 0.0
    bot_cpu: float = 0.0
    loop_cpu: float = 0.0
    own_cpu: float = 0.0
    user_cpu: float = 0.0
    system_cpu: float = 0.0
    peak_rss_mb: float = 0.0
    _starts: tuple[float, ...] = ()

    def _now(self) -> tuple[float, ...]:
        pid = self.bot_pid
        return (
            process_cpu_seconds(pid),
            process_cpu_seconds(pid, pid),
            cpu_seconds(),
            *process_cpu_split(pid),
        )

    def start(self) -> None:
        self._starts = self._now()

    def stop(self) -> None:
        ends = self._now()
        self.bot_cpu, self.loop_cpu, self.own_cpu, self.user_cpu, self.system_cpu = (
            end - start for end, start in zip(ends, self._starts, strict=True)
        )
        self.peak_rss_mb = process_peak_rss_mb(self.bot_pid)


@contextlib.asynccontextmanager
async def measuring(bot: BotProcess) -> AsyncIterator[Usage]:
    """The bot's usage over the block, and the bookkeeping after its last reply (``SETTLE``)."""
    usage = Usage(bot.pid, bot.ready_rss_mb)
    usage.start()
    yield usage
    await asyncio.sleep(SETTLE)
    usage.stop()


@dataclass
class Load:
    """What the users saw of a measured part, and what it cost the bot."""

    latencies_ms: list[float]
    wall: float
    usage: Usage


async def measure_turns(
    bot: BotProcess, turns: Sequence[Turns], failed: Callable[[list[BaseException]], str]
) -> Load:
    """Run the users' ``turns`` together, measured; if some fail, a BenchError saying
    ``failed(failures)``."""
    async with measuring(bot) as usage:
        began = time.monotonic()
        outcomes = await asyncio.gather(*turns, return_exceptions=True)
        wall = time.monotonic() - began
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failures:
            raise BenchError(failed(failures)) from failures[0]
    latencies = [value for outcome in outcomes if isinstance(outcome, list) for value in outcome]
    return Load(latencies, wall, usage)


@dataclass(kw_only=True)
class Outcome:
    """A measured run's figures and its targets' verdicts (label, met, figure)."""

    replies: int
    wall: float
    latencies_ms: list[float]
    usage: Usage
    llm_ms: float | None = None
    calls: str = ""
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.replies / self.wall

    @property
    def cpu_per_1000(self) -> float:
        return self.usage.bot_cpu / self.replies * 1000

    @property
    def overheads_ms(self) -> list[float]:
        assert self.llm_ms is not None
        return [latency - self.llm_ms for latency in self.latencies_ms]

    def check(self, label: str, ok: bool, figure: str) -> None:
        self.checks.append((label, ok, figure))

    def check_p99(self, target_ms: float) -> None:
        p99 = percentile(self.overheads_ms, 99)
        self.check(f"overhead p99 <= {target_ms:.0f} ms", p99 <= target_ms, f"{p99:.1f} ms")

    def check_cpu(self, target: float) -> None:
        self.check(
            f"bot CPU <= {target:.0f} s per 1,000 replies",
            self.cpu_per_1000 <= target,
            f"{self.cpu_per_1000:.2f} s",
        )

    def print_checks(self) -> None:
        for label, ok, figure in self.checks:
            print(f"  target {label}: {'PASS' if ok else 'MISS'} ({figure})")

    @property
    def verdict(self) -> str:
        misses = [label for label, ok, _ in self.checks if not ok]
        return "PASS" if not misses else "MISS: " + "; ".join(misses)

    def print_overhead(self) -> None:
        print(f"  overhead beyond the LLM: {describe_ms(self.overheads_ms)}")

    def print_usage(self, *, fake: str, threads: str, ready: str, cpu_split: bool) -> None:
        """The bot's CPU (its event loop and ``threads``; user and system if ``cpu_split``),
        this process's (``fake`` and the users) and the bot's memory (and once ``ready``)."""
        usage = self.usage
        split = f"; user {usage.user_cpu:.2f} s, system {usage.system_cpu:.2f} s"
        print(
            f"  bot CPU: {usage.bot_cpu:.2f} s = {self.cpu_per_1000:.2f} s per 1,000 replies; "
            f"its event loop thread {usage.loop_cpu:.2f} s, other threads ({threads}) "
            f"{usage.bot_cpu - usage.loop_cpu:.2f} s" + (split if cpu_split else "")
        )
        print(f"  CPU of this process (the fake {fake}, the users): {usage.own_cpu:.2f} s")
        print(
            f"  bot peak RSS: {usage.peak_rss_mb:.1f} MB "
            f"({usage.ready_rss_mb:.1f} MB once {ready}, before any message)"
        )

    def overhead_figure(self, width: int) -> str:
        """Overhead percentiles for the summary, each ``width`` wide."""
        values = self.overheads_ms
        p50, p95, p99 = (percentile(values, pct) for pct in (50, 95, 99))
        return f"overhead p50 {p50:{width}.1f} p95 {p95:{width}.1f} p99 {p99:{width}.1f} ms"

    @property
    def usage_figure(self) -> str:
        """CPU per 1,000 replies and peak memory, for the summary."""
        return f"CPU {self.cpu_per_1000:5.2f} s/1000  RSS {self.usage.peak_rss_mb:5.1f} MB"


# --------------------------------------------------------------------------- profiling


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
            show_pstats(self.path, top)
        else:
            show_samples(self.path, top)


def show_pstats(path: Path, top: int) -> None:
    """The top functions of a cProfile of the bot, by own and by cumulative time."""
    print(f"  cProfile of the bot's event loop thread over the measured part: {path}")
    for order in ("tottime", "cumulative"):
        print(f"  --- top {top} by {order}")
        stats = pstats.Stats(str(path), stream=sys.stdout)
        stats.strip_dirs().sort_stats(order).print_stats(top)


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


@contextlib.asynccontextmanager
async def profiled(args: argparse.Namespace, bot: BotProcess, name: str) -> AsyncIterator[None]:
    """Profile the bot over the block if --profile or --py-spy asks to, and show the top after."""
    profiler = Profiler.choose(args, bot, name)
    if profiler is None:
        yield
        return
    await profiler.start()
    try:
        yield
    finally:
        await profiler.stop()
    profiler.show(args.profile_top)


def profiling(args: argparse.Namespace) -> bool:
    """Whether the bot is profiled; says so, as its figures are inflated then."""
    if args.profile or args.py_spy:
        print("profiling the bot: its CPU and timing figures are inflated")
        return True
    return False


# --------------------------------------------------------------------------- the command line


def add_bot_options(parser: argparse.ArgumentParser) -> None:
    """The options about the bot process every benchmark has: its log level and profiling."""
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


def bench_main(
    name: str,
    description: str | None,
    add_options: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, int]],
    argv: Sequence[str] | None = None,
) -> None:
    """Parse the benchmark's options (``add_options``, then ``add_bot_options``), ``run`` it and
    exit with its status; a BenchError is printed as ``name: message`` (status 1)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_options(parser)
    add_bot_options(parser)
    args = parser.parse_args(argv)
    try:
        code = asyncio.run(run(args))
    except BenchError as error:
        print(f"\n{name}: {error}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


# --------------------------------------------------------------------------- in the bot process


class PlatformBot(Protocol):
    """A platform's adapter as ``chatrelay run`` drives it."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def serve_commands(profiler: cProfile.Profile) -> None:
    """Serve stdin commands until ``stop`` or end of input, each answered with ``ok``:
    ``profile-start``, ``profile-stop PATH`` (writes pstats to PATH), ``stop``."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        command, _, argument = line.partition(" ")
        if command == "profile-start":
            profiler.enable()
        elif command == "profile-stop":
            profiler.disable()
            profiler.dump_stats(argument)
        elif command == "stop":
            print("ok", flush=True)
            return
        print("ok", flush=True)


def core_settings(args: argparse.Namespace, *, stream: bool) -> Settings:
    """The core's settings from the bot process's options, the LLM's timeouts generous. The
    model is a paid one, as in a deployment that answers many chats at once: paid models are
    not throttled by default (bench.limits measures what free models do)."""
    return Settings(
        _env_file=None,
        openrouter_api_key=args.api_key,
        openrouter_base_url=args.openrouter,
        openrouter_stream=stream,
        database_url=args.database,
        openrouter_models=(BENCH_MODEL,),
        openrouter_first_token_timeout=60.0,
        openrouter_idle_timeout=60.0,
        openrouter_total_timeout=120.0,
        log_level=args.log_level,
    )


async def serve_bot(settings: Settings, make_bot: Callable[[Core, Clock], PlatformBot]) -> None:
    """Build the core and the platform's bot as ``chatrelay run`` does, say ``ready`` once it
    has started, and serve stdin commands until told to stop."""
    clock = SystemClock()
    async with build_core(settings, clock=clock) as core:
        bot = make_bot(core, clock)
        await bot.start()
        try:
            print("ready", flush=True)
            await serve_commands(cProfile.Profile())
        finally:
            await bot.stop()


def bot_main(
    description: str | None,
    add_platform: Callable[[argparse.ArgumentParser], None],
    add_tuning: Callable[[argparse.ArgumentParser], None],
    serve: Callable[[argparse.Namespace], Coroutine[Any, Any, None]],
) -> None:
    """The bot process's command line: the platform's URLs (``add_platform``), the core's,
    the platform's tuning (``add_tuning``) and the log level; then ``serve``, logging to
    stderr (the benchmark sends it to a file)."""
    parser = argparse.ArgumentParser(description=description)
    add_platform(parser)
    parser.add_argument("--openrouter", required=True, help="the fake OpenRouter's base URL")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--database", required=True, help="a DATABASE_URL")
    add_tuning(parser)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    configure_logging(args.log_level, "text")
    asyncio.run(serve(args))
