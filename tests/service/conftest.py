"""The whole core, wired as in production, against a fake OpenRouter and a SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from core.app import Core, build_core
from core.domain import Author, ChatRef, IncomingMessage
from core.settings import Settings
from tests.fakes.openrouter import FakeOpenRouter
from tests.support.clock import ScaledClock
from tests.support.sinks import RecordingSink

API_KEY = "sk-or-v1-test"
CoreFactory = Callable[..., AbstractAsyncContextManager[Core]]


@pytest.fixture
def clock() -> ScaledClock:
    return ScaledClock(speed=100)


@pytest.fixture
async def fake(clock: ScaledClock) -> AsyncIterator[FakeOpenRouter]:
    """Its free-model minute window runs on the sped-up clock, like the bot's limits."""
    async with FakeOpenRouter(api_key=API_KEY, clock=clock.monotonic) as server:
        yield server


@pytest.fixture
def settings_for(fake: FakeOpenRouter, tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "openrouter_api_key": API_KEY,
            "openrouter_base_url": fake.base_url,
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
            "openrouter_first_token_timeout": 5.0,
            "openrouter_idle_timeout": 5.0,
            "openrouter_total_timeout": 30.0,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
def core_for(settings_for: Callable[..., Settings], clock: ScaledClock) -> CoreFactory:
    def make(**overrides: object) -> AbstractAsyncContextManager[Core]:
        return build_core(settings_for(**overrides), clock=clock)

    return make


@pytest.fixture
async def core(core_for: CoreFactory) -> AsyncIterator[Core]:
    async with core_for() as built:
        yield built


class Conversation:
    """Sends messages as one person in one chat and keeps every sink for inspection."""

    def __init__(self, core: Core, chat: ChatRef, author: Author, *, shared: bool = False) -> None:
        self.core = core
        self.chat = chat
        self.author = author
        self.shared = shared
        self.sinks: list[RecordingSink] = []
        self._ids = 0

    def message(self, text: str, message_id: str | None = None) -> IncomingMessage:
        self._ids += 1
        return IncomingMessage(
            chat=self.chat,
            author=self.author,
            text=text,
            message_id=message_id or f"{self.author.id}-m{self._ids}",
            shared=self.shared,
        )

    async def send(self, text: str, message_id: str | None = None) -> RecordingSink:
        sink = RecordingSink()
        self.sinks.append(sink)
        await self.core.service.handle(self.message(text, message_id), sink)
        return sink

    async def say(self, text: str) -> str:
        """Send and return the text of the one reply."""
        sink = await self.send(text)
        assert len(sink.replies) == 1, sink.replies
        return sink.last.text


@pytest.fixture
def talk(core: Core) -> Conversation:
    return Conversation(core, ChatRef("test", "chat-1"), Author("u1", "Ann", "en"))
