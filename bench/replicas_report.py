"""The figures of ``bench.replicas``: one measured phase's result, its report, the table of all
of them, and the line saying what limited the scaling."""

from __future__ import annotations

import os
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.replicas_cpu import CpuUse
from bench.replicas_users import Verdict
from bench.replicas_world import InboxState
from bench.support import percentile

TELEGRAM_GLOBAL = 30.0  # messages a second per bot, Telegram's (and the fake's) default
FLOOD_COUNTED = ("sendMessage", "editMessageText")  # what a text answer spends of it


@dataclass(frozen=True)
class Phase:
    name: str  # "telegram" (the fake's default flood limits) | "lifted" (no overall limit)
    title: str
    chats: int
    first_chat: int  # chat ids first_chat .. first_chat + chats - 1


@dataclass(kw_only=True)
class PhaseResult:
    """What one phase measured with ``replicas`` replicas; ``cpu`` over the steady window
    (whole run when ``whole_run``)."""

    replicas: int
    phase: Phase
    messages: int
    llm_ms: float
    think: float
    cpu: CpuUse
    whole_run: bool
    wall: float  # first message to last answer
    latencies_ms: list[float]
    verdict: Verdict
    gave_up: int
    flood_429: int
    calls: Counter[str]
    refused: Counter[str]
    inbox: list[InboxState]
    forwarded: list[int]  # webhook deliveries the balancer passed to each replica
    replies_sent: list[float | None]  # each replica's chatrelay_replies_sent over the phase
    connections: tuple[int, int, int]  # PostgreSQL: most to the bench's db, to all, the maximum
    failed_deliveries: int  # webhook deliveries answered with an error (Telegram retries them)
    sessions: int  # PostgreSQL sessions opened to the bench's database (-1: unknown)
    problems: list[str] = field(default_factory=list)  # a replica died; why answers went missing
    notes: list[str] = field(default_factory=list)  # what the replicas complained about

    @property
    def overheads_ms(self) -> list[float]:
        return [latency - self.llm_ms for latency in self.latencies_ms] or [0.0]

    @property
    def flood_calls_per_answer(self) -> float:
        spent = sum(self.calls[method] for method in FLOOD_COUNTED) - self.flood_429
        return spent / max(len(self.latencies_ms), 1)

    @property
    def offered(self) -> float:
        """Replies a second the users would ask for if answered without overhead: each waits
        for the LLM's time and thinks before writing again."""
        return self.phase.chats / (self.llm_ms / 1000 + self.think)

    @property
    def ok(self) -> bool:
        """Every message answered exactly once, in order, and no replica died."""
        return self.verdict.ok and not self.gave_up and not self.problems

    def ms(self, seconds: float) -> float:
        return self.cpu.per_reply_ms(seconds)

    @property
    def ceiling(self) -> float:
        """Replies a second the machine's cores could give at this phase's CPU per reply (of
        the replicas, PostgreSQL, the fakes and the driver), had nothing else run."""
        cpu = self.cpu
        total = sum(cpu.replicas) + cpu.postgres + cpu.openrouter + cpu.driver
        return (os.cpu_count() or 1) * 1000 / max(self.ms(total), 1e-9)

    @property
    def busiest_replica_cores(self) -> float:
        """The CPU the busiest replica used over the window, in cores."""
        return max(self.cpu.replicas, default=0.0) / self.cpu.wall

    @property
    def others_ms(self) -> float:
        """The fake OpenRouter's and this process's (fake Telegram, balancer, users) CPU."""
        return self.ms(self.cpu.openrouter + self.cpu.driver)


def print_phase(result: PhaseResult) -> None:
    cpu, n = result.cpu, result.replicas
    window = "whole run (not all answered)" if result.whole_run else "from 10% to 90% of answers"
    print(f"\n{n} replica{'s' * (n > 1)}, {result.phase.title}")
    print(
        f"  {result.phase.chats} chats x {result.messages} messages; all done in "
        f"{result.wall:.1f} s; steady window ({window}): {cpu.answers} answers in "
        f"{cpu.wall:.1f} s = {cpu.replies_per_second:.1f} replies/s "
        f"(users answered at once would ask ~{result.offered:.0f}/s)"
    )
    overheads = result.overheads_ms
    print(
        f"  overhead beyond the LLM's {result.llm_ms:.0f} ms: p50 {percentile(overheads, 50):.0f}"
        f" ms, p99 {percentile(overheads, 99):.0f} ms, max {max(overheads):.0f} ms, "
        f"mean {statistics.fmean(overheads):.0f} ms"
    )
    per_replica = ", ".join(f"{result.ms(s):.1f}" for s in cpu.replicas)
    print(
        f"  CPU ms per reply: replicas {result.ms(sum(cpu.replicas)):.1f} ({per_replica}); "
        f"PostgreSQL {result.ms(cpu.postgres):.1f}; "
        f"fake OpenRouter {result.ms(cpu.openrouter):.1f}; "
        f"driver (fake Telegram, balancer, users) {result.ms(cpu.driver):.1f}"
    )
    print(
        f"  at these CPU costs, {os.cpu_count()} idle cores would allow ~{result.ceiling:.0f} "
        "replies/s"
    )
    print(
        f"  machine busy {cpu.busy_cores:.2f} of {os.cpu_count()} cores, {cpu.measured_cores:.2f}"
        " of them by the processes above (the rest: other programs, e.g. other people's tests, "
        "and the kernel)"
    )
    ours, everyone, most = result.connections
    replies = max(len(result.latencies_ms), 1)
    sessions = "?" if result.sessions < 0 else f"{result.sessions / replies:.2f}"
    print(
        f"  PostgreSQL: connections at most {ours} to the bench's database, {everyone} to the "
        f"server (max_connections {most}); sessions opened per reply {sessions}; CPU of "
        f"exited backends (every database, other people's tests too) "
        f"{result.ms(cpu.reaped):.1f} ms/reply"
    )
    sent = ", ".join("?" if v is None else f"{v:.0f}" for v in result.replies_sent)
    print(
        f"  webhook deliveries per replica: {result.forwarded}; replies sent per replica "
        f"(their metrics): {sent}"
    )
    calls = ", ".join(f"{method} {count}" for method, count in result.calls.most_common(6))
    print(
        f"  Bot API calls: {calls}; flood 429s: {result.flood_429}; "
        f"{result.flood_calls_per_answer:.2f} flood-counted messages per answer"
    )
    if result.refused:
        print(f"  refused Bot API calls: {dict(result.refused.most_common(5))}")
    if result.failed_deliveries:
        print(
            f"  webhook deliveries answered with an error (the fake Telegram retries each for "
            f"up to 30 s): {result.failed_deliveries}"
        )
    inbox = ", ".join(f"{s.state} {s.rows} ({s.reclaimed} claimed >1 time)" for s in result.inbox)
    print(f"  inbox rows of these chats: {inbox or 'none'}")
    for line in result.verdict.describe():
        print(f"  {line}")
    if result.gave_up:
        print(f"  users who gave up waiting for an answer: {result.gave_up}")
    for note in result.notes:
        print(f"  note: {note}")
    for problem in result.problems:
        print(f"  PROBLEM: {problem}")


def print_table(results: Sequence[PhaseResult]) -> None:
    print("\nsummary (replies/s and CPU per reply over the steady window)")
    header = (
        f"  {'replicas':>8} | {'Telegram limits':<22} | {'replies/s':>9} | "
        f"{'replica CPU ms/reply':>20} | {'PostgreSQL CPU ms/reply':>23} | "
        f"{'fakes+driver ms/reply':>21} | {'busy cores':>10} | {'p50/p99 overhead ms':>19} | "
        "answered once / total"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for r in results:
        overheads = r.overheads_ms
        p50, p99 = percentile(overheads, 50), percentile(overheads, 99)
        once = f"{r.verdict.once} / {r.verdict.messages}" + ("" if r.ok else "  <-- NOT OK")
        limits = "default (30/s overall)" if r.phase.name == "telegram" else "overall limit lifted"
        print(
            f"  {r.replicas:>8} | {limits:<22} | {r.cpu.replies_per_second:>9.1f} | "
            f"{r.ms(sum(r.cpu.replicas)):>20.1f} | {r.ms(r.cpu.postgres):>23.1f} | "
            f"{r.others_ms:>21.1f} | {r.cpu.busy_cores:>10.2f} | "
            f"{f'{p50:.0f} / {p99:.0f}':>19} | {once}"
        )


def limiting_factor(results: Sequence[PhaseResult]) -> str:
    """What limited the scaling, read from the figures."""
    parts = []
    limited = [r for r in results if r.phase.name == "telegram"]
    if limited:
        parts.append(telegram_limit(limited))
    lifted = [r for r in results if r.phase.name == "lifted"]
    if lifted:
        parts.append(lifted_limit(lifted))
    return "what limited the scaling: " + "; ".join(parts)


def telegram_limit(results: Sequence[PhaseResult]) -> str:
    rates = ", ".join(f"{r.cpu.replies_per_second:.1f}" for r in results)
    per_answer = statistics.fmean(r.flood_calls_per_answer for r in results)
    cap = TELEGRAM_GLOBAL / max(per_answer, 1e-9)
    spent = max(r.cpu.replies_per_second * r.flood_calls_per_answer for r in results)
    if spent >= 0.8 * TELEGRAM_GLOBAL or any(r.flood_429 for r in results):
        return (
            f"with Telegram's limits, its 30 messages/s per bot ({per_answer:.1f} per answer "
            f"with placeholders on, so at most ~{cap:.0f} answers/s) for any replica count "
            f"({rates} replies/s)"
        )
    return (
        f"with Telegram's limits: {rates} replies/s, below its 30 messages/s "
        f"({per_answer:.1f} per answer), so the users' pace or the bot, not Telegram"
    )


def lifted_limit(results: Sequence[PhaseResult]) -> str:
    """Why more replicas did (not) bring more replies/s, read from the run with the most."""
    first, most = results[0], max(results, key=lambda r: r.replicas)
    cores = os.cpu_count() or 1
    scaling = ", ".join(
        f"{r.replicas}: {r.cpu.replies_per_second:.1f}/s, {r.cpu.busy_cores:.2f} cores busy"
        for r in results
    )
    gain = most.cpu.replies_per_second / max(first.cpu.replies_per_second, 1e-9)
    head = (
        f"without the overall limit ({scaling}; x{gain:.2f} from {first.replicas} to "
        f"{most.replicas})"
    )
    cpu = most.cpu
    parts = {
        "the replicas": sum(cpu.replicas),
        "PostgreSQL": cpu.postgres,
        "the fakes and the driver": cpu.openrouter + cpu.driver,
    }
    shares = ", ".join(f"{name} {most.ms(seconds):.1f}" for name, seconds in parts.items())
    hungriest = max(parts, key=lambda name: parts[name])
    single = [r for r in results if r.replicas == 1 and r.busiest_replica_cores >= 0.85]
    if single:
        head += (
            f"; one replica alone used {single[0].busiest_replica_cores:.2f} of a core (its "
            "event loop is one thread): that capped it, not the machine"
        )
    if cpu.replies_per_second >= 0.85 * most.offered:
        return (
            f"{head}: the users' own pace (~{most.offered:.0f} replies/s at most); more chats "
            f"would load the replicas harder (CPU ms per reply: {shares})"
        )
    if cpu.busy_cores >= 0.85 * cores:
        return (
            f"{head}: CPU, the {cores} cores shared by replicas, PostgreSQL, fakes and driver "
            f"were {cpu.busy_cores:.2f} busy with {most.replicas} replicas "
            f"({cpu.measured_cores:.2f} by the bench's processes, the rest by other programs; "
            f"CPU ms per reply: {shares}; most: {hungriest}; at that cost {cores} idle cores "
            f"would give ~{most.ceiling:.0f}/s), so a replica more only splits the same cores"
        )
    return (
        f"{head}: neither CPU ({cpu.busy_cores:.2f} of {cores} cores busy) nor the users' pace; "
        f"waiting on the database or the inbox's claims (CPU ms per reply: {shares})"
    )
