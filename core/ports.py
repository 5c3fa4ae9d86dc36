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
    Envelope,
    InboxEntry,
    JsonObject,
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

    async def user_message_id(self, chat_id: int, platform_message_id: str) -> int | None:
        """The stored user message with that platform id, if any."""
        ...

    async def answer_to(self, message_id: int) -> StoredMessage | None:
        """The answer stored for a user message, if any."""
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


class LeaseStore(Protocol):
    """Named leases (see core.leases): work that one process does at a time."""

    async def lease_take(self, name: str, owner: str, seconds: float) -> bool:
        """Take or renew ``name`` for ``seconds`` when it is free, lapsed or ``owner``'s;
        True when ``owner`` holds it now."""
        ...

    async def lease_release(self, name: str, owner: str) -> None:
        """Give ``name`` up if ``owner`` holds it."""
        ...


class InboxStore(Protocol):
    """The inbox's rows (see core.inbox): per-chat order, leases, and what an answer posted."""

    @property
    def single_process(self) -> bool:
        """Only one process can use this database (SQLite): leases left by a process that died
        may be taken over at once on start."""
        ...

    async def inbox_add(self, envelope: Envelope) -> bool:
        """Store a received message; False when that message id was already stored."""
        ...

    async def inbox_add_claimed(
        self, envelope: Envelope, owner: str, lease_seconds: float
    ) -> tuple[bool, InboxEntry | None]:
        """``inbox_add``, claiming the message at once when its chat has nothing else
        unfinished (single process only)."""
        ...

    async def inbox_claim(
        self, chat: ChatRef, owner: str, lease_seconds: float
    ) -> InboxEntry | None:
        """Lease the chat's next unfinished message (by position, then arrival) to ``owner``;
        None when there is none or another owner holds it."""
        ...

    async def inbox_pending_chats(self, platforms: Sequence[str], limit: int) -> list[ChatRef]:
        """Chats with unfinished messages, the longest waiting first."""
        ...

    async def inbox_following(self, entry: InboxEntry, limit: int) -> list[InboxEntry]:
        """The chat's unfinished messages after ``entry``'s position, in order."""
        ...

    async def inbox_answered(
        self, entry_id: int, reply: JsonObject, owner: str | None = None
    ) -> bool:
        """Keep the final reply; with ``owner``, only while ``owner`` holds the message's
        lease. False when it does not (another process took the message over)."""
        ...

    async def inbox_posted(
        self, entry_id: int, posted: Sequence[str], owner: str | None = None
    ) -> bool:
        """Keep the platform messages posted so far; ``owner`` as for ``inbox_answered``."""
        ...

    async def inbox_finish(
        self, entry_ids: Sequence[int], posted: Sequence[str] | None = None
    ) -> None:
        """Mark messages delivered (the first one's ``posted`` ids written with it)."""
        ...

    async def inbox_renew(self, owner: str, lease_seconds: float) -> None: ...

    async def inbox_release(self, owner: str | None) -> None: ...

    async def inbox_unfinished(self) -> int: ...

    async def inbox_purge(self, before: datetime) -> int: ...


class Posts(Protocol):
    """The platform messages created for one answer so far, kept across restarts: a sink that
    is given some edits them instead of sending again, and records each one it creates."""

    @property
    def key(self) -> str:
        """Names the answer uniquely and stably (across restarts), e.g. for a nonce."""
        ...

    @property
    def ids(self) -> Sequence[str]: ...

    async def add(self, platform_id: str, *, durable: bool = True) -> None:
        """Record a message created for the answer: at once, or (``durable=False``, for the
        answer's last message) together with the message's completion, one write less."""
        ...


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
    transient: bool = False  # a notice on the way (queued...), not the message's answer
    kept: bool = False  # stored already as the conversation's answer (found there on a restart)


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


class SinkWrapper:
    """A ReplySink around another one: everything passes through; a subclass adds to
    ``deliver``."""

    def __init__(self, sink: ReplySink) -> None:
        self._sink = sink

    @property
    def limits(self) -> SinkLimits:
        return self._sink.limits

    async def show_typing(self) -> None:
        await self._sink.show_typing()

    async def show_draft(self, text: str) -> None:
        await self._sink.show_draft(text)

    async def deliver(self, reply: Reply) -> Sequence[str]:
        return await self._sink.deliver(reply)
