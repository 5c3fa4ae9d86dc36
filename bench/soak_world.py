"""The soak benchmark's users and what the bot left them (``bench.soak``).

A conversation is one Telegram private chat, Discord DM or Discord guild channel (where the user
@mentions the bot). Each user message is unique in its conversation ("soak tg3 n7 ok"); the fake
OpenRouter answers "Echo: <the last user turn>" (in a guild the core writes that turn as
"<name>: <text>"), so a bot message answers a user message completely when one of its lines
(final text, after every edit) starts with "Echo: " and ends with that message's text. Messages
are read from what the fakes recorded: FakeTelegram's ``sent`` (SentMessage.text is the latest
version) and FakeDiscord's ``sent`` (Message.content, likewise); deleted ones do not count.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tests.fakes.discord import Channel, FakeDiscord, User
from tests.fakes.telegram import Chat, FakeTelegram

ANSWER_PREFIX = "Echo: "
WRITING_MARKER = "▌"  # the end of a Discord draft still being written
POLL_SECONDS = 0.25  # how often a waiting user looks for the answer
TELEGRAM_BASE_ID = 5_000_000


@dataclass(frozen=True)
class Posted:
    """A bot message as it stands: its position (message id, larger = later) and final text."""

    position: int
    text: str


class Conversation(Protocol):
    label: str
    platform: str

    async def say(self, text: str) -> None: ...

    def posted(self) -> list[Posted]: ...


@dataclass
class TelegramChat:
    tg: FakeTelegram
    chat: Chat
    label: str
    platform: str = "Telegram"

    async def say(self, text: str) -> None:
        await self.tg.user_says(self.chat, None, text)

    def posted(self) -> list[Posted]:
        return [
            Posted(m.message_id, m.text)
            for m in self.tg.sent[self.chat.id]
            if not m.deleted and m.kind == "text"
        ]


@dataclass
class DiscordChannel:
    dc: FakeDiscord
    channel: Channel
    user: User
    label: str
    mention: bool  # a guild channel: the user @mentions the bot
    platform: str = "Discord"

    async def say(self, text: str) -> None:
        await self.dc.user_says(self.channel, self.user, text, mentions_bot=self.mention)

    def posted(self) -> list[Posted]:
        return [Posted(m.id, m.content) for m in self.dc.sent[self.channel.id] if not m.deleted]


@dataclass
class World:
    conversations: list[Conversation]
    warmup: list[Conversation]


def build_world(tg: FakeTelegram, dc: FakeDiscord, chats: int, channels: int) -> World:
    """The users' conversations (and a few for the warm-up), made before the bot connects:
    guild channels reach it in GUILD_CREATE. Discord alternates guild channels and DMs."""
    guild = dc.guild("Soak Guild")

    def telegram(label: str, number: int) -> Conversation:
        chat = tg.private_chat(TELEGRAM_BASE_ID + number, f"Soak{number}", f"soak{number}")
        return TelegramChat(tg, chat, label)

    def discord(label: str, in_guild: bool) -> Conversation:
        user = dc.user(f"soak-{label}")
        channel = dc.text_channel(guild, f"soak-{label}") if in_guild else dc.dm_channel(user)
        return DiscordChannel(dc, channel, user, label, mention=in_guild)

    conversations = [telegram(f"tg{i}", i) for i in range(chats)]
    conversations += [
        discord(f"ch{i}" if i % 2 == 0 else f"dm{i}", i % 2 == 0) for i in range(channels)
    ]
    warmup = [telegram(f"warmtg{i}", chats + i) for i in range(2)]
    warmup += [discord("warmch", True), discord("warmdm", False)]
    return World(conversations, warmup)


# --------------------------------------------------------------------------- users


@dataclass(frozen=True)
class Said:
    """A message a user sent: where, its number there, and when (monotonic seconds)."""

    conversation: str
    platform: str
    number: int
    at: float

    @property
    def text(self) -> str:
        return f"soak {self.conversation} n{self.number} ok"


@dataclass(frozen=True)
class Pace:
    think: tuple[float, float]  # seconds between an answer (or a timeout) and the next message
    timeout: float  # seconds a user waits for an answer before writing again


def answered_texts(text: str) -> list[str]:
    """The user texts a bot message's final ``text`` answers completely: each of its lines
    that starts with "Echo: " and ends with a whole user text ("soak ... ok")."""
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        start = line.rfind("soak ")
        if line.startswith(ANSWER_PREFIX) and line.endswith(" ok") and start >= 0:
            found.append(line[start:])
    return found


def is_answered(conversation: Conversation, text: str) -> bool:
    return any(text in answered_texts(p.text) for p in conversation.posted())


async def wait_answer(conversation: Conversation, text: str, timeout: float) -> bool:  # noqa: ASYNC109
    """Wait up to ``timeout`` seconds for a complete answer to ``text``."""
    deadline = time.monotonic() + timeout
    while not is_answered(conversation, text):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_SECONDS)
    return True


async def talk(
    conversation: Conversation,
    rng: random.Random,
    pace: Pace,
    deadline: float,
    log: list[Said],
) -> None:
    """One user: write, wait for the answer (or the timeout), think, write again, until
    ``deadline``. Starts at a random moment within the first think time."""
    await asyncio.sleep(rng.uniform(0, pace.think[1]))
    number = 0
    while (left := deadline - time.monotonic()) > 0:
        number += 1
        said = Said(conversation.label, conversation.platform, number, time.monotonic())
        log.append(said)
        await conversation.say(said.text)
        await wait_answer(conversation, said.text, min(pace.timeout, left))
        await asyncio.sleep(min(rng.uniform(*pace.think), max(deadline - time.monotonic(), 0)))


# --------------------------------------------------------------------------- the tally


@dataclass
class Tally:
    """Per user message: answered (at least one complete answer), lost (none), twice (more
    than one); out of order (an answer placed before the answer to an earlier message of the
    same conversation); bot messages that answer nothing: partial (a cut or unfinished answer)
    or notices (anything else, e.g. an error message)."""

    said: int = 0
    answered: int = 0
    lost: list[Said] = field(default_factory=list)
    twice: list[Said] = field(default_factory=list)
    out_of_order: int = 0
    partial: list[str] = field(default_factory=list)  # their final texts
    notices: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.said += other.said
        self.answered += other.answered
        self.lost += other.lost
        self.twice += other.twice
        self.out_of_order += other.out_of_order
        self.partial += other.partial
        self.notices += other.notices


def is_partial(text: str) -> bool:
    return (
        ANSWER_PREFIX.strip() in text or "soak " in text or text.rstrip().endswith(WRITING_MARKER)
    )


def count_out_of_order(positions: Sequence[int]) -> int:
    """Answers (in the order of the messages they answer) placed before an earlier one's."""
    late, highest = 0, -1
    for position in positions:
        if position < highest:
            late += 1
        highest = max(highest, position)
    return late


def tally_conversation(said: Sequence[Said], posted: Sequence[Posted]) -> Tally:
    wanted = {s.text for s in said}
    answers: defaultdict[str, list[int]] = defaultdict(list)
    tally = Tally(said=len(said))
    for message in posted:
        hits = [text for text in answered_texts(message.text) if text in wanted]
        for text in hits:
            answers[text].append(message.position)
        if not hits and is_partial(message.text):
            tally.partial.append(message.text)
        elif not hits:
            tally.notices.append(message.text)
    for s in said:
        found = answers.get(s.text, [])
        tally.answered += bool(found)
        if not found:
            tally.lost.append(s)
        elif len(found) > 1:
            tally.twice.append(s)
    ordered = [
        min(answers[s.text]) for s in sorted(said, key=lambda s: s.number) if s.text in answers
    ]
    tally.out_of_order = count_out_of_order(ordered)
    return tally


def tally_all(conversations: Sequence[Conversation], said: Sequence[Said]) -> dict[str, Tally]:
    """The tally per platform ("Telegram", "Discord") and in all ("all")."""
    by_conversation: defaultdict[str, list[Said]] = defaultdict(list)
    for s in said:
        by_conversation[s.conversation].append(s)
    tallies: defaultdict[str, Tally] = defaultdict(Tally)
    for conversation in conversations:
        one = tally_conversation(by_conversation[conversation.label], conversation.posted())
        tallies[conversation.platform].add(one)
        tallies["all"].add(one)
    return dict(tallies)
