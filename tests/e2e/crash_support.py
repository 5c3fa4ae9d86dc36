"""What the crash-recovery tests (test_crash_recovery.py) share: the bot process, a fake
OpenRouter that paces each answer and knows which are streaming, users who converse on the fake
Telegram or Discord, and the verdict on what the chats finally show.

Every user message carries a tag, ``<key>q<n>end`` at its very end (``t017q2end`` is the third
message of conversation t017), and the fake OpenRouter echoes the last user turn ("Echo: <turn>";
in shared chats the turn is "<name>: <text>"). So a bot message is the *complete* answer to a
message exactly when it starts with "Echo: " and ends with that message's text: a part of it (a
message edited while streaming, then left behind) never ends with the tag.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
import time
import zlib
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aiohttp import web

from tests.fakes.discord import Channel, FakeDiscord
from tests.fakes.discord import User as DiscordUser
from tests.fakes.openrouter import Answer, ErrorReply, FakeOpenRouter
from tests.fakes.telegram import Chat, FakeTelegram
from tests.fakes.telegram import User as TelegramUser

ROOT = Path(__file__).resolve().parents[2]
MODEL = "anthropic/claude-sonnet-4.5"  # paid: neither the bot nor the fake throttles it
ANSWER_PREFIX = "Echo: "
TAG = re.compile(r"\b([a-z]\d{3})q(\d+)end\b")

Pace = Callable[[str, int], Answer | None]  # (conversation key, message number) -> answer


# --------------------------------------------------------------------------- answers


def streamed(seconds: float, chunks: int, first_token: float = 0.3) -> Answer:
    """An echo answer streamed over about ``seconds``: reasoning in ``chunks`` pieces, then the
    content in ``chunks`` pieces (the fake sends 2 * chunks + 2 chunks, 2 * chunks + 1 pauses)."""
    pause = max(seconds - first_token, 0.0) / (2 * chunks + 1)
    return Answer(chunks=chunks, chunk_delay=pause, first_token_delay=first_token)


def everyday_pace(key: str, number: int) -> Answer:
    """1-3 s per answer, 4-8 chunks, spread by the message's tag (the same on every run)."""
    h = zlib.crc32(f"{key}q{number}".encode())
    seconds = 1.0 + (h % 2001) / 1000
    chunks = 4 + (h >> 11) % 5
    first = 0.2 + ((h >> 17) % 5) / 10
    return streamed(seconds, chunks, first)


def last_user_text(body: Any) -> str:
    messages = body.get("messages") if isinstance(body, dict) else None
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def content_text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def tag_of(text: str) -> tuple[str, int] | None:
    """(conversation key, message number) of the last tag in ``text``: the message's own."""
    found = TAG.findall(text)
    return (found[-1][0], int(found[-1][1])) if found else None


class PacedOpenRouter(FakeOpenRouter):
    """The fake OpenRouter, answering each chat request as ``pace(key, number)`` says (None:
    the server defaults) and keeping count of the requests being answered right now.

    OpenRouter's free-model limits stay as the fake has them; the tests run a paid model, which
    they do not touch. ``streaming holds the tags being
    answered now, ``finished`` those answered to the end, ``cut`` those whose stream ended
    early (the client went away)."""

    def __init__(self, pace: Pace | None = everyday_pace, **options: Any) -> None:
        options.setdefault("api_key", None)  # any key (the bot gets conftest's)
        super().__init__(**options)
        self.pace = pace
        self.streaming: Counter[tuple[str, int]] = Counter()
        self.finished: Counter[tuple[str, int]] = Counter()
        self.cut: Counter[tuple[str, int]] = Counter()
        self.asked_at: dict[tuple[str, int], float] = {}  # first request per tag, fake's clock
        self._event: asyncio.Event | None = None

    @property
    def in_flight(self) -> int:
        return sum(self.streaming.values())

    # A request is counted from its arrival until the last byte of its answer was written.
    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()  # aiohttp keeps the body: the fake reads it again
        except ValueError:
            body = None
        tag = tag_of(last_user_text(body)) or ("?", -1)
        self.asked_at.setdefault(tag, self.clock())
        self.streaming[tag] += 1
        self._changed()
        ended = self.cut
        try:
            response = await super()._chat(request)
            ended = self.finished
            return response
        finally:
            self.streaming[tag] -= 1
            if not self.streaming[tag]:
                del self.streaming[tag]
            ended[tag] += 1
            self._changed()

    def _route(self, candidates: list[str], body: Any, prompt_text: str) -> Any:
        routed = super()._route(candidates, body, prompt_text)
        if isinstance(routed, ErrorReply) or self.pace is None:
            return routed
        tag = tag_of(last_user_text(body))
        answer = self.pace(*tag) if tag is not None else None
        return routed if answer is None else (routed[0], answer)

    def _changed(self) -> None:
        event, self._event = self._event, asyncio.Event()
        if event is not None:
            event.set()

    async def wait_for(self, predicate: Callable[[], Any], limit: float) -> Any:
        """Until ``predicate()`` is truthy, re-checked whenever a request starts or ends."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while not (value := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"not within {limit:.0f}s (in flight: {self.in_flight})")
            if self._event is None:
                self._event = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), min(remaining, 1.0))
        return value


# --------------------------------------------------------------------------- the bot process


@dataclass
class BotProcess:
    """``chatrelay run`` as a deployer runs it; its log goes to a file (a full pipe would
    stall it)."""

    name: str
    process: asyncio.subprocess.Process
    log_path: Path
    log_file: IO[bytes]

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def log(self) -> str:
        with contextlib.suppress(ValueError):
            self.log_file.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 25) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def error_lines(self) -> Counter[str]:
        return Counter(shape(line) for line in self.log().splitlines() if " ERROR " in line)

    async def kill(self) -> None:
        """SIGKILL, as the OOM killer or a power cut does."""
        if self.running:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        self.log_file.close()

    async def terminate(self, limit: float) -> tuple[bool, float]:
        """SIGTERM, as a deploy does; SIGKILL after ``limit`` seconds, as a container runtime
        does. (exited by itself, seconds until the process was gone)."""
        started = time.monotonic()
        if self.running:
            self.process.send_signal(signal.SIGTERM)
        by_itself = True
        try:
            async with asyncio.timeout(limit):
                await self.process.wait()
        except TimeoutError:
            by_itself = False
            self.process.kill()
            await self.process.wait()
        self.log_file.close()
        return by_itself, time.monotonic() - started

    async def stop(self) -> None:
        """The end of a test: SIGTERM, SIGKILL after 20 s."""
        if self.running:
            await self.terminate(20.0)
        elif not self.log_file.closed:
            self.log_file.close()


async def start_bot(env: dict[str, str], cwd: Path, name: str) -> BotProcess:
    """A new ``chatrelay run`` process running this checkout's code."""
    log_path = cwd / f"{name}.log"
    log_file = log_path.open("ab")
    env = {**env, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots.cli", "run",
        stdin=asyncio.subprocess.DEVNULL, stdout=log_file, stderr=log_file, env=env, cwd=cwd,
    )  # fmt: skip
    return BotProcess(name, process, log_path, log_file)


def shape(text: str) -> str:
    """A message or log line with its numbers blanked, to count alike ones."""
    text = re.sub(r"^\S+ \S+ ", "", text)  # a log line's timestamp
    return re.sub(r"\d+", "N", text)[:140]


# --------------------------------------------------------------------------- conversations


@dataclass
class Conversation:
    """One chat as its users see it: what they said (in order) and how much they will say."""

    key: str  # a letter and three digits: t017
    place: Any  # the fake's chat or channel
    speakers: Sequence[Any]  # who writes, in turn (private chats and DMs: one)
    shared: bool  # a group or guild channel: the bot is @mentioned
    planned: int  # messages in all
    burst: bool = False  # writes two messages at once (then waits for both answers)
    said: list[str] = field(default_factory=list)

    def text(self, number: int) -> str:
        return (
            f"{self.key} asks question {number} about topic {zlib.crc32(self.key.encode()) % 97}"
            f" and wants the whole answer {self.key}q{number}end"
        )

    @property
    def left(self) -> int:
        return self.planned - len(self.said)


def is_answer(shown: str, text: str) -> bool:
    return shown.startswith(ANSWER_PREFIX) and shown.endswith(text)


class Waiters:
    """Many users waiting for their answers, woken by one watcher of the fake (not one each)."""

    def __init__(self, wait_for: Callable[[Callable[[], Any], float], Awaitable[Any]]) -> None:
        self._wait_for = wait_for
        self._waiting: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await self._wait_for(self._check, 3600.0)

    def _check(self) -> bool:
        still = []
        for predicate, future in self._waiting:
            if future.done():
                continue
            if predicate():
                future.set_result(None)
            else:
                still.append((predicate, future))
        self._waiting = still
        return False

    async def until(self, predicate: Callable[[], bool]) -> None:
        if predicate():
            return
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((predicate, future))
        await future


@dataclass
class Moment:
    """What was going on when the bot was stopped."""

    streaming: int = 0  # answers being streamed by the model
    written: int = 0  # answers the model finished but the chat does not show yet
    waiting: int = 0  # messages the model had not been asked about yet
    pending_updates: int | None = None  # Telegram: updates not confirmed yet

    def describe(self) -> str:
        text = (
            f"{self.streaming} answers streaming, {self.written} written but not shown, "
            f"{self.waiting} messages not yet at the model"
        )
        if self.pending_updates is not None:
            text += f", {self.pending_updates} updates unconfirmed at Telegram"
        return text


class Users(ABC):
    """The users of all conversations on one platform, and the verdict on what they see."""

    def __init__(self, llm: PacedOpenRouter, conversations: Sequence[Conversation]) -> None:
        self.llm = llm
        self.conversations = list(conversations)
        self.by_key = {c.key: c for c in self.conversations}
        self.waiters = Waiters(self.wait_for)

    # ---- the platform

    @abstractmethod
    async def send(self, conversation: Conversation, text: str) -> None: ...

    @abstractmethod
    def shown(self, conversation: Conversation) -> list[str]:
        """The bot's messages in the chat as they read now (after edits), oldest first."""

    @abstractmethod
    def wait_for(self, predicate: Callable[[], Any], limit: float) -> Awaitable[Any]: ...

    @abstractmethod
    def platform_activity(self) -> int: ...

    @abstractmethod
    def platform_facts(self) -> str: ...

    def activity(self) -> tuple[int, int, int]:
        """Changes whenever the bot does anything: a platform call or an LLM request."""
        return self.platform_activity(), len(self.llm.requests), self.llm.in_flight

    # ---- what users do

    async def say(self, conversation: Conversation) -> None:
        text = conversation.text(len(conversation.said))
        conversation.said.append(text)
        await self.send(conversation, text)

    def answered(self, conversation: Conversation, number: int) -> bool:
        text = conversation.said[number]
        return any(is_answer(shown, text) for shown in self.shown(conversation))

    def shown_since_asked(
        self, conversation: Conversation, number: int, records: Iterable[Any]
    ) -> bool:
        """Whether one of ``records`` (the fake's drafts, chat actions: they have ``at`` on the
        same monotonic clock) came after the model was first asked about message ``number``."""
        asked = self.llm.asked_at.get((conversation.key, number))
        return asked is not None and any(record.at >= asked for record in records)

    def answered_total(self) -> int:
        total = 0
        for conversation in self.conversations:
            shown = self.shown(conversation)
            total += sum(any(is_answer(s, t) for s in shown) for t in conversation.said)
        return total

    async def converse(self, conversation: Conversation) -> None:
        """Write; once the answer to the latest message shows, write the next (two at once in
        a burst conversation), until all planned messages are written and the last answered."""
        while conversation.left > 0:
            await self.say(conversation)
            if conversation.burst and conversation.left > 0 and len(conversation.said) % 2:
                await self.say(conversation)
            await self.waiters.until(
                lambda c=conversation: self.answered(c, len(c.said) - 1)  # type: ignore[misc]
            )

    async def write_while_down(self, conversations: Iterable[Conversation]) -> int:
        """One more message in each of these chats (if planned): the bot is down meanwhile."""
        count = 0
        for conversation in conversations:
            if conversation.left > 0:
                await self.say(conversation)
                count += 1
        return count

    def moment(self) -> Moment:
        requested = {*self.llm.finished, *self.llm.cut, *self.llm.streaming}
        moment = Moment(streaming=self.llm.in_flight)
        for conversation in self.conversations:
            for number in range(len(conversation.said)):
                if (conversation.key, number) not in requested:
                    moment.waiting += 1
                elif (conversation.key, number) in self.llm.finished and not self.answered(
                    conversation, number
                ):
                    moment.written += 1
        return moment

    # ---- waiting

    async def settle(self, tasks: Sequence[asyncio.Task[None]], quiet: float) -> bool:
        """Until every conversation is over, or nothing happened for ``quiet`` seconds (the
        answers still missing are not coming). True if every conversation ended."""
        pending = {task for task in tasks if not task.done()}
        while pending:
            before = self.activity()
            done, pending = await asyncio.wait(pending, timeout=quiet)
            for task in done:
                task.result()  # a user's own failure is the test's
            if not done and self.activity() == before:
                return False
        return True

    async def quiet(self, seconds: float, limit: float = 60.0) -> None:
        """Until the bot has done nothing for ``seconds`` (at most ``limit``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while (remaining := deadline - loop.time()) > 0:
            before = self.activity()
            try:
                await self.wait_for(
                    lambda b=before: self.activity() != b,  # type: ignore[misc]
                    min(seconds, remaining),
                )
            except TimeoutError:
                if self.activity() == before:
                    return

    # ---- the verdict

    def verdict(self) -> Verdict:
        verdict = Verdict()
        last = self.last_requests()
        for conversation in self.conversations:
            verdict.check(conversation, self.shown(conversation), last.get(conversation.key))
        return verdict

    def last_requests(self) -> dict[str, list[tuple[str, str]]]:
        """Per conversation, the user and assistant turns of the last request the model got."""
        last: dict[str, list[tuple[str, str]]] = {}
        for request in self.llm.chat_requests:
            tag = tag_of(last_user_text(request.body))
            if tag is None or tag[0] not in self.by_key:
                continue
            messages = request.body.get("messages") or []
            last[tag[0]] = [
                (str(m.get("role")), content_text(m.get("content")))
                for m in messages
                if isinstance(m, dict) and m.get("role") in ("user", "assistant")
            ]
        return last


@dataclass
class Verdict:
    """What the chats show: every user message should have exactly one complete answer, the
    answers in the order of the messages, and the last request to the model should carry the
    whole conversation."""

    conversations: int = 0
    written: int = 0
    once: int = 0
    lost: dict[str, list[int]] = field(default_factory=dict)
    twice: dict[str, list[str]] = field(default_factory=dict)
    disordered: dict[str, list[int]] = field(default_factory=dict)
    history: dict[str, str] = field(default_factory=dict)
    partial: Counter[str] = field(default_factory=Counter)  # chats with a stray partial answer
    other: Counter[str] = field(default_factory=Counter)  # other bot messages, by shape

    def check(
        self,
        conversation: Conversation,
        shown: list[str],
        last_request: list[tuple[str, str]] | None,
    ) -> None:
        said = conversation.said
        self.conversations += 1
        self.written += len(said)
        order: list[int] = []
        counts: Counter[int] = Counter()
        for text in shown:
            number = next((n for n, t in enumerate(said) if is_answer(text, t)), None)
            if number is not None:
                counts[number] += 1
                order.append(number)
            elif text.startswith(ANSWER_PREFIX.strip()):
                self.partial[conversation.key] += 1
            else:
                self.other[shape(text)] += 1
        for number in range(len(said)):
            if counts[number] == 0:
                self.lost.setdefault(conversation.key, []).append(number)
            elif counts[number] > 1:
                self.twice.setdefault(conversation.key, []).append(f"q{number} x{counts[number]}")
            else:
                self.once += 1
        if order != sorted(order):
            self.disordered[conversation.key] = order
        problem = history_problem(said, last_request)
        if problem is not None:
            self.history[conversation.key] = problem

    @property
    def ok(self) -> bool:
        return self.ok_with_copies(0)

    def ok_with_copies(self, allowed: int) -> bool:
        """Nothing lost, in order, histories whole, and at most ``allowed`` second copies."""
        copies_ok = self.twice_count <= allowed
        return copies_ok and not (self.lost or self.disordered or self.history)

    @property
    def lost_count(self) -> int:
        return sum(len(numbers) for numbers in self.lost.values())

    @property
    def twice_count(self) -> int:
        return sum(len(numbers) for numbers in self.twice.values())

    def report(self, title: str, facts: Sequence[str] = ()) -> str:
        lines = [
            f"{title}: {self.conversations} chats, {self.written} user messages",
            *(f"  {fact}" for fact in facts),
            f"  answered exactly once: {self.once}",
            f"  lost (no complete answer): {self.lost_count} in {len(self.lost)} chats",
            f"  answered more than once: {self.twice_count} in {len(self.twice)} chats",
            f"  chats with answers out of order: {len(self.disordered)}",
            f"  chats whose last request to the model lacks part of the conversation: "
            f"{len(self.history)}",
            f"  stray partial answers left in chats: {sum(self.partial.values())} "
            f"in {len(self.partial)} chats",
            f"  other bot messages: {dict(self.other.most_common(5))}",
        ]
        if self.lost:
            lines.append("  lost, by chat (message numbers from 0):")
            lines += _by_chat(self.lost)
        if self.twice:
            lines.append("  answered more than once, by chat:")
            lines += _by_chat(self.twice)
        if self.disordered:
            lines.append("  out of order, by chat (the messages answered, in the order shown):")
            lines += _by_chat(self.disordered)
        if self.history:
            lines.append("  history, by chat:")
            lines += [f"    {key}: {problem}" for key, problem in sorted(self.history.items())]
        return "\n".join(lines)


def _by_chat(found: dict[str, list[Any]]) -> list[str]:
    items = [f"{key}: {', '.join(str(v) for v in values)}" for key, values in sorted(found.items())]
    return [f"    {'; '.join(items[i : i + 6])}" for i in range(0, len(items), 6)]


def history_problem(said: list[str], turns: list[tuple[str, str]] | None) -> str | None:
    """What is wrong with the last request of a conversation (None: it carries every earlier
    message and its answer, in order, and asks about the last message)."""
    if not said:
        return None
    if turns is None:
        return "the model was never asked"
    last = tag_of(turns[-1][1]) if turns else None
    asked = last[1] if last else -1
    if asked != len(said) - 1:
        return f"the last request was about q{asked}, not the last message q{len(said) - 1}"
    expected: list[tuple[str, int]] = []
    for number in range(asked):
        expected += [("user", number), ("assistant", number)]
    expected.append(("user", asked))
    actual = [_turn_name(role, text, said) for role, text in turns]
    if actual == [f"{role[0]}{number}" for role, number in expected]:
        return None
    return "turns " + " ".join(actual) + " (u = user, a = answer, ? = neither)"


def _turn_name(role: str, text: str, said: list[str]) -> str:
    for number, message in enumerate(said):
        if role == "user" and text.endswith(message):
            return f"u{number}"
        if role == "assistant" and is_answer(text, message):
            return f"a{number}"
    return f"{role[0]}?"


# --------------------------------------------------------------------------- the platforms


class TelegramUsers(Users):
    def __init__(
        self, tg: FakeTelegram, llm: PacedOpenRouter, conversations: Sequence[Conversation]
    ) -> None:
        super().__init__(llm, conversations)
        self.tg = tg

    async def send(self, conversation: Conversation, text: str) -> None:
        if conversation.shared:
            speaker: TelegramUser = conversation.speakers[
                (len(conversation.said) - 1) % len(conversation.speakers)
            ]
            await self.tg.user_says(conversation.place, speaker, f"@{self.tg.bot.username} {text}")
        else:
            await self.tg.user_says(conversation.place, None, text)

    def shown(self, conversation: Conversation) -> list[str]:
        return [m.text for m in self.tg.sent[conversation.place] if not m.deleted]

    def wait_for(self, predicate: Callable[[], Any], limit: float) -> Awaitable[Any]:
        return self.tg.wait_for(predicate, timeout=limit)

    def platform_activity(self) -> int:
        return len(self.tg.calls)

    def platform_facts(self) -> str:
        return f"Telegram's flood control refused {self.tg.flood.rejected} calls (429)"

    def moment(self) -> Moment:
        moment = super().moment()
        moment.pending_updates = self.tg.pending_updates
        return moment


def telegram_conversations(
    tg: FakeTelegram, private: int, groups: int, planned: int, burst_every: int
) -> list[Conversation]:
    """``private`` private chats (every ``burst_every``-th writes two at once) and ``groups``
    groups of two users each, where the bot is an admin and so sees its @mentions."""
    found = []
    for n in range(private):
        chat: Chat = tg.private_chat(7001 + n, f"User{n}")
        burst = burst_every > 0 and n % burst_every == 0
        found.append(Conversation(f"t{n:03d}", chat, [chat.user], False, planned, burst))
    for n in range(groups):
        group = tg.group(-1001000000001 - n, f"Group {n}", bot_is_admin=True)
        speakers = [tg.user(8001 + 2 * n, f"Ann{n}"), tg.user(8002 + 2 * n, f"Bob{n}")]
        found.append(Conversation(f"g{n:03d}", group, speakers, True, planned))
    return found


class DiscordUsers(Users):
    def __init__(
        self, dc: FakeDiscord, llm: PacedOpenRouter, conversations: Sequence[Conversation]
    ) -> None:
        super().__init__(llm, conversations)
        self.dc = dc

    async def send(self, conversation: Conversation, text: str) -> None:
        speaker: DiscordUser = conversation.speakers[
            (len(conversation.said) - 1) % len(conversation.speakers)
        ]
        channel: Channel = conversation.place
        await self.dc.user_says(channel, speaker, text, mentions_bot=conversation.shared)

    def shown(self, conversation: Conversation) -> list[str]:
        return [m.content for m in self.dc.sent[conversation.place.id] if not m.deleted]

    def wait_for(self, predicate: Callable[[], Any], limit: float) -> Awaitable[Any]:
        return self.dc.wait_for(predicate, timeout=limit)

    def platform_activity(self) -> int:
        return len(self.dc.calls)

    def platform_facts(self) -> str:
        limited = sum(call.status == 429 for call in self.dc.calls)
        return f"Discord's rate limits refused {limited} calls (429)"


def discord_conversations(
    dc: FakeDiscord, dms: int, guild_channels: int, planned: int, burst_every: int
) -> list[Conversation]:
    """``dms`` DMs (every ``burst_every``-th writes two at once) and ``guild_channels`` text
    channels in two guilds, two users each, where the bot is @mentioned."""
    found = []
    for n in range(dms):
        user = dc.user(f"dmuser{n}")
        burst = burst_every > 0 and n % burst_every == 0
        found.append(Conversation(f"d{n:03d}", dc.dm_channel(user), [user], False, planned, burst))
    guilds = [dc.guild("Guild A"), dc.guild("Guild B")]
    for n in range(guild_channels):
        channel = dc.text_channel(guilds[n % 2], f"room-{n}")
        speakers = [dc.user(f"ann{n}"), dc.user(f"bob{n}")]
        found.append(Conversation(f"s{n:03d}", channel, speakers, True, planned))
    return found


# --------------------------------------------------------------------------- outages
