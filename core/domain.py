"""Neutral value types shared by the core and every adapter. No I/O, no platform types."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal, TypeAlias

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = "dict[str, JsonValue]"

Role = Literal["system", "user", "assistant"]


class Language(StrEnum):
    EN = "en"
    ZH = "zh"

    @classmethod
    def from_code(cls, code: str | None) -> Language | None:
        """Map a platform language code ("zh-hans", "zh_CN", "en-US") to a bot language."""
        if not code:
            return None
        head = code.strip().lower().replace("_", "-").split("-", 1)[0]
        for lang in cls:
            if lang.value == head:
                return lang
        return None


@dataclass(frozen=True, slots=True)
class ChatRef:
    """Identifies one conversation place on one platform (a DM, a group, a topic/thread)."""

    platform: str
    chat_id: str
    thread_id: str = ""

    def __str__(self) -> str:
        suffix = f"/{self.thread_id}" if self.thread_id else ""
        return f"{self.platform}:{self.chat_id}{suffix}"


@dataclass(frozen=True, slots=True)
class ChatCursor:
    """How far the bot has read a chat: the platform id of its newest stored user message
    (None when there is none), for catching up on what was said while the bot was away."""

    ref: ChatRef
    last_message_id: str | None


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote a message. ``is_admin``: listed in ADMIN_USERS (decided by the adapter, which
    knows the platform's identities); admins are exempt from per-user limits and budgets and
    see the key's credit in shared chats."""

    id: str
    name: str
    language_code: str | None = None
    is_admin: bool = False


@dataclass(frozen=True, slots=True)
class ImageInput:
    """A picture the user sent (already downloaded by the adapter), e.g. a photo."""

    data: bytes
    mime_type: str  # "image/jpeg", "image/png", ...

    def data_url(self) -> str:
        """The image as a ``data:`` URL, the way OpenRouter takes inline images."""
        encoded = base64.b64encode(self.data).decode("ascii")
        return f"data:{self.mime_type or 'image/jpeg'};base64,{encoded}"


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One message from a user, as an adapter hands it to the core.

    ``message_id`` is the platform's own id: a second delivery with the same id is answered once.
    ``shared`` marks a chat with several people (groups, server channels): user turns are then
    prefixed with the speaker's name so the model knows who said what. ``images`` are pictures
    sent with the message (``text`` is then the caption and may be empty); they go to the model
    with this message only and are never stored.
    """

    chat: ChatRef
    author: Author
    text: str
    message_id: str
    shared: bool = False
    images: tuple[ImageInput, ...] = ()


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """Per-chat settings; ``None`` means "use the deployment default"."""

    model: str | None = None
    system_prompt: str | None = None
    show_reasoning: bool = False
    language: Language | None = None


@dataclass(frozen=True, slots=True)
class ChatState:
    """A chat row as the service needs it."""

    id: int
    ref: ChatRef
    settings: ChatSettings
    conversation_id: int


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    total_tokens: int = 0
    cost: Decimal | None = None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    conversation_id: int
    role: Role
    author_name: str | None
    content: str
    reasoning: str | None
    reasoning_details: list[JsonValue] | None
    model: str | None
    token_estimate: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewUserMessage:
    chat_id: int
    conversation_id: int
    author_id: str
    author_name: str
    content: str
    platform_message_id: str
    token_estimate: int
    in_context: bool = True
    is_command: bool = False


@dataclass(frozen=True, slots=True)
class NewAssistantMessage:
    chat_id: int
    conversation_id: int
    content: str
    reasoning: str | None
    reasoning_details: list[JsonValue] | None
    model: str
    token_estimate: int
    reply_to_message_id: int | None = None


class RequestStatus(StrEnum):
    OK = "ok"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One row per LLM request (successful or not)."""

    chat_id: int
    user_id: str | None  # "platform:id" (see core.answer.user_key)
    model_requested: str
    model_served: str | None
    provider: str | None
    generation_id: str | None
    usage: Usage
    latency_ms: int
    ttft_ms: int | None
    fallback_used: bool
    status: RequestStatus
    error_kind: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ModelTotals:
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    total_tokens: int
    cost: Decimal


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """Requests, tokens and cost of a user or a chat over a period (e.g. today)."""

    requests: int = 0
    tokens: int = 0
    cost: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class UsageSummary:
    requests: int
    failed_requests: int
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    total_tokens: int
    cost: Decimal
    by_model: tuple[ModelTotals, ...] = ()


# ---------------------------------------------------------------- LLM-facing types


@dataclass(frozen=True, slots=True)
class ReasoningConfig:
    enabled: bool = True
    effort: str | None = None  # "max".."minimal"; None = provider default (medium)
    exclude: bool = False


@dataclass(frozen=True, slots=True)
class PromptTurn:
    """One message of the prompt sent to the model. ``images`` (``data:`` URLs) are sent with
    the text as content parts; only the current user turn carries them."""

    role: Role
    content: str
    reasoning_details: list[JsonValue] | None = None
    images: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReasoningSupport:
    """What a model accepts for ``reasoning`` (``GET /models``): ``mandatory`` models reject
    switching it off; ``efforts`` lists the efforts it takes (empty: any)."""

    mandatory: bool = False
    efforts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LLMRequest:
    models: tuple[str, ...]  # the chain; first is the chat's model
    messages: tuple[PromptTurn, ...]
    reasoning: ReasoningConfig = field(default_factory=ReasoningConfig)
    max_tokens: int | None = None
    user: str | None = None  # stable, non-identifying id for OpenRouter abuse tracking
    estimated_prompt_tokens: int = 0  # for the client-side tokens-per-minute limiter
    # What each model of the chain accepts for reasoning, where known (see ReasoningSupport).
    reasoning_support: tuple[tuple[str, ReasoningSupport], ...] = ()

    def support_for(self, model: str) -> ReasoningSupport:
        return next((s for m, s in self.reasoning_support if m == model), ReasoningSupport())


@dataclass(frozen=True, slots=True)
class ContentDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Restarted:
    """The model failed after part of the answer was streamed; ``model`` answers from scratch.

    Whatever content was shown so far must be discarded.
    """

    failed_model: str
    model: str
    error_kind: str


@dataclass(frozen=True, slots=True)
class Queued:
    """The client-side rate limiter holds the request for about ``wait_seconds``."""

    wait_seconds: float


@dataclass(frozen=True, slots=True)
class Completion:
    """The last event of a successful stream."""

    content: str
    reasoning: str | None
    reasoning_details: list[JsonValue] | None
    model_requested: str
    model_served: str
    provider: str | None
    generation_id: str | None
    finish_reason: str | None
    usage: Usage
    fallback_used: bool
    latency_ms: int
    ttft_ms: int | None


LLMEvent: TypeAlias = ContentDelta | ReasoningDelta | Restarted | Queued | Completion


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    name: str
    context_length: int
    max_completion_tokens: int | None = None
    prompt_price: Decimal | None = None  # USD per token
    completion_price: Decimal | None = None
    supports_reasoning: bool = False
    input_modalities: tuple[str, ...] = ("text",)
    reasoning: ReasoningSupport = field(default_factory=ReasoningSupport)

    @property
    def is_free(self) -> bool:
        return self.id.endswith(":free") or (self.prompt_price == 0 and self.completion_price == 0)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    label: str | None
    limit: Decimal | None  # USD, None = unlimited
    limit_remaining: Decimal | None
    usage: Decimal | None
    usage_daily: Decimal | None
    is_free_tier: bool
    free_daily_limit: int | None
    free_daily_remaining: int | None


class InboxState(StrEnum):
    """Where a received message is: stored, being answered, answer written, answer delivered."""

    RECEIVED = "received"
    ANSWERING = "answering"
    ANSWERED = "answered"
    DELIVERED = "delivered"


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message as an adapter hands it to the inbox on receipt: the chat it belongs to, the
    platform's own id for it (a second receipt of the same id is ignored), and the adapter's
    ``payload``: everything it needs to handle the message later, in another process too.
    ``position`` orders the chat's messages as the platform does (a Telegram message id, a
    Discord snowflake): one read back late (a catch-up) still goes before newer ones."""

    chat: ChatRef
    message_id: str
    payload: JsonObject
    position: int = 0


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A stored, unfinished message claimed for handling. ``attempts`` counts the claims
    (more than one: handling was interrupted before and is taken up again); ``reply`` is the
    final answer once written; ``posted`` the platform ids of the messages created for it."""

    id: int
    chat: ChatRef
    message_id: str
    payload: JsonObject
    position: int
    state: InboxState
    reply: JsonObject | None
    posted: tuple[str, ...]
    attempts: int
    received_at: datetime
