"""Replies per second and CPU per reply with 1, 2 and 3 replicas of chatrelay on one PostgreSQL.

For each replica count: a fresh PostgreSQL database (migrated, dropped afterwards), the fake
Telegram in webhook mode behind a load balancer (tests.support.balancer: a random replica per
update, the next one when it refuses), and N ``chatrelay run`` processes, each with its own
webhook and health port; any replica may receive any update, and the durable inbox (claims with
a lease) must answer each chat in order, exactly once. The fake OpenRouter runs in its own
process for the whole bench; it streams each answer over --delay seconds (first chunk after 80%
of it; --no-stream: one body after --delay), on a paid model (not throttled by the bot).

Two phases per replica count, on the same replicas, each with its own chats:
  * Telegram's flood limits at their defaults (about 1 message/s per chat, 30/s per bot): what a
    real deployment meets. Every answer costs two of those 30 (a placeholder, then its final
    edit), so this phase is capped near 15 answers/s whatever the replica count.
  * The overall 30/s limit lifted (per chat kept): what the replicas themselves can do.
Users: each private chat writes --messages messages, the next one a random 0.5-1.5 x --think
seconds after the previous answer arrived (first ones spread over --ramp seconds). Replies/s and
CPU are measured over the steady window, from the answer at 10% of the total to the one at 90%:
the replicas' CPU (/proc/<pid>/stat), PostgreSQL's (its server processes and the backends of the
bench's database, plus the backends that exited meanwhile, which /proc only shows as the
postmaster's reaped children, of every database on the server), the fake OpenRouter's and this
process's (the fake Telegram, the balancer, the users), and the whole machine's. Overhead is an
answer's time (update queued -> complete answer at the fake) beyond the LLM's own (a bare httpx
client's median). Afterwards every chat is checked: each message answered exactly once, in order.

Run: .venv/bin/python -m bench.replicas [--replicas 1,2,3] [--chats 120] [--messages 5] ...
Exit status 0 when every message was answered exactly once (or no PostgreSQL: skipped), else 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import httpx
from sqlalchemy.engine import URL, make_url

from bench.e2e import CHUNKS, BenchError, LlmTiming, streamed_timing
from bench.replicas_cpu import CpuUse, Meter, Snapshot
from bench.replicas_report import (
    Phase,
    PhaseResult,
    limiting_factor,
    print_phase,
    print_table,
)
from bench.replicas_users import Conversation, Pace, ReplicaTelegram, Verdict, converse, quiet
from bench.replicas_world import (
    TOKEN,
    Replica,
    ReplicaConfig,
    fake_openrouter,
    fresh_database,
    inbox_states,
    max_connections,
    postgres_problem,
    running_replicas,
    sessions_opened,
)
from bench.support import BENCH_MODEL, llm_baseline_ms
from tests.fakes.telegram import FloodLimits
from tests.support.balancer import Balancer

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
WEBHOOK_PATH = "/telegram/webhook"
STREAM_FIRST_SHARE = 0.8
WINDOW = (0.1, 0.9)  # the steady window: from this share of the answers to that one
QUIET_SECONDS = 1.5  # no Bot API call for this long after the last answer: late copies came
WARMUP_CHATS_PER_REPLICA = 3
PHASES = {
    "telegram": ("Telegram's flood limits at their defaults (1/s per chat, 30/s per bot)", 1),
    "lifted": ("overall 30/s limit LIFTED (per chat 1/s kept)", 2),
}
WARMUP_FIRST_CHAT = 9_000_000
COMPLAINT = re.compile(r" (?P<level>WARNING|ERROR|CRITICAL) (?P<message>.*?)(?= \w+=|$)")
# Telegram retries a webhook delivery that failed (a 500 when a replica can't store the update)
# for a long while; the fake, by default, 3 times in 20 ms. Here: for about 30 s.
WEBHOOK_RETRIES = 30
WEBHOOK_RETRY_DELAY = 1.0


@dataclass(frozen=True)
class World:
    """What one replica count runs on."""

    tg: ReplicaTelegram
    balancer: Balancer
    replicas: list[Replica]
    meter: Meter
    database_name: str
    database_url: str
    llm_ms: float
    max_connections: int


def llm_timing(delay: float, stream: bool) -> LlmTiming:
    if not stream:
        return {"first_token_delay": delay, "chunks": CHUNKS, "chunk_delay": 0.0}
    return streamed_timing(delay, STREAM_FIRST_SHARE)


def flood_limits(phase: Phase) -> FloodLimits:
    return FloodLimits() if phase.name == "telegram" else FloodLimits(global_per_second=0)


def phases(args: argparse.Namespace) -> list[Phase]:
    names = ["telegram", "lifted"] if args.limits == "both" else [args.limits]
    chats = {"telegram": args.limited_chats, "lifted": args.chats}
    return [
        Phase(name, PHASES[name][0], chats[name], PHASES[name][1] * 1_000_000) for name in names
    ]


# --------------------------------------------------------------------------- one phase


class Window:
    """Snapshots at the answers that open and close the steady window."""

    def __init__(self, world: World, total: int) -> None:
        self._meter = world.meter
        self.first = max(1, int(total * WINDOW[0]))
        self.last = max(self.first + 1, int(total * WINDOW[1]))
        self.snapshots: dict[int, Snapshot] = {}
        world.tg.track({self.first: self._take, self.last: self._take})

    def _take(self, at: float, answers: int) -> None:
        self.snapshots[answers] = self._meter.take(at, answers)

    def use(self, start: Snapshot, end: Snapshot) -> tuple[CpuUse, bool]:
        """CPU over the steady window, or over the whole run (True) if it never closed."""
        opened, closed = self.snapshots.get(self.first), self.snapshots.get(self.last)
        if opened is None or closed is None:
            return CpuUse.between(start, end), True
        return CpuUse.between(opened, closed), False


async def replies_sent(replicas: Sequence[Replica]) -> list[float | None]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        return list(
            await asyncio.gather(
                *(r.metric(client, "chatrelay_replies_sent_total") for r in replicas)
            )
        )


@dataclass(frozen=True)
class Counters:
    """What the replicas, the balancer and the database had done before a phase."""

    forwarded: Counter[str]
    sent: list[float | None]
    sessions: int
    log_lines: list[int]


async def read_counters(world: World) -> Counters:
    return Counters(
        forwarded=Counter(world.balancer.forwarded),
        sent=await replies_sent(world.replicas),
        sessions=await sessions_opened(world.database_url, world.database_name),
        log_lines=[len(replica.log_lines()) for replica in world.replicas],
    )


async def drive(
    world: World, conversations: Sequence[Conversation], args: argparse.Namespace
) -> tuple[Snapshot, Snapshot]:
    """The users' conversations, from first message to last answer (or giving up), then
    until the bot is quiet; CPU snapshots at both ends."""
    pace = Pace(args.messages, args.think, args.ramp, args.timeout)
    rng = random.Random(args.seed)
    watching = asyncio.create_task(world.meter.postgres.watch())
    try:
        start = world.meter.take(time.monotonic(), 0)
        await asyncio.gather(*(converse(world.tg, c, pace, rng) for c in conversations))
        end = world.meter.take(time.monotonic(), world.tg.answered)
        await quiet(world.tg, QUIET_SECONDS, limit=15.0)
    finally:
        watching.cancel()
    return start, end


async def run_phase(world: World, phase: Phase, args: argparse.Namespace) -> PhaseResult:
    tg = world.tg
    tg.reset()
    tg.set_flood_limits(flood_limits(phase))
    before = await read_counters(world)
    conversations = [
        Conversation(tg.private_chat(phase.first_chat + i, f"User{i}")) for i in range(phase.chats)
    ]
    window = Window(world, phase.chats * args.messages)
    start, end = await drive(world, conversations, args)
    verdict = Verdict()
    for conversation in conversations:
        verdict.check(tg, conversation)
    cpu, whole_run = window.use(start, end)
    result = PhaseResult(
        replicas=len(world.replicas),
        phase=phase,
        messages=args.messages,
        llm_ms=world.llm_ms,
        think=args.think,
        cpu=cpu,
        whole_run=whole_run,
        wall=end.at - start.at,
        latencies_ms=[s * 1000 for c in conversations for s in c.latencies],
        verdict=verdict,
        gave_up=sum(c.gave_up is not None for c in conversations),
        flood_429=tg.flood.rejected,
        calls=tg.api_calls(),
        refused=tg.refused_calls(),
        inbox=await inbox_states(
            world.database_url, phase.first_chat, phase.first_chat + phase.chats - 1
        ),
        **await replica_figures(world, before),
    )
    result.problems, result.notes = diagnosis(world, before, failed=not result.ok)
    return result


class ReplicaFigures(TypedDict):
    forwarded: list[int]
    replies_sent: list[float | None]
    connections: tuple[int, int, int]
    sessions: int
    failed_deliveries: int


async def replica_figures(world: World, before: Counters) -> ReplicaFigures:
    """The phase's webhook deliveries, replies sent and connections, per replica."""
    sent = await replies_sent(world.replicas)
    postgres = world.meter.postgres
    return {
        "forwarded": [
            world.balancer.forwarded[r.upstream] - before.forwarded[r.upstream]
            for r in world.replicas
        ],
        "replies_sent": [
            None if a is None or b is None else b - a
            for a, b in zip(before.sent, sent, strict=True)
        ],
        "connections": (postgres.peak_ours, postgres.peak_all, world.max_connections),
        "sessions": await sessions_opened(world.database_url, world.database_name)
        - before.sessions,
        "failed_deliveries": sum(not d.delivered for d in world.tg.deliveries),
    }


def diagnosis(world: World, before: Counters, *, failed: bool) -> tuple[list[str], list[str]]:
    """Plain facts: (problems: a replica died, or context when answers went missing or came
    twice; notes: what the replicas complained about meanwhile, errors they got over)."""
    problems = [
        f"replica {r.number} exited with status {r.process.returncode}; its log ends:\n"
        f"{r.log_tail()}"
        for r in world.replicas
        if not r.running
    ]
    tg, lb = world.tg, world.balancer
    notes = []
    if lb.unanswered or sum(lb.refused.values()):
        notes.append(
            f"balancer: {lb.unanswered} updates no replica answered, connections refused by "
            f"{dict(lb.refused)}"
        )
    if tg.webhook_last_error is not None:
        notes.append(f"the webhook's last error: {tg.webhook_last_error[1]}")
    peak, most = world.meter.postgres.peak_all, world.max_connections
    if peak >= most - 3:
        notes.append(
            f"PostgreSQL connections reached {peak} of max_connections {most}: new ones were "
            "probably refused ('sorry, too many clients already'; the replicas log DBAPIError)"
        )
    for replica, skip in zip(world.replicas, before.log_lines, strict=True):
        complaints = complaint_kinds(replica.log_lines()[skip:])
        if complaints:
            notes.append(f"replica {replica.number} logged: {complaints}")
    if failed or problems:
        problems.append(f"updates still pending at the fake Telegram: {tg.pending_updates}")
        problems += [f"replica {r.number}'s log ends:\n{r.log_tail()}" for r in world.replicas]
    return problems, notes


def complaint_kinds(lines: Sequence[str]) -> str:
    """Warnings and errors of a log, counted by logger and message (most first)."""
    kinds: Counter[str] = Counter()
    for line in lines:
        found = COMPLAINT.search(line)
        if found:
            kinds[f"{found['level']} {found['message'].strip()}"] += 1
    return "; ".join(f"{kind} x{count}" for kind, count in kinds.most_common(5))


# --------------------------------------------------------------------------- one replica count


async def warm_up(world: World, args: argparse.Namespace) -> None:
    """A few chats of two messages first: connections, the model list, lazy imports."""
    tg = world.tg
    tg.set_flood_limits(FloodLimits(global_per_second=0))
    before = await read_counters(world)
    conversations = [
        Conversation(tg.private_chat(WARMUP_FIRST_CHAT + i, f"Warm{i}"))
        for i in range(WARMUP_CHATS_PER_REPLICA * len(world.replicas))
    ]
    pace = Pace(2, 0.0, args.delay, args.timeout)
    rng = random.Random(0)
    await asyncio.gather(*(converse(tg, c, pace, rng) for c in conversations))
    missing = [c.chat.id for c in conversations if c.gave_up is not None]
    if missing:
        problems, notes = diagnosis(world, before, failed=True)
        raise BenchError(
            f"warm-up: no answer within {args.timeout:.0f} s in chats {missing[:8]}\n  "
            + "\n  ".join(notes + problems)
        )
    await quiet(tg, 0.5, limit=5.0)


@contextlib.asynccontextmanager
async def replica_world(
    count: int, args: argparse.Namespace, openrouter: tuple[str, int], llm_ms: float
) -> AsyncIterator[World]:
    """A fresh database, the fake Telegram, the balancer and ``count`` ready replicas."""
    server = make_url(args.postgres)
    with contextlib.ExitStack() as stack:
        if args.logs:
            folder = Path(args.logs) / f"{count}-replicas"
            folder.mkdir(parents=True, exist_ok=True)
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="replicas-")))
        tg = ReplicaTelegram(
            TOKEN,
            bot_username="chatrelay_replicas_bot",
            webhook_retries=WEBHOOK_RETRIES,
            webhook_retry_delay=WEBHOOK_RETRY_DELAY,
        )
        async with (
            fresh_database(server) as database,
            tg,
            Balancer([], seed=args.seed) as balancer,
        ):
            config = ReplicaConfig(
                database.url, tg.base_url, balancer.url + WEBHOOK_PATH, openrouter[0],
                args.stream, folder,
            )  # fmt: skip
            async with running_replicas(config, count) as replicas:
                for replica in replicas:
                    balancer.add(replica.upstream)
                pids = [replica.process.pid for replica in replicas]
                meter = Meter(pids, database.name, openrouter[1])
                most = await max_connections(server)
                yield World(
                    tg, balancer, replicas, meter, database.name, database.url, llm_ms, most
                )


async def run_count(
    count: int, args: argparse.Namespace, openrouter: tuple[str, int], llm_ms: float
) -> list[PhaseResult]:
    started = time.monotonic()
    async with replica_world(count, args, openrouter, llm_ms) as world:
        ready = time.monotonic() - started
        print(
            f"\n--- {count} replica{'s' * (count > 1)}: database, fakes and replicas ready in "
            f"{ready:.1f} s; webhook max_connections {world.tg.webhook_max_connections}"
        )
        await warm_up(world, args)
        results = []
        for phase in phases(args):
            result = await run_phase(world, phase, args)
            print_phase(result)
            results.append(result)
        return results


# --------------------------------------------------------------------------- the command line


def print_settings(args: argparse.Namespace, llm_ms: float) -> None:
    stream = (
        f"streamed (first chunk after {STREAM_FIRST_SHARE:.0%} of it)" if args.stream else "whole"
    )
    print(
        f"settings: replicas {','.join(map(str, args.replicas))}; chats {args.limited_chats} "
        f"with Telegram's limits, {args.chats} with the overall limit lifted; "
        f"{args.messages} messages each; think 0.5-1.5 x {args.think:g} s; ramp {args.ramp:g} s"
    )
    print(
        f"  LLM: {args.delay:g} s per answer, {stream}, model {BENCH_MODEL} (paid: not "
        f"throttled); its own time as a bare client sees it: {llm_ms:.0f} ms"
    )
    print(
        f"  PostgreSQL {make_url(args.postgres).render_as_string()}; answer timeout "
        f"{args.timeout:g} s; replica logs: {args.logs or 'a temp folder per replica count'}"
    )


async def run(args: argparse.Namespace) -> int:
    server: URL = make_url(args.postgres)
    problem = await postgres_problem(server)
    if problem is not None:
        print(f"skipped: no PostgreSQL at {server.host}:{server.port or 5432} ({problem})")
        return 0
    if args.ramp is None:
        args.ramp = args.delay
    async with fake_openrouter(**llm_timing(args.delay, args.stream)) as openrouter:
        llm_ms = await llm_baseline_ms(openrouter[0], stream=args.stream, rounds=3)
        print_settings(args, llm_ms)
        results: list[PhaseResult] = []
        for count in args.replicas:
            results += await run_count(count, args, openrouter, llm_ms)
    print_table(results)
    print(limiting_factor(results))
    bad = [r for r in results if not r.ok]
    if bad:
        print(
            "NOT OK: " + "; ".join(f"{r.replicas} replicas, {r.phase.name}: see above" for r in bad)
        )
    return 1 if bad else 0


def replica_counts(value: str) -> list[int]:
    try:
        counts = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of counts, e.g. 1,2,3") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("counts are 1 or more")
    return counts


def add_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--replicas", type=replica_counts, default=[1, 2, 3], help="replica counts (1,2,3)")
    add("--chats", type=int, default=120, help="chats with the overall limit lifted (120)")
    add("--limited-chats", type=int, default=30, help="chats with Telegram's limits (30)")
    add("--messages", type=int, default=5, help="messages per chat (5)")
    add("--delay", type=float, default=1.0, help="the LLM's time per answer, seconds (1)")
    add("--think", type=float, default=0.5, help="mean think time, seconds (0.5)")
    add("--ramp", type=float, default=None, help="first messages spread over (--delay) s")
    add("--timeout", type=float, default=60.0, help="a user's wait for an answer, s (60)")
    add(
        "--limits", choices=["both", "telegram", "lifted"], default="both",
        help="which phases: Telegram's default flood limits, the overall one lifted, or both",
    )  # fmt: skip
    add("--stream", action=argparse.BooleanOptionalAction, default=True, help="stream (on)")
    add(
        "--postgres",
        default=DEFAULT_POSTGRES,
        help=f"a database on the server ({DEFAULT_POSTGRES})",
    )
    add("--logs", metavar="DIR", help="keep the replicas' logs in DIR/<n>-replicas/")
    add("--seed", type=int, default=7, help="users' random think times and the balancer's")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.replicas",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_options(parser)
    args = parser.parse_args(argv)
    try:
        code = asyncio.run(run(args))
    except BenchError as error:
        print(f"\nreplicas: {error}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
