"""Users, guilds, channels, messages, and what a test inspects (calls, typing, interactions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Json = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000
ALL_PERMISSIONS = (1 << 51) - 1

# channel types
GUILD_TEXT = 0
DM = 1
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12

# message types
DEFAULT = 0
THREAD_CREATED = 18
REPLY = 19
CHAT_INPUT_COMMAND = 20

# message flags
EPHEMERAL = 1 << 6
LOADING = 1 << 7

# gateway intents
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT


def iso(timestamp: float) -> str:
    """An ISO 8601 timestamp as Discord writes them (``2026-11-27T12:00:00.000000+00:00``)."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds")


class DiscordError(Exception):
    """An error answer ``{"code", "message", "errors"?}`` with HTTP ``status``."""

    def __init__(self, status: int, code: int, message: str, errors: Json | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> Json:
        body: Json = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body

    @classmethod
    def invalid_form(cls, errors: Json) -> DiscordError:
        return cls(400, 50035, "Invalid Form Body", errors)

    @classmethod
    def unknown_message(cls) -> DiscordError:
        return cls(404, 10008, "Unknown Message")

    @classmethod
    def unknown_channel(cls) -> DiscordError:
        return cls(404, 10003, "Unknown Channel")

    @classmethod
    def unknown_interaction(cls) -> DiscordError:
        return cls(404, 10062, "Unknown interaction")

    @classmethod
    def unknown_webhook(cls) -> DiscordError:
        return cls(404, 10015, "Unknown Webhook")

    @classmethod
    def unauthorized(cls) -> DiscordError:
        return cls(401, 0, "401: Unauthorized")


def field_error(code: str, message: str) -> Json:
    return {"_errors": [{"code": code, "message": message}]}


@dataclass(frozen=True)
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    def to_json(self) -> Json:
        data: Json = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "public_flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class Channel:
    """A guild text channel, a thread (``parent_id``) or a DM (``recipient``)."""

    id: int
    type: int
    name: str | None = None
    guild_id: int | None = None
    parent_id: int | None = None
    recipient: User | None = None
    owner_id: int | None = None
    position: int = 0
    created_at: float = 0.0
    archived: bool = False
    auto_archive_duration: int = 1440
    last_message_id: int | None = None
    message_count: int = 0

    @property
    def is_thread(self) -> bool:
        return self.type in (PUBLIC_THREAD, PRIVATE_THREAD, 10)

    @property
    def is_dm(self) -> bool:
        return self.type == DM

    def to_json(self) -> Json:
        last = str(self.last_message_id) if self.last_message_id else None
        if self.is_dm:
            assert self.recipient is not None
            return {
                "id": str(self.id),
                "type": DM,
                "last_message_id": last,
                "recipients": [self.recipient.to_json()],
                "flags": 0,
            }
        data: Json = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "guild_id": str(self.guild_id),
            "last_message_id": last,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        if self.is_thread:
            data.update(
                parent_id=str(self.parent_id),
                owner_id=str(self.owner_id),
                message_count=self.message_count,
                member_count=1,
                total_message_sent=self.message_count,
                thread_metadata={
                    "archived": self.archived,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": iso(self.created_at),
                    "locked": False,
                    "create_timestamp": iso(self.created_at),
                },
            )
        else:
            data.update(
                position=self.position,
                permission_overwrites=[],
                nsfw=False,
                topic=None,
                parent_id=str(self.parent_id) if self.parent_id else None,
            )
        return data


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    created_at: float
    channels: list[Channel] = field(default_factory=list)
    threads: list[Channel] = field(default_factory=list)
    members: dict[int, User] = field(default_factory=dict)
    roles: list[Json] = field(default_factory=list)  # besides @everyone
    member_roles: dict[int, list[int]] = field(default_factory=dict)  # role ids by user id

    def add_role(self, role_id: int, name: str) -> Json:
        role = {**self.everyone_role(), "id": str(role_id), "name": name}
        role["position"] = len(self.roles) + 1
        self.roles.append(role)
        return role

    def roles_of(self, user_id: int) -> list[str]:
        return [str(role_id) for role_id in self.member_roles.get(user_id, [])]

    def everyone_role(self) -> Json:
        return {
            "id": str(self.id),
            "name": "@everyone",
            "permissions": str(ALL_PERMISSIONS),
            "position": 0,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }

    def member_json(self, user: User | None = None) -> Json:
        """A member object; with ``user`` it includes the user (as in GUILD_CREATE)."""
        data: Json = {
            "roles": self.roles_of(user.id) if user is not None else [],
            "joined_at": iso(self.created_at),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "pending": False,
        }
        if user is not None:
            data["user"] = user.to_json()
        return data

    def to_json(self) -> Json:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "owner_id": str(self.owner_id),
            "unavailable": False,
            "large": False,
            "member_count": len(self.members),
            "joined_at": iso(self.created_at),
            "features": [],
            "preferred_locale": "en-US",
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "system_channel_flags": 0,
            "roles": [self.everyone_role(), *self.roles],
            "emojis": [],
            "stickers": [],
            "channels": [c.to_json() for c in self.channels],
            "threads": [t.to_json() for t in self.threads if not t.archived],
            "members": [self.member_json(u) for u in self.members.values()],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
        }


@dataclass
class Version:
    """One state of a message: its content and embeds, and when it got them."""

    content: str
    embeds: list[Json]
    at: float


@dataclass
class Message:
    """A message in a channel; ``history`` holds every version, the first one as sent."""

    id: int
    channel_id: int
    guild_id: int | None
    author: User
    content: str
    timestamp: float
    type: int = DEFAULT
    embeds: list[Json] = field(default_factory=list)
    attachments: list[Json] = field(default_factory=list)
    mentions: list[User] = field(default_factory=list)
    reference: Json | None = None
    referenced: Message | None = None
    flags: int = 0
    edited_timestamp: float | None = None
    deleted: bool = False
    webhook_id: int | None = None
    interaction_id: int | None = None
    nonce: str | int | None = None
    thread_id: int | None = None
    interaction_metadata: Json | None = None
    history: list[Version] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        """The content of every version, oldest first."""
        return [v.content for v in self.history]

    def to_json(self, *, nested: bool = False) -> Json:
        data: Json = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "type": self.type,
            "author": self.author.to_json(),
            "content": self.content,
            "timestamp": iso(self.timestamp),
            "edited_timestamp": (
                iso(self.edited_timestamp) if self.edited_timestamp is not None else None
            ),
            "tts": False,
            "mention_everyone": False,
            "mentions": [u.to_json() for u in self.mentions],
            "mention_roles": [],
            "attachments": list(self.attachments),
            "embeds": list(self.embeds),
            "pinned": False,
            "flags": self.flags,
            "components": [],
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
        if self.interaction_metadata is not None:
            data["interaction_metadata"] = self.interaction_metadata
        if self.nonce is not None:
            data["nonce"] = self.nonce
        if self.reference is not None:
            data["message_reference"] = self.reference
            if not nested:
                data["referenced_message"] = (
                    self.referenced.to_json(nested=True) if self.referenced else None
                )
        return data


@dataclass
class Typing:
    channel_id: int
    at: float


@dataclass
class Call:
    """One REST request: ``route`` is the template (``POST /channels/{channel_id}/messages``)."""

    method: str
    path: str
    route: str
    status: int
    body: Any
    query: dict[str, str]
    error_code: int | None = None


@dataclass
class Interaction:
    """A slash command the fake sent, and what the bot answered."""

    id: int
    token: str
    name: str
    options: list[Json]
    channel: Channel
    user: User
    guild_id: int | None
    created_at: float
    response_type: int | None = None
    responses: list[Json] = field(default_factory=list)  # every callback body accepted
    original: Message | None = None
    followups: list[Message] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return self.response_type is not None

    @property
    def deferred(self) -> bool:
        return self.response_type in (5, 6)


@dataclass
class GatewayEvent:
    """A frame the fake sent or received on the gateway (``direction`` "out" or "in")."""

    direction: str
    op: int
    t: str | None
    s: int | None
    d: Any
