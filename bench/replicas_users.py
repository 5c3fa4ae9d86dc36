"""The users of ``bench.replicas`` and what they see: the fake Telegram timing each answer, the
conversations, and the verdict (every message answered exactly once, in order).

Each message ends in a tag (``... m2c1000017end``), and the fake OpenRouter answers "Echo: <the
last user text>", so a bot message is the complete answer to a message exactly when it starts
with "Echo: " and ends with that message's text; a placeholder waiting for its edit never does.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.telegram import Chat, FakeTelegram
from tests.fakes.telegram.model import PLACEHOLDER_END
from tests.fakes.telegram.server import Params

ANSWER_PREFIX = "Echo: "
Json = dict[str, Any]
Mark = Callable[[float, int], None]  # (arrival time, answers so far) at a chosen count


def message_text(chat_id: int, number: int) -> str:
    return f"question {number} from chat {chat_id}, answer me please m{number}c{chat_id}end"


def is_answer(shown: str, said: str) -> bool:
    return shown.startswith(ANSWER_PREFIX) and shown.endswith(said)


class ReplicaTelegram(FakeTelegram):
    """The fake Bot API, noting on this process's monotonic clock when the complete answer to
    each awaited message arrives (a sendMessage, or the edit filling in a placeholder), and
    calling ``marks`` when the count of awaited answers reaches theirs."""

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        self._awaited: dict[int, tuple[str, asyncio.Future[float]]] = {}
        self.answered = 0
        self.marks: dict[int, Mark] = {}

    def expect(self, chat_id: int, said: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._awaited[chat_id] = (said, future)
        return future

    def track(self, marks: dict[int, Mark]) -> None:
        """Count answers from zero; call ``marks[n]`` when the n-th arrives."""
        self.answered = 0
        self.marks = marks

    async def send_message(self, p: Params) -> Json:
        arrived = time.monotonic()
        message = await super().send_message(p)  # a 429 or 400 raises: nothing shown
        self._arrived(arrived, message)
        return message

    async def edit_message_text(self, p: Params) -> Json:
        arrived = time.monotonic()
        message = await super().edit_message_text(p)
        self._arrived(arrived, message)
        return message

    def _arrived(self, at: float, message: Json) -> None:
        text = str(message.get("text", ""))
        if text.endswith(PLACEHOLDER_END):
            return
        chat_id = int(message["chat"]["id"])
        awaited = self._awaited.get(chat_id)
        if awaited is None or not is_answer(text, awaited[0]):
            return
        del self._awaited[chat_id]
        if not awaited[1].done():
            awaited[1].set_result(at)
        self.answered += 1
        mark = self.marks.get(self.answered)
        if mark is not None:
            mark(at, self.answered)

    def api_calls(self) -> Counter[str]:
        return Counter(call.method for call in self.calls)

    def refused_calls(self) -> Counter[str]:
        return Counter(
            f"{c.method} {c.status}" + (f" {(c.description or '')[:50]}" if c.status != 429 else "")
            for c in self.calls
            if not c.ok
        )


@dataclass(frozen=True)
class Pace:
    """How users talk: ``messages`` each, the first within ``ramp`` seconds of the start, the
    next one a random 0.5-1.5 x ``think`` seconds after the previous answer; ``timeout``: how
    long a user waits for an answer before giving up on the conversation."""

    messages: int
    think: float
    ramp: float
    timeout: float


@dataclass
class Conversation:
    chat: Chat
    said: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds, message queued -> answer
    gave_up: int | None = None  # the message no answer came to within the timeout


async def converse(
    tg: ReplicaTelegram, conversation: Conversation, pace: Pace, rng: random.Random
) -> None:
    """One user: write, wait for the complete answer, think, write the next."""
    start, thinks = rng.uniform(0, pace.ramp), [rng.uniform(0.5, 1.5) for _ in range(pace.messages)]
    await asyncio.sleep(start)
    chat = conversation.chat
    for number in range(pace.messages):
        said = message_text(chat.id, number)
        answered = tg.expect(chat.id, said)
        conversation.said.append(said)
        sent = time.monotonic()
        await tg.user_says(chat, None, said)
        try:
            arrived = await asyncio.wait_for(answered, pace.timeout)
        except TimeoutError:
            conversation.gave_up = number
            return
        conversation.latencies.append(arrived - sent)
        if number + 1 < pace.messages:
            await asyncio.sleep(thinks[number] * pace.think)


async def quiet(tg: FakeTelegram, seconds: float, limit: float) -> None:
    """Until the bot made no Bot API call for ``seconds`` (at most ``limit``): late copies of
    answers would come now."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while loop.time() < deadline:
        before = len(tg.calls)
        await asyncio.sleep(seconds)
        if len(tg.calls) == before:
            return


@dataclass
class Verdict:
    """What the chats show, message by message."""

    messages: int = 0
    once: int = 0
    lost: list[str] = field(default_factory=list)  # "chat:message" with no complete answer
    twice: list[str] = field(default_factory=list)  # "chat:message xN"
    disordered: list[int] = field(default_factory=list)  # chats whose answers are out of order
    placeholders: int = 0  # placeholders never filled in
    other: Counter[str] = field(default_factory=Counter)  # other bot messages, by start

    @property
    def ok(self) -> bool:
        return not (self.lost or self.twice or self.disordered or self.placeholders)

    def check(self, tg: FakeTelegram, conversation: Conversation) -> None:
        chat_id = conversation.chat.id
        shown = [m for m in tg.sent[chat_id] if not m.deleted]
        counts: Counter[int] = Counter()
        order = []
        for message in shown:
            if message.placeholder:
                self.placeholders += 1
                continue
            number = next(
                (n for n, said in enumerate(conversation.said) if is_answer(message.text, said)),
                None,
            )
            if number is None:
                self.other[message.text[:60]] += 1
            else:
                counts[number] += 1
                order.append(number)
        for number in range(len(conversation.said)):
            self.messages += 1
            if counts[number] == 0:
                self.lost.append(f"{chat_id}:{number}")
            elif counts[number] > 1:
                self.twice.append(f"{chat_id}:{number} x{counts[number]}")
            else:
                self.once += 1
        if order != sorted(order):
            self.disordered.append(chat_id)

    def describe(self) -> list[str]:
        lines = [
            f"answered exactly once: {self.once} of {self.messages} messages written",
            f"lost (no complete answer): {len(self.lost)}"
            + (f", e.g. {', '.join(self.lost[:6])}" if self.lost else ""),
            f"answered more than once: {len(self.twice)}"
            + (f", e.g. {', '.join(self.twice[:6])}" if self.twice else ""),
            f"chats with answers out of order: {len(self.disordered)}"
            + (f", e.g. {self.disordered[:6]}" if self.disordered else ""),
            f"placeholders never filled in: {self.placeholders}",
        ]
        if self.other:
            lines.append(f"other bot messages: {dict(self.other.most_common(4))}")
        return lines
