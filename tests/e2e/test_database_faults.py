"""The database fails under load and nothing users wrote is lost: acceptance tests of the durable
inbox, run against `chatrelay run` as a deployer runs it (a real process polling the fake
Telegram, answered by the fake OpenRouter).

30 users write in private chats; each writes again when the answer has arrived, or after
IMPATIENCE seconds without one, so they keep writing through the fault. Once 60 answers were
shown, the database fails:

- PostgreSQL (a private server, tests/support/throwaway_postgres.py) is stopped with
  ``pg_ctl stop -m fast`` (every session cut), stays down PG_DOWN seconds, and starts again;
- SQLite: another writer holds the file's write lock (``BEGIN IMMEDIATE``) for more than twice
  the bot's busy timeout (core.storage.sqlite.BUSY_TIMEOUT_MS), then lets go.

When it is over, each user writes AFTER_FAULT more messages; once everything is answered (or
nothing has happened for QUIET seconds) and the bot has been quiet for a while, every chat asks
once more. What the fake Telegram finally shows in each chat is then checked: every user message
has exactly one complete answer ("Echo: <text>", as the fake OpenRouter answers), the answers come
in the order of the messages, and the last question of every chat is answered.

The model is a paid one (no free-model throttling in the bot or the fake) and the fake Telegram's
flood limits are off: only the database misbehaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

from core.storage.sqlite import BUSY_TIMEOUT_MS
from tests.fakes.openrouter import FakeOpenRouter
from tests.fakes.telegram import Chat, FakeTelegram, FloodLimits
from tests.support.throwaway_postgres import ThrowawayPostgres, throwaway_postgres

TOKEN = "424242:DB-faults-token"
MODEL = "anthropic/claude-sonnet-4.5"  # paid: the bot does not queue it, the fake never limits it
CHATS = 30
FIRST_CHAT_ID = 5001
FAULT_AFTER_ANSWERS = 2 * CHATS  # the fault starts once this many answers are shown
IMPATIENCE = 1.5  # seconds a user waits for an answer before writing the next message
AFTER_FAULT = 2  # messages each user writes once the fault is over
MAX_MESSAGES = 40  # per user, in case the fault never ends for them
PG_DOWN = 2.0  # seconds PostgreSQL stays down
# seconds the other writer holds the lock: more than twice the bot's busy timeout, so that a
# write waiting its turn behind one that timed out times out too
SQLITE_HOLD = 2 * BUSY_TIMEOUT_MS / 1000 + 2.0
QUIET = 10.0  # nothing happening for this long: the answers not shown yet are not coming
SETTLE_MAX = 60.0  # at most this long for the backlog to be answered
LAST_WORD_QUIET = 2.0  # quiet before the final check, so late duplicates are seen too
START_TIMEOUT = 45.0  # for the bot to start and answer FAULT_AFTER_ANSWERS messages


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TOKEN, bot_username="faults_bot", flood=FloodLimits.off()) as server:
        yield server


@pytest.fixture
def llm(fake: FakeOpenRouter) -> FakeOpenRouter:
    """Answers take about a second: the first token after 0.6 s, then 4 chunks 0.1 s apart."""
    fake.first_token_delay = 0.6
    fake.chunks = 4
    fake.chunk_delay = 0.1
    return fake


@pytest.fixture
async def postgres() -> AsyncIterator[ThrowawayPostgres]:
    async with throwaway_postgres() as server:
        yield server


def answer_to(text: str) -> str:
    return f"Echo: {text}"


# --------------------------------------------------------------------------- the users


@dataclass
class Users:
    """CHATS users writing to the bot, and what the fake Telegram shows them."""

    tg: FakeTelegram
    llm: FakeOpenRouter
    chats: list[Chat] = field(default_factory=list)
    said: dict[int, list[str]] = field(default_factory=dict)
    fault_over: asyncio.Event = field(default_factory=asyncio.Event)
    last_question: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for n in range(CHATS):
            chat = self.tg.private_chat(FIRST_CHAT_ID + n, f"User{n}")
            self.chats.append(chat)
            self.said[chat.id] = []

    def shown(self, chat: Chat) -> list[str]:
        """The bot's messages in the chat as they look now, oldest first."""
        return [m.text for m in self.tg.sent[chat] if not m.deleted]

    def answered(self, chat: Chat, text: str) -> bool:
        return answer_to(text) in self.shown(chat)

    def answered_total(self) -> int:
        return sum(self._answered_in(chat) for chat in self.chats)

    def _answered_in(self, chat: Chat) -> int:
        expected = {answer_to(text) for text in self.said[chat.id]}
        return len(expected.intersection(self.shown(chat)))

    def all_answered(self) -> bool:
        return all(self._answered_in(chat) == len(self.said[chat.id]) for chat in self.chats)

    async def say(self, chat: Chat, text: str) -> None:
        self.said[chat.id].append(text)
        await self.tg.user_says(chat, None, text)

    async def converse(self, chat: Chat) -> None:
        """Write, wait for the answer (at most IMPATIENCE), write again; stop AFTER_FAULT
        messages after the fault is over."""
        after = 0
        for n in range(1, MAX_MESSAGES + 1):
            over = self.fault_over.is_set()
            text = f"message {n} from chat {chat.id}"
            await self.say(chat, text)
            with contextlib.suppress(TimeoutError):
                await self.tg.wait_for(lambda t=text: self.answered(chat, t), timeout=IMPATIENCE)
            if over:
                after += 1
            if after >= AFTER_FAULT:
                return

    async def ask_once_more(self, timeout: float) -> None:  # noqa: ASYNC109
        """Every chat asks one more question, after the storm; waits for the answers."""
        for chat in self.chats:
            text = f"are you still there, chat {chat.id}?"
            self.last_question[chat.id] = text
            await self.say(chat, text)
        with contextlib.suppress(TimeoutError):
            await self.tg.wait_for(
                lambda: all(self.answered(c, self.last_question[c.id]) for c in self.chats),
                timeout=timeout,
            )

    # ---- waiting for the bot

    def activity(self) -> tuple[int, int]:
        """Changes whenever the bot does anything visible: a Bot API call or an LLM request."""
        return len(self.tg.calls), len(self.llm.requests)

    async def settle(self) -> None:
        """Until every message is answered, or nothing has happened for QUIET seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_MAX
        while not self.all_answered() and (remaining := deadline - loop.time()) > 0:
            before = self.activity()
            try:
                await self.tg.wait_for(
                    lambda b=before: self.all_answered() or self.activity() != b,
                    timeout=min(QUIET, remaining),
                )
            except TimeoutError:
                return

    async def quiet(self, seconds: float, limit: float = SETTLE_MAX) -> None:
        """Until the bot has done nothing for ``seconds`` (at most ``limit``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while (remaining := deadline - loop.time()) > 0:
            before = self.activity()
            try:
                await self.tg.wait_for(
                    lambda b=before: self.activity() != b, timeout=min(seconds, remaining)
                )
            except TimeoutError:
                return

    # ---- the verdict

    def verdict(self, timings: dict[str, float], log: str, fault: str) -> tuple[bool, str]:
        """(all well, a report of what the chats show)."""
        written = lost = twice = 0
        lost_examples: list[str] = []
        twice_examples: list[str] = []
        disordered: list[str] = []
        others: Counter[str] = Counter()
        unanswered_last: list[int] = []
        for chat in self.chats:
            said = self.said[chat.id]
            expected = [answer_to(text) for text in said]
            expected_set = set(expected)
            shown = self.shown(chat)
            counts = Counter(shown)
            written += len(said)
            for text, answer in zip(said, expected, strict=True):
                if counts[answer] == 0:
                    lost += 1
                    lost_examples.append(text)
                elif counts[answer] > 1:
                    twice += 1
                    twice_examples.append(f"{text} (x{counts[answer]})")
            order = list(dict.fromkeys(s for s in shown if s in expected_set))
            if order != [answer for answer in expected if counts[answer]]:
                disordered.append(f"chat {chat.id}: {order}")
            others.update(_shape(s) for s in shown if s not in expected_set)
            if not self.answered(chat, self.last_question[chat.id]):
                unanswered_last.append(chat.id)
        ok = not (lost or twice or disordered or unanswered_last)
        lines = [
            f"{fault}: {CHATS} chats, {written} user messages; "
            + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()),
            f"  answered exactly once: {written - lost - twice}",
            f"  lost (no complete answer): {lost} {lost_examples[:8]}",
            f"  answered more than once: {twice} {twice_examples[:8]}",
            f"  chats with answers out of order: {len(disordered)} {disordered[:3]}",
            f"  chats whose last question (after the fault) got no answer: {unanswered_last}",
            f"  other bot messages (errors, partial answers): {dict(others.most_common(6))}",
            f"  bot log: {log_summary(log)}",
        ]
        return ok, "\n".join(lines)


def log_summary(log: str) -> str:
    """How many WARNING and ERROR lines the bot logged, and the commonest kinds."""
    kinds: Counter[str] = Counter()
    for line in log.splitlines():
        for level in (" ERROR ", " WARNING "):
            if level in line:
                kinds[level.strip() + " " + _shape(line.partition(level)[2])] += 1
    return f"{sum(kinds.values())} warnings/errors {dict(kinds.most_common(6))}"


def _shape(text: str) -> str:
    """A message or log line with its numbers blanked, to count alike ones."""
    return re.sub(r"\d+", "N", text)[:120]


# --------------------------------------------------------------------------- the bot process


@dataclass
class Bot:
    process: asyncio.subprocess.Process
    log_path: Path
    log_file: IO[bytes]

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(20):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.log_file.close()
        return self.process.returncode if self.process.returncode is not None else -1


@contextlib.asynccontextmanager
async def running_bot(env: dict[str, str], cwd: Path) -> AsyncIterator[Bot]:
    log_path = cwd / "bot.log"
    log_file = log_path.open("wb")  # a file, not a pipe: a full pipe would stall the bot
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots.cli", "run",
        stdin=asyncio.subprocess.DEVNULL, stdout=log_file, stderr=log_file, env=env, cwd=cwd,
    )  # fmt: skip
    bot = Bot(process, log_path, log_file)
    try:
        yield bot
    finally:
        await bot.stop()


def bot_env(env: dict[str, str], tg: FakeTelegram, database_url: str) -> dict[str, str]:
    return {
        **env,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_BASE_URL": f"{tg.base_url}/bot",
        "OPENROUTER_MODELS": MODEL,
        "DATABASE_URL": database_url,
    }


async def run_with_fault(
    users: Users,
    bot: Bot,
    fault: Callable[[], Awaitable[None]],
    name: str,
) -> None:
    """Load, the fault in the middle of it, the backlog, one more question per chat; then the
    verdict on what the chats show."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    conversations = [asyncio.create_task(users.converse(chat)) for chat in users.chats]
    try:
        with contextlib.suppress(TimeoutError):
            await users.tg.wait_for(
                lambda: (
                    users.answered_total() >= FAULT_AFTER_ANSWERS
                    or bot.process.returncode is not None
                ),
                timeout=START_TIMEOUT,
            )
        if users.answered_total() < FAULT_AFTER_ANSWERS:
            pytest.fail(
                f"before any fault, the bot answered {users.answered_total()} messages, not "
                f"{FAULT_AFTER_ANSWERS}, within {START_TIMEOUT:.0f}s (exit code "
                f"{bot.process.returncode}); bot log: {log_summary(bot.log())}",
                pytrace=False,
            )
        timings["until the fault"] = time.monotonic() - started
        mark = time.monotonic()
        await fault()
        timings["fault"] = time.monotonic() - mark
        users.fault_over.set()
        mark = time.monotonic()
        await asyncio.gather(*conversations)
        await users.settle()
        await users.quiet(LAST_WORD_QUIET)
        timings["after the fault"] = time.monotonic() - mark
        mark = time.monotonic()
        await users.ask_once_more(timeout=30)
        await users.quiet(LAST_WORD_QUIET)
        timings["last question"] = time.monotonic() - mark
    finally:
        for task in conversations:
            task.cancel()
        await asyncio.gather(*conversations, return_exceptions=True)
    alive = bot.process.returncode is None
    code = await bot.stop()
    timings["total"] = time.monotonic() - started
    ok, report = users.verdict(timings, bot.log(), name)
    print(report)  # the figures, also when the test passes (pytest -s / -rP)
    assert alive, f"the bot died (exit {code})\n{report}"
    assert ok, report


# --------------------------------------------------------------------------- the faults


async def test_postgres_restart_under_load_loses_no_message(
    env: dict[str, str],
    tmp_path: Path,
    llm: FakeOpenRouter,
    tg: FakeTelegram,
    postgres: ThrowawayPostgres,
) -> None:
    users = Users(tg, llm)

    async def restart() -> None:
        await postgres.restart(down_seconds=PG_DOWN)

    async with running_bot(bot_env(env, tg, postgres.database_url), tmp_path) as bot:
        await run_with_fault(
            users, bot, restart, f"PostgreSQL restarted, down {PG_DOWN:.0f}s (pg_ctl -m fast)"
        )
    assert postgres.restarts == 1


async def test_sqlite_locked_longer_than_the_busy_timeout_loses_no_message(
    env: dict[str, str], tmp_path: Path, llm: FakeOpenRouter, tg: FakeTelegram
) -> None:
    users = Users(tg, llm)
    path = tmp_path / "data" / "bot.db"

    async def locked() -> None:
        async with WriteLock(path):
            await asyncio.sleep(SQLITE_HOLD)  # the fault itself: its length is the point

    async with running_bot(bot_env(env, tg, f"sqlite+aiosqlite:///{path}"), tmp_path) as bot:
        await run_with_fault(
            users,
            bot,
            locked,
            f"SQLite write-locked {SQLITE_HOLD:.0f}s (busy timeout {BUSY_TIMEOUT_MS / 1000:.0f}s)",
        )


class WriteLock:
    """Another writer of the same SQLite file: a thread with its own sqlite3 connection that
    takes the write lock (``BEGIN IMMEDIATE``) on entry and gives it back (ROLLBACK) on exit."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._release = threading.Event()
        self._holder: asyncio.Task[None] | None = None

    async def __aenter__(self) -> WriteLock:
        loop = asyncio.get_running_loop()
        acquired: asyncio.Future[None] = loop.create_future()

        def taken() -> None:
            loop.call_soon_threadsafe(_resolve, acquired)

        self._holder = asyncio.create_task(asyncio.to_thread(self._hold, taken))
        done, _ = await asyncio.wait({acquired, self._holder}, return_when="FIRST_COMPLETED")
        if self._holder in done:
            self._holder.result()  # raises what went wrong
            raise RuntimeError("the lock holder ended without taking the lock")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._release.set()
        if self._holder is not None:
            await self._holder

    def _hold(self, taken: Callable[[], None]) -> None:
        connection = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            taken()
            self._release.wait(120)
            connection.execute("ROLLBACK")
        finally:
            connection.close()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
