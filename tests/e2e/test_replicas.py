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
    users = TelegramUsers(tg, fake, conversations)
    facts: list[str] = []
    bots: list[BotProcess] = []
    tasks: list[asyncio.Task[None]] = []
    started = time.monotonic()
    async with Balancer(upstreams, seed=11) as balancer:
        try:
            for number, (port, health) in enumerate(zip(ports, health_ports, strict=True), 1):
                bot = await start_bot(
                    {
                        **env,
                        "DATABASE_URL": database,
                        "TELEGRAM_BOT_TOKEN": TOKEN,
                        "TELEGRAM_BASE_URL": f"{tg.base_url}/bot",
                        "TELEGRAM_WEBHOOK_URL": f"{balancer.url}/telegram/hook",
                        "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
                        "TELEGRAM_WEBHOOK_PORT": str(port),
                        "INBOX_LEASE_SECONDS": str(LEASE_SECONDS),
                        "REPLICA_NAME": f"replica-{number}",
                        "HEALTH_HOST": "127.0.0.1",
                        "HEALTH_PORT": str(health),
                        "OPENROUTER_MODELS": MODEL,
                    },
                    tmp_path,
                    f"replica-{number}",
                )
                bots.append(bot)
                await listening(port, bot)
            await tg.wait_for(lambda: bool(tg.webhook_url), timeout=START_TIMEOUT)
            await each_names_itself_in_its_metrics(health_ports)
            users.waiters.start()
            tasks = [asyncio.create_task(users.converse(c)) for c in conversations]
            await fake.wait_for(
                lambda: (
                    fake.in_flight >= KILL_STREAMING
                    and users.answered_total() >= KILL_AFTER_ANSWERS
                ),
                KILL_TIMEOUT,
            )
            victim = bots[1]
            facts.append(
                f"SIGKILL of {victim.name} at {time.monotonic() - started:.1f}s: "
                f"{users.moment().describe()}"
            )
            await victim.kill()
            ended = await users.settle(tasks, QUIET)
            await users.quiet(LAST_WORD_QUIET)
            if not ended:
                facts.append(f"{sum(not t.done() for t in tasks)} users still waiting")
            for bot in bots:
                if bot is not victim and not bot.running:
                    facts.append(f"{bot.name} died:\n{bot.log_tail()}")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await users.waiters.close()
            for bot in bots:
                await bot.stop()
        facts.append(f"updates forwarded by replica: {dict(sorted(balancer.forwarded.items()))}")
        facts.append(f"connections refused by the dead replica: {sum(balancer.refused.values())}")
    verdict = users.verdict()
    written = sum(len(c.said) for c in conversations)
    facts.insert(0, f"{time.monotonic() - started:.1f}s in all; {written} messages written")
    facts.append(users.platform_facts())
    report = verdict.report("3 webhook replicas on PostgreSQL, one SIGKILLed", facts)
    served = [upstream for upstream, count in balancer.forwarded.items() if count]
    assert len(served) == REPLICAS, f"every replica took updates\n{report}"
    if not verdict.ok or any("died" in fact for fact in facts):
        pytest.fail(report, pytrace=False)
    print(report)


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
    users = TelegramUsers(tg, fake, conversations)
    facts: list[str] = []
    bots: list[BotProcess] = []
    tasks: list[asyncio.Task[None]] = []
    started = time.monotonic()
    try:
        for number in (1, 2):
            bot = await start_bot(
                {
                    **env,
                    "DATABASE_URL": database,
                    "TELEGRAM_BOT_TOKEN": TOKEN,
                    "TELEGRAM_BASE_URL": f"{tg.base_url}/bot",
                    "INBOX_LEASE_SECONDS": str(LEASE_SECONDS),
                    "REPLICA_NAME": f"replica-{number}",
                    "OPENROUTER_MODELS": MODEL,
                },
                tmp_path,
                f"replica-{number}",
            )
            bots.append(bot)
            await tg.wait_for(lambda b=bot: tg.polling or not b.running, timeout=START_TIMEOUT)  # type: ignore[misc]
        leader, standby = bots
        await logged(standby, "standing by")
        users.waiters.start()
        tasks = [asyncio.create_task(users.converse(c)) for c in conversations]
        await fake.wait_for(
            lambda: fake.in_flight >= 10 and users.answered_total() >= 40, KILL_TIMEOUT
        )
        facts.append(
            f"SIGKILL of the polling {leader.name} at {time.monotonic() - started:.1f}s: "
            f"{users.moment().describe()}"
        )
        await leader.kill()
        ended = await users.settle(tasks, QUIET)
        await users.quiet(LAST_WORD_QUIET)
        if not ended:
            facts.append(f"{sum(not t.done() for t in tasks)} users still waiting")
        if not standby.running:
            facts.append(f"{standby.name} died:\n{standby.log_tail()}")
        elif "this replica took over" not in standby.log():
            facts.append(f"{standby.name} never took polling over:\n{standby.log_tail()}")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await users.waiters.close()
        for bot in bots:
            await bot.stop()
    conflicts = sum(1 for c in tg.calls if c.method == "getUpdates" and c.status == 409)
    facts.append(f"getUpdates refused as overlapping (409): {conflicts}")
    verdict = users.verdict()
    written = sum(len(c.said) for c in conversations)
    facts.insert(0, f"{time.monotonic() - started:.1f}s in all; {written} messages written")
    facts.append(users.platform_facts())
    report = verdict.report("2 polling replicas on PostgreSQL, the polling one SIGKILLed", facts)
    problems = any("died" in f or "never took" in f for f in facts)
    if not verdict.ok or problems or conflicts:
        pytest.fail(report, pytrace=False)
    print(report)
