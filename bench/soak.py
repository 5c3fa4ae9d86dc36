"""Soak: one bot process serving Telegram and Discord for a few minutes while faults come and
go at random; at the end, every user message must have exactly one complete answer.

The bot is ``python -m bots.cli run`` (``chatrelay run``) with TELEGRAM_* and DISCORD_* set,
SQLite in a temp dir, HEALTH_PORT=0 and default settings otherwise, except the model:
OPENROUTER_MODELS (the model list; its first entry is the default model) is the paid
"openai/gpt-5" of the fake's catalogue, so the free-model limit (20 requests a minute, which
the bot queues for) does not dominate the run. This process runs FakeTelegram, FakeDiscord and
FakeOpenRouter (streaming "Echo: <text>" over about 1.3 s) on 127.0.0.1, and plays the users:
--chats Telegram private chats and --channels Discord conversations (guild channels where the
user @mentions the bot, and DMs, alternately), each user writing its next message
--think-min..--think-max seconds after the previous answer arrived, or after --answer-timeout
without one, for --seconds. Platform limits are on as on the real services (Telegram's flood
limits, Discord's rate limits).

Faults (bench/soak_faults.py), one at a time per service at random moments, each for 2-12 s,
4-15 s apart: OpenRouter 429 (Retry-After), 502, 503, hangs, errors and cuts mid-stream, resets;
Telegram 5xx/429/dropped connections on sendMessage, editMessageText and getUpdates, and
Telegram unreachable; Discord 5xx/429/dropped connections on message creates and edits, and the
gateway down. With --kill (the default) the bot is also SIGKILLed --kills times and started
again on the same database (after 0.5-3 s, as a supervisor would).

When the load ends the faults are undone and the bot gets up to --settle seconds to answer
what is still open. Then, from the final text of every bot message (after edits; both fakes
record them), per user message: answered (a complete answer), lost (none), answered twice (more
than one), out of order (answered before an earlier message of its conversation); bot messages
that answer nothing: stray partial messages (a cut or unfinished answer) and notices (e.g.
error messages). Lost messages are grouped by what went wrong while they waited for their
answer (faults in force, a kill, the bot down when sent). Memory: the bot's VmRSS after the
warm-up and at the end, and the largest sample (a restarted process starts small again: for a
leak check run --no-kill). Exit status 1 when a message was lost or answered twice, 2 when the
run itself failed. --workdir keeps the database, the bot's log and every conversation's
messages (messages.json) for a closer look.

Run: .venv/bin/python -m bench.soak [--seconds 180] [--seed 1] [--no-kill] [--no-faults]
     [--workdir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.e2e import BenchError
from bench.soak_bot import BotSupervisor, ReadyCheck, bot_env
from bench.soak_faults import (
    FaultLog,
    FaultPace,
    discord_faults,
    inject,
    openrouter_faults,
    stopped,
    telegram_faults,
)
from bench.soak_world import (
    Conversation,
    Pace,
    Said,
    Tally,
    World,
    build_world,
    is_answered,
    talk,
    tally_all,
    wait_answer,
)
from bench.support import API_KEY, BENCH_MODEL
from tests.fakes.discord import FakeDiscord
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.telegram import FakeTelegram

TELEGRAM_TOKEN = "777000:SOAK-telegram-token"  # noqa: S105 - the fake's
LLM_CHUNKS = 4  # per answer part: 4 reasoning chunks, 4 content chunks, finish, usage
LLM_FIRST_TOKEN = 0.4  # seconds
LLM_CHUNK_DELAY = 0.1  # seconds
FAULT_PACE = FaultPace(gap=(4.0, 15.0), length=(2.0, 12.0))
WARMUP_TIMEOUT = 60.0
RSS_EVERY = 2.0  # seconds between memory samples
QUIET = 5.0  # once all is answered, seconds more to see late duplicates
KILL_MARGIN = 20.0  # no kill in the first or last seconds of the load


@dataclass
class Fakes:
    router: FakeOpenRouter
    tg: FakeTelegram
    dc: FakeDiscord


@dataclass
class Memory:
    start: float = 0.0  # MB, after the warm-up
    end: float = 0.0
    largest: float = 0.0

    def sample(self, value: float) -> None:
        self.largest = max(self.largest, value)


@dataclass
class Run:
    seed: int
    wait: float  # seconds a user waits for an answer
    said: list[Said] = field(default_factory=list)
    faults: FaultLog = field(default_factory=FaultLog)
    memory: Memory = field(default_factory=Memory)
    load_seconds: float = 0.0
    settle_seconds: float = 0.0
    total_seconds: float = 0.0
    tallies: dict[str, Tally] = field(default_factory=dict)
    exit_status: int | None = None


# --------------------------------------------------------------------------- set-up


@contextlib.asynccontextmanager
async def running_fakes() -> AsyncIterator[Fakes]:
    router = FakeOpenRouter(
        api_key=API_KEY,
        chunks=LLM_CHUNKS,
        chunk_delay=LLM_CHUNK_DELAY,
        first_token_delay=LLM_FIRST_TOKEN,
        record=False,
    )
    tg = FakeTelegram(TELEGRAM_TOKEN, bot_username="chatrelay_soak_bot")
    async with router, tg, FakeDiscord() as dc:
        yield Fakes(router, tg, dc)


@contextlib.contextmanager
def work_folder(path: str | None) -> Iterator[Path]:
    """``path`` (kept afterwards), or a temp dir."""
    if path:
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="chatrelay-soak-") as tmp:
        yield Path(tmp)


def ready_check(fakes: Fakes) -> ReadyCheck:
    """Ready: Telegram long polling, and a new Discord session (IDENTIFY since the start)
    connected and ready."""

    def before_start() -> Callable[[], bool]:
        identified = len(fakes.dc.identifies)

        def ready() -> bool:
            dc = fakes.dc
            return fakes.tg.polling and len(dc.identifies) > identified and bool(dc.connected)

        return ready

    return before_start


def supervisor(fakes: Fakes, folder: Path) -> BotSupervisor:
    tg, dc = fakes.tg, fakes.dc
    env = bot_env(
        openrouter=fakes.router.base_url,
        api_key=API_KEY,
        model=BENCH_MODEL,
        database=f"sqlite+aiosqlite:///{folder / 'data' / 'soak.db'}",
        telegram={"TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_BASE_URL": f"{tg.base_url}/bot"},
        discord={
            "DISCORD_BOT_TOKEN": dc.token,
            "DISCORD_API_BASE_URL": f"{dc.base_url}/api/v10",
            "DISCORD_GATEWAY_URL": dc.gateway_url,
        },
    )
    return BotSupervisor(env, folder, folder / "bot.log", ready_check(fakes))


async def warm_up(conversations: Sequence[Conversation], bot: BotSupervisor) -> None:
    """One message in each warm-up conversation, answered before the load starts."""
    for number, conversation in enumerate(conversations, 1):
        text = f"soak {conversation.label} n{number} ok"
        await conversation.say(text)
        if not await wait_answer(conversation, text, WARMUP_TIMEOUT):
            raise BenchError(
                f"warm-up: no answer in {conversation.label} within {WARMUP_TIMEOUT:.0f} s\n"
                f"{bot.log_tail()}"
            )


# --------------------------------------------------------------------------- the load


def kill_times(rng: random.Random, seconds: float, kills: int) -> list[float]:
    """When to kill (seconds into the load): one in each of ``kills`` equal spans, away from
    the load's first and last ``KILL_MARGIN`` seconds; none when the load is too short."""
    if seconds < 2 * KILL_MARGIN:
        return []
    span = (seconds - 2 * KILL_MARGIN) / kills
    return [KILL_MARGIN + span * (i + rng.uniform(0.2, 0.8)) for i in range(kills)]


async def kill_now_and_then(
    bot: BotSupervisor, rng: random.Random, times: Sequence[float], began: float
) -> None:
    for at in times:
        await asyncio.sleep(max(began + at - time.monotonic(), 0))
        await bot.kill_and_restart(pause=rng.uniform(0.5, 3.0))


async def sample_memory(bot: BotSupervisor, memory: Memory, stop: asyncio.Event) -> None:
    while not await stopped(stop, RSS_EVERY):
        memory.sample(bot.rss_mb())


def background(
    fakes: Fakes, bot: BotSupervisor, rng: random.Random, args: argparse.Namespace, run: Run
) -> tuple[asyncio.Event, list[asyncio.Task[None]]]:
    """The fault injectors, the killer and the memory sampler, until the event is set (the
    killer ends by itself, after its last restart)."""
    stop = asyncio.Event()
    coroutines = [sample_memory(bot, run.memory, stop)]
    if args.faults:
        for makers in (
            openrouter_faults(fakes.router, BENCH_MODEL, LLM_CHUNKS),
            telegram_faults(fakes.tg),
            discord_faults(fakes.dc),
        ):
            sub = random.Random(rng.getrandbits(32))
            coroutines.append(inject(makers, sub, FAULT_PACE, stop, run.faults))
    if args.kill:
        times = kill_times(rng, args.seconds, args.kills)
        coroutines.append(kill_now_and_then(bot, rng, times, time.monotonic()))
    return stop, [asyncio.create_task(c) for c in coroutines]


async def load(
    world: World, fakes: Fakes, bot: BotSupervisor, args: argparse.Namespace, run: Run
) -> None:
    rng = random.Random(run.seed)
    pace = Pace((args.think_min, args.think_max), args.answer_timeout)
    began = time.monotonic()
    deadline = began + args.seconds
    stop, tasks = background(fakes, bot, rng, args, run)
    users = [
        talk(conversation, random.Random(rng.getrandbits(32)), pace, deadline, run.said)
        for conversation in world.conversations
    ]
    try:
        await asyncio.gather(*users)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    run.load_seconds = time.monotonic() - began


async def settle(world: World, run: Run, limit: float) -> None:
    """Wait until every message has an answer (then ``QUIET`` s more) or ``limit`` s pass."""
    began = time.monotonic()
    deadline = began + limit
    conversations = {c.label: c for c in world.conversations}
    open_ = list(run.said)
    while open_ and time.monotonic() < deadline:
        open_ = [s for s in open_ if not is_answered(conversations[s.conversation], s.text)]
        await asyncio.sleep(0.5)
    await asyncio.sleep(max(min(QUIET, deadline - time.monotonic()), 0))
    run.settle_seconds = time.monotonic() - began


async def soak(args: argparse.Namespace) -> Run:
    run = Run(seed=args.seed, wait=args.answer_timeout)
    began = time.monotonic()
    with work_folder(args.workdir) as folder:
        async with running_fakes() as fakes:
            world = build_world(fakes.tg, fakes.dc, args.chats, args.channels)
            bot = supervisor(fakes, folder)
            try:
                await bot.start()
                await warm_up(world.warmup, bot)
                run.memory.start = bot.rss_mb()
                await load(world, fakes, bot, args, run)
                await settle(world, run, args.settle)
                run.memory.end = bot.rss_mb()
                run.memory.sample(max(run.memory.end, bot.peak_rss_mb()))
            finally:
                run.exit_status = await bot.stop()
            run.tallies = tally_all(world.conversations, run.said)
            report(run, bot, fakes, args)
            if args.workdir:
                write_transcripts(folder / "messages.json", world, run)
    run.total_seconds = time.monotonic() - began
    return run


# --------------------------------------------------------------------------- the report


def causes(said: Said, run: Run, bot: BotSupervisor) -> list[str]:
    """What went wrong while ``said`` waited for its answer (from sending it until the user's
    answer timeout)."""
    end = said.at + run.wait
    found = sorted(set(run.faults.active_during(said.at, end)))
    if bot.killed_during(said.at, end):
        found.insert(0, "bot killed")
    if bot.down_at(said.at):
        found.insert(0, "bot down when sent")
    return found or ["no fault"]


def describe(said: Said, began: float) -> str:
    return f"{said.platform} {said.conversation} n{said.number} (sent at {said.at - began:.1f} s)"


def print_tally(run: Run, bot: BotSupervisor, began: float) -> None:
    total = run.tallies.get("all", Tally())
    platforms = [p for p in ("Telegram", "Discord") if p in run.tallies]

    def row(label: str, figure: Callable[[Tally], int]) -> None:
        parts = ", ".join(f"{p} {figure(run.tallies[p])}" for p in platforms)
        print(f"  {label + ':':22} {figure(total)} ({parts})")

    row("messages in", lambda t: t.said)
    row("answered", lambda t: t.answered)
    row("lost", lambda t: len(t.lost))
    row("answered twice", lambda t: len(t.twice))
    row("out of order", lambda t: t.out_of_order)
    row("stray partial messages", lambda t: len(t.partial))
    row("notices (no answer)", lambda t: len(t.notices))
    print_examples("lost", total.lost, run, bot, began)
    print_examples("answered twice", total.twice, run, bot, began)
    print_texts("stray partial messages", total.partial)
    print_texts("notices", total.notices)


def print_texts(what: str, texts: Sequence[str]) -> None:
    """The most frequent texts of ``what`` (the bot's messages that answer nothing)."""
    if not texts:
        return
    common = Counter(" ".join(text.split())[:90] for text in texts).most_common(3)
    print(f"  {what}, most frequent: " + "; ".join(f"{n} x {text!r}" for text, n in common))


def print_examples(
    what: str, said: Sequence[Said], run: Run, bot: BotSupervisor, began: float
) -> None:
    if not said:
        return
    by_cause = Counter(cause for s in said for cause in causes(s, run, bot))
    print(f"  {what}: what went wrong while they waited for an answer (each counts under all):")
    for cause, count in by_cause.most_common():
        print(f"    {count:4d} of {len(said)}  {cause}")
    examples = ", ".join(describe(s, began) for s in said[:4])
    print(f"    e.g. {examples}")


def print_faults(run: Run, bot: BotSupervisor) -> None:
    counts = run.faults.counts()
    listed = ", ".join(f"{kind} x{n}" for kind, n in sorted(counts.items())) or "none"
    print(
        f"  faults: {sum(counts.values())} windows, {run.faults.seconds():.0f} s in all: {listed}"
    )
    starts = ", ".join(f"{s:.1f}" for s in bot.starts[1:]) or "-"
    print(
        f"  bot kills (SIGKILL + restart): {bot.kills}; ready again after {starts} s; "
        f"starts that exited before ready: {bot.failed_starts}"
    )


def report(run: Run, bot: BotSupervisor, fakes: Fakes, args: argparse.Namespace) -> None:
    began = min((s.at for s in run.said), default=time.monotonic())
    print()
    print(
        f"soak, seed {run.seed}: {args.chats} Telegram chats, {args.channels} Discord "
        f"conversations; {run.load_seconds:.0f} s of load, {run.settle_seconds:.0f} s settling"
    )
    print_faults(run, bot)
    print_tally(run, bot, began)
    memory = run.memory
    print(
        f"  bot RSS: start {memory.start:.1f} MB (after warm-up), end {memory.end:.1f} MB, "
        f"largest {memory.largest:.1f} MB"
        + (" (the end is a restarted process)" if bot.kills else "")
    )
    lines, errors, tracebacks = bot.log_counts()
    print(
        f"  platform 429s: Telegram flood {fakes.tg.flood.rejected}, Discord "
        f"{sum(1 for c in fakes.dc.calls if c.status == 429)}; bot log: {lines} lines, "
        f"{errors} with ERROR, {tracebacks} tracebacks; bot exit status {run.exit_status}"
    )


def write_transcripts(path: Path, world: World, run: Run) -> None:
    """Every conversation's user messages (number, seconds into the run) and the bot's
    messages (position, final text), for a closer look at what was lost."""
    began = min((s.at for s in run.said), default=0.0)
    data = {
        c.label: {
            "said": [
                [s.number, round(s.at - began, 2)] for s in run.said if s.conversation == c.label
            ],
            "posted": [[p.position, p.text] for p in c.posted()],
        }
        for c in world.conversations
    }
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False))
    print(f"  transcripts: {path}")


# --------------------------------------------------------------------------- command line


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=180.0, help="seconds of load")
    parser.add_argument("--seed", type=int, default=1, help="the random seed")
    parser.add_argument("--chats", type=int, default=40, help="Telegram private chats")
    parser.add_argument("--channels", type=int, default=20, help="Discord channels and DMs")
    parser.add_argument("--think-min", type=float, default=2.0, help="seconds, at least")
    parser.add_argument("--think-max", type=float, default=8.0, help="seconds, at most")
    parser.add_argument(
        "--answer-timeout", type=float, default=30.0, help="seconds a user waits for an answer"
    )
    parser.add_argument("--settle", type=float, default=60.0, help="seconds, at most")
    parser.add_argument("--faults", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--kill", action=argparse.BooleanOptionalAction, default=True, help="SIGKILL + restart"
    )
    parser.add_argument("--kills", type=int, default=2, help="kills with --kill")
    parser.add_argument(
        "--workdir", help="keep the database, bot.log and messages.json here (default: a temp dir)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    print(f"soak: seed {args.seed}, {args.seconds:g} s of load, settle <= {args.settle:g} s")
    try:
        run = asyncio.run(soak(args))
    except BenchError as error:
        print(f"soak failed: {error}")
        sys.exit(2)
    print(f"  run length: {run.total_seconds:.0f} s")
    total = run.tallies.get("all", Tally())
    sys.exit(1 if total.lost or total.twice else 0)


if __name__ == "__main__":
    main()
