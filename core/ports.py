"""The seams of the core, as Protocols. Adapters implement ReplySink; the app wires the rest."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.domain import (
    ChatCursor,
    ChatRef,
    ChatSettings,
    ChatState,
    KeyInfo,
    LLMEvent,
    LLMRequest,
    ModelInfo,
    NewAssistantMessage,
    NewUserMessage,
    StoredMessage,
    UsageRecord,
    UsageSummary,
    UsageTotals,
)


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC wall-clock time."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, for intervals."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class LLMClient(Protocol):
    def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        """Yield deltas and notices, ending with exactly one ``Completion``.

        Falls back across ``request.models`` on retryable failures; raises ``LLMError`` when
        every model failed.
        """
        ...

    async def list_models(self) -> Sequence[ModelInfo]: ...

    async def key_info(self) -> KeyInfo | None:
        """The key's credit and free-tier quota (read at most about once a minute), or None
        when the endpoint does not answer."""
        ...


class ModelDirectory(Protocol):
    """OpenRouter's model list, cached (see core.llm.catalog.ModelCatalog)."""

    async def find(self, model_id: str) -> ModelInfo | None:
        """The model, or None when OpenRouter has no such id. Raises LLMError when the list
        has never been loaded and cannot be fetched."""
        ...

    async def close_matches(self, model_id: str, n: int = 5) -> list[str]: ...

    async def context_length(self, model_id: str) -> int | None: ...


class ChatStore(Protocol):
    """Persistence of chats, conversations, messages and usage."""

    async def load_chat(self, ref: ChatRef) -> ChatState:
        """Return the chat, creating it (with an empty conversation) on first contact."""
        ...

    async def save_settings(self, chat_id: int, settings: ChatSettings) -> None: ...

    async def start_conversation(self, chat_id: int) -> int:
        """Open a new conversation and make it the chat's active one; the old one is kept."""
        ...

    async def add_user_message(self, message: NewUserMessage) -> int | None:
        """Store a user message; return its id, or None when that platform message id was
        already stored for this chat (a duplicate delivery)."""
        ...

    async def save_answer(self, message: NewAssistantMessage, usage: UsageRecord) -> int:
        """Store an answer and its usage row in one transaction; return the message id."""
        ...

    async def recent_messages(
        self, conversation_id: int, *, limit: int, before_id: int | None = None
    ) -> list[StoredMessage]:
        """The newest in-context messages, newest first (an index range scan, never the whole
        history). ``before_id`` pages further back."""
        ...

    async def last_assistant_message(self, conversation_id: int) -> StoredMessage | None: ...

    async def set_platform_reply_ids(self, message_id: int, platform_ids: Sequence[str]) -> None:
        """Remember which platform messages carry an assistant message (for replies/edits)."""
        ...

    async def record_usage(self, record: UsageRecord) -> None:
        """Store the usage row of a request that produced no answer (a failure)."""
        ...

    async def last_usage(self, chat_id: int) -> UsageRecord | None: ...

    async def usage_summary(self, chat_id: int) -> UsageSummary: ...

    async def chat_cursors(self, platform: str) -> list[ChatCursor]:
        """Every chat of ``platform`` with its newest stored user message's platform id, the
        most recently active first."""
        ...

    async def user_message_times(
        self, platform: str, author_id: str, since: datetime, *, limit: int
    ) -> list[datetime]:
        """When the user's messages that went to the model (not commands, not refused) were
        stored since ``since``, oldest first, at most ``limit``."""
        ...

    async def user_usage_since(self, platform: str, user_id: str, since: datetime) -> UsageTotals:
        """The requests, tokens and cost of one user's requests since ``since``."""
        ...

    async def chat_usage_since(self, chat_id: int, since: datetime) -> UsageTotals: ...


class ChatSerializer(Protocol):
    """Runs the work of one chat one message at a time, in arrival order.

    In one process a lock per chat does it; several replicas can use a database lock instead.
    """

    def hold(self, chat: ChatRef) -> AbstractAsyncContextManager[None]: ...


@dataclass(frozen=True, slots=True)
class SinkLimits:
    """What an adapter's platform allows; the core throttles and splits accordingly."""

    max_message_chars: int = 4096
    min_draft_interval: float = 1.0  # seconds between intermediate updates
    typing_interval: float = 4.0  # how often "typing" must be re-sent to stay visible
    typing_delay: float = 0.0  # no "typing" for answers that appear sooner than this
    first_draft_delay: float = 0.0  # no drafts for answers complete sooner than this
    streams: bool = True  # False: only the final reply is delivered


@dataclass(frozen=True, slots=True)
class Reply:
    """A finished reply in Markdown. Adapters render and split it for their platform.

    ``reasoning`` is shown collapsed where the platform can, under ``reasoning_label`` (already
    in the user's language); ``notice`` is a short line shown with the answer (for example "the
    answer was restarted with model X").
    """

    text: str
    reasoning: str | None = None
    notice: str | None = None
    is_error: bool = False
    reasoning_label: str = "Reasoning"
    card: bool = False  # a summary (like /stats) a platform may show as a card (an embed)


class FloodWait(Exception):
    """Raised by a sink when the platform asked to slow down; intermediate drafts pause."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


class ReplySink(Protocol):
    """Where the answer to one incoming message goes. Implemented by each adapter."""

    @property
    def limits(self) -> SinkLimits: ...

    async def show_typing(self) -> None:
        """Show that the bot is working (called again every few seconds while waiting)."""
        ...

    async def show_draft(self, text: str) -> None:
        """Show the answer so far (Markdown, may be cut mid-sentence). May raise FloodWait."""
        ...

    async def deliver(self, reply: Reply) -> Sequence[str]:
        """Send the final reply, complete; return the platform ids of the messages sent."""
        ...
