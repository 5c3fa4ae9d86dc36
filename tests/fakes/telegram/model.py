"""Users, chats and the records a test inspects (sent messages, drafts, actions, calls)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

Json = dict[str, Any]
T = TypeVar("T")


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code": code, "description": ..., "parameters"?}``."""

    def __init__(self, code: int, description: str, parameters: Json | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> Json:
        body: Json = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body

    @classmethod
    def bad_request(cls, description: str) -> ApiError:
        return cls(400, f"Bad Request: {description}")

    @classmethod
    def flood(cls, retry_after: int) -> ApiError:
        return cls(
            429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
        )


@dataclass(frozen=True)
class User:
    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False
    is_premium: bool = False

    def to_json(self) -> Json:
        data: Json = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        if self.is_premium:
            data["is_premium"] = True
        return data


@dataclass
class Chat:
    """A chat the fake knows. Private chats have ``user``; groups have a negative ``id``."""

    id: int
    type: str  # "private" | "group" | "supergroup"
    title: str | None = None
    user: User | None = None
    username: str | None = None
    is_forum: bool = False
    bot_is_admin: bool = False
    blocked: bool = False  # a private chat whose user blocked the bot
    next_message_id: int = 1
    _json: Json | None = field(default=None, repr=False)

    def to_json(self) -> Json:
        if self._json is None:
            data: Json = {"id": self.id, "type": self.type}
            if self.user is not None:
                data["first_name"] = self.user.first_name
                if self.user.last_name:
                    data["last_name"] = self.user.last_name
                if self.user.username:
                    data["username"] = self.user.username
            else:
                data["title"] = self.title or ""
                if self.username:
                    data["username"] = self.username
                if self.is_forum:
                    data["is_forum"] = True
            self._json = data
        return self._json

    def forget_json(self) -> None:
        self._json = None

    @property
    def is_private(self) -> bool:
        return self.type == "private"

    def new_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass
class Version:
    """One state of a bot message's text: what was sent (``raw``) and what Telegram made of it."""

    text: str
    entities: list[Json]
    raw: str
    parse_mode: str | None
    reply_markup: Json | None
    date: int


PLACEHOLDER_END = " …"


@dataclass
class SentMessage:
    """A message the bot sent; ``text``/``entities`` are the latest, ``versions`` the history."""

    chat_id: int
    message_id: int
    versions: list[Version]
    kind: str = "text"  # text | document | photo | sticker | voice
    reply_to: int | None = None
    thread_id: int | None = None
    deleted: bool = False
    file: Json | None = None  # kind != "text": the uploaded/referenced file
    json: Json = field(default_factory=dict, repr=False)

    @property
    def text(self) -> str:
        return self.versions[-1].text

    @property
    def entities(self) -> list[Json]:
        return self.versions[-1].entities

    @property
    def raw(self) -> str:
        return self.versions[-1].raw

    @property
    def parse_mode(self) -> str | None:
        return self.versions[-1].parse_mode

    @property
    def reply_markup(self) -> Json | None:
        return self.versions[-1].reply_markup

    @property
    def edits(self) -> list[Version]:
        return self.versions[1:]

    @property
    def history(self) -> list[str]:
        return [version.text for version in self.versions]

    @property
    def placeholder(self) -> bool:
        """chatrelay posts each new message of an answer as a placeholder (its opening words
        and " …") and edits the answer in: this one has not been edited yet."""
        return not self.edits and self.kind == "text" and self.text.endswith(PLACEHOLDER_END)


@dataclass(frozen=True)
class Draft:
    chat_id: int
    draft_id: int
    text: str
    entities: list[Json]
    thread_id: int | None
    at: float


@dataclass(frozen=True)
class ChatAction:
    chat_id: int
    action: str
    thread_id: int | None
    at: float


@dataclass(frozen=True)
class Call:
    """One Bot API request: its method, decoded parameters and the answer's status."""

    method: str
    params: Json
    status: int
    description: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class Upload:
    """A file sent in a multipart request."""

    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True)
class WebhookDelivery:
    update_id: int
    attempt: int
    status: int | None  # None: no HTTP answer (connection error)
    error: str | None
    headers: dict[str, str]
    delivered: bool


@dataclass
class StoredFile:
    """A file users sent. ``reported_size``: the ``file_size`` Telegram reports (None: left
    out; by default the real size). ``chunked``: served without a Content-Length."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    mime_type: str | None = None
    reported_size: int | None = -1
    chunked: bool = False

    @property
    def file_size(self) -> int | None:
        return len(self.data) if self.reported_size == -1 else self.reported_size


@dataclass(frozen=True)
class Outage:
    """A Bot API method failing until repaired: an error answer, or (``disconnect``) the
    connection closed with no answer, as when the network is down."""

    code: int
    description: str
    disconnect: bool = False


class ChatLog(dict[int, list[T]]):
    """Records per chat id: ``log[chat_id]`` (or ``log[chat]``) is a list, empty when there are
    none; ``log.all()`` is every record in the order they happened."""

    def __init__(self) -> None:
        super().__init__()
        self.in_order: list[T] = []

    def __getitem__(self, key: int | Chat) -> list[T]:
        return super().__getitem__(key.id if isinstance(key, Chat) else key)

    def __missing__(self, key: int) -> list[T]:
        return []

    def add(self, chat_id: int, record: T) -> None:
        self.setdefault(chat_id, []).append(record)
        self.in_order.append(record)

    def all(self) -> list[T]:
        return list(self.in_order)

    def total(self) -> int:
        return len(self.in_order)

    def clear(self) -> None:
        super().clear()
        self.in_order.clear()
