"""Three replicas of `chatrelay run` on one PostgreSQL database, Telegram in webhook mode behind
a load balancer that sends each update to a random replica; one replica is SIGKILLed in the
middle. Every message must still be answered exactly once, in order per chat, with the whole
conversation in the model's next request (crash_support.Verdict).

- 200 private chats (every fifth writes two messages at once) and 4 groups where the bot is
  @mentioned; answers take 1-3 s, streamed; each user writes again once the answer shows.
- Once 100 answers show and 30 are streaming, replica 2 is killed and stays dead: the balancer
  sends its share to the others (a refused connection is tried on the next replica, as nginx
  does), Telegram sends again what it was delivering (a 502), and the two live replicas take
  up its unfinished messages once its leases lapse. INBOX_LEASE_SECONDS is 10 (default 30) to
  keep the test short; nothing else differs from the defaults.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.crash_support import (
    MODEL,
    BotProcess,
    PacedOpenRouter,
    TelegramUsers,
    start_bot,
    telegram_conversations,
)
from tests.fakes.telegram import FakeTelegram
from tests.support.balancer import Balancer
from tests.support.databases import require_postgres, temporary_database

pytestmark = pytest.mark.postgres

TOKEN = "714714:REPLICAS-token"
REPLICAS = 3
LEASE_SECONDS = 10
START_TIMEOUT = 60.0
KILL_TIMEOUT = 120.0
KILL_AFTER_ANSWERS = 100
KILL_STREAMING = 30
QUIET = 3 * LEASE_SECONDS  # nothing happening for this long: missing answers are not coming
LAST_WORD_QUIET = 3.0


@pytest.fixture
async def fake() -> AsyncIterator[PacedOpenRouter]:
    """Overrides conftest's: its ``env`` points the bots at this one."""
    async with PacedOpenRouter() as server:
        yield server


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    # Telegram keeps sending an update its webhook did not take (for hours); here: every
    # half second, for a minute.
    async with FakeTelegram(
        TOKEN, bot_username="relay_bot", webhook_retries=120, webhook_retry_delay=0.5
    ) as server:
        yield server


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[str]:
    require_postgres()
    async with temporary_database("postgres", tmp_path, migrated=True) as url:
        yield url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def listening(port: int, bot: BotProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert bot.running, f"{bot.name} exited at start:\n{bot.log_tail()}"
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise AssertionError(f"{bot.name} not listening within {START_TIMEOUT:.0f}s:\n{bot.log_tail()}")


async def logged(bot: BotProcess, text: str) -> None:
    """Until ``bot``'s log says ``text`` (it is up and has decided)."""
    deadline = time.monotonic() + START_TIMEOUT
    while text not in bot.log():
        assert bot.running, f"{bot.name} exited at start:\n{bot.log_tail()}"
        assert time.monotonic() < deadline, f"{bot.name} never logged {text!r}:\n{bot.log_tail()}"
        await asyncio.sleep(0.1)


async def each_names_itself_in_its_metrics(health_ports: list[int]) -> None:
    """Side by side on one host, each replica serves its own health and metrics port."""
    async with httpx.AsyncClient(timeout=10) as client:
        for number, port in enumerate(health_ports, start=1):
            ready = await client.get(f"http://127.0.0.1:{port}/readyz")
            assert ready.status_code == 200, ready.text
            page = await client.get(f"http://127.0.0.1:{port}/metrics")
            assert f'chatrelay_replica_info{{replica="replica-{number}"}} 1.0' in page.text


class Replicas:
    """One test's replica processes, users and figures."""

    def __init__(
        self, env: dict[str, str], cwd: Path, tg: FakeTelegram, users: TelegramUsers
    ) -> None:
        self.env = env
        self.cwd = cwd
        self.tg = tg
        self.users = users
        self.bots: list[BotProcess] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.facts: list[str] = []
        self.problems: list[str] = []
        self.started = time.monotonic()

    async def start(self, number: int, extra: dict[str, str]) -> BotProcess:
        env = {
            **self.env,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": f"{self.tg.base_url}/bot",
            "INBOX_LEASE_SECONDS": str(LEASE_SECONDS),
            "REPLICA_NAME": f"replica-{number}",
            "OPENROUTER_MODELS": MODEL,
            **extra,
        }
        bot = await start_bot(env, self.cwd, f"replica-{number}")
        self.bots.append(bot)
        return bot

    def converse(self) -> None:
        self.users.waiters.start()
        self.tasks = [asyncio.create_task(self.users.converse(c)) for c in self.users.conversations]

    async def kill_then_settle(self, victim: BotProcess, who: str) -> None:
        """SIGKILL ``victim``; then until every user is answered or nothing happens."""
        moment = self.users.moment().describe()
        self.facts.append(f"SIGKILL of {who} at {time.monotonic() - self.started:.1f}s: {moment}")
        await victim.kill()
        ended = await self.users.settle(self.tasks, QUIET)
        await self.users.quiet(LAST_WORD_QUIET)
        if not ended:
            self.facts.append(f"{sum(not t.done() for t in self.tasks)} users still waiting")
        for bot in self.bots:
            if bot is not victim and not bot.running:
                self.problems.append(f"{bot.name} died:\n{bot.log_tail()}")

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.users.waiters.close()
        for bot in self.bots:
            await bot.stop()

    def verdict(self, title: str) -> None:
        verdict = self.users.verdict()
        written = sum(len(c.said) for c in self.users.conversations)
        elapsed = time.monotonic() - self.started
        self.facts.insert(0, f"{elapsed:.1f}s in all; {written} messages written")
        self.facts.append(self.users.platform_facts())
        report = verdict.report(title, self.facts)
        if self.problems:
            report += "\n  " + "\n  ".join(self.problems)
        if self.problems or not verdict.ok:
            pytest.fail(report, pytrace=False)
        print(report)  # the figures when it passes (pytest -s or -rP)


async def test_three_webhook_replicas_one_killed_answer_every_message_once_in_order(
    env: dict[str, str],
    tmp_path: Path,
    fake: PacedOpenRouter,
    tg: FakeTelegram,
    database: str,
) -> None:
    ports = [free_port() for _ in range(REPLICAS)]
    health_ports = [free_port() for _ in range(REPLICAS)]
    upstreams = [f"http://127.0.0.1:{port}" for port in ports]
    conversations = telegram_conversations(tg, private=200, groups=4, planned=4, burst_every=5)
    run = Replicas(
        {**env, "DATABASE_URL": database}, tmp_path, tg, TelegramUsers(tg, fake, conversations)
    )
    async with Balancer(upstreams, seed=11) as balancer:
        try:
            for number, (port, health) in enumerate(zip(ports, health_ports, strict=True), 1):
                bot = await run.start(
                    number,
                    {
                        "TELEGRAM_WEBHOOK_URL": f"{balancer.url}/telegram/hook",
                        "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
                        "TELEGRAM_WEBHOOK_PORT": str(port),
                        "HEALTH_HOST": "127.0.0.1",
                        "HEALTH_PORT": str(health),
                    },
                )
                await listening(port, bot)
            await tg.wait_for(lambda: bool(tg.webhook_url), timeout=START_TIMEOUT)
            await each_names_itself_in_its_metrics(health_ports)
            run.converse()
            await fake.wait_for(
                lambda: (
                    fake.in_flight >= KILL_STREAMING
                    and run.users.answered_total() >= KILL_AFTER_ANSWERS
                ),
                KILL_TIMEOUT,
            )
            await run.kill_then_settle(run.bots[1], run.bots[1].name)
        finally:
            await run.close()
        forwarded = dict(sorted(balancer.forwarded.items()))
        run.facts.append(f"updates forwarded by replica: {forwarded}")
        run.facts.append(
            f"connections refused by the dead replica: {sum(balancer.refused.values())}"
        )
    if len([upstream for upstream, count in forwarded.items() if count]) != REPLICAS:
        run.problems.append("not every replica took updates")
    run.verdict("3 webhook replicas on PostgreSQL, one SIGKILLed")


async def test_two_polling_replicas_the_polling_one_killed_the_other_takes_over(
    env: dict[str, str],
    tmp_path: Path,
    fake: PacedOpenRouter,
    tg: FakeTelegram,
    database: str,
) -> None:
    """Long polling: exactly one replica polls (Telegram refuses two getUpdates at once: a 409
    would show it). It is SIGKILLed; its lease lapses and the other replica polls from then on,
    answering what the users wrote meanwhile and what the dead one left unfinished."""
    conversations = telegram_conversations(tg, private=60, groups=2, planned=4, burst_every=5)
    run = Replicas(
        {**env, "DATABASE_URL": database}, tmp_path, tg, TelegramUsers(tg, fake, conversations)
    )
    try:
        leader = await run.start(1, {})
        await logged(leader, "telegram long polling")
        standby = await run.start(2, {})
        await logged(standby, "standing by")
        run.converse()
        await fake.wait_for(
            lambda: fake.in_flight >= 10 and run.users.answered_total() >= 40, KILL_TIMEOUT
        )
        await run.kill_then_settle(leader, f"the polling {leader.name}")
        if standby.running and "this replica took over" not in standby.log():
            run.problems.append(f"{standby.name} never took polling over:\n{standby.log_tail()}")
    finally:
        await run.close()
    conflicts = sum(1 for c in tg.calls if c.method == "getUpdates" and c.status == 409)
    run.facts.append(f"getUpdates refused as overlapping (409): {conflicts}")
    if conflicts:
        run.problems.append("two replicas polled at once")
    run.verdict("2 polling replicas on PostgreSQL, the polling one SIGKILLed")
