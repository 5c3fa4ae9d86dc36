"""``FakeDiscord``: guilds, channels and users, what users do (write, reply, run slash commands),
and the REST routes a bot uses; plus the standalone server."""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web

from tests.fakes.standalone import serve_until_signalled

from .limits import RateLimits
from .model import (
    ALL_PERMISSIONS,
    CHAT_INPUT_COMMAND,
    DEFAULT,
    DM,
    EPHEMERAL,
    GUILD_TEXT,
    LOADING,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    REPLY,
    Channel,
    DiscordError,
    Guild,
    Interaction,
    Json,
    Message,
    Typing,
    User,
    Version,
    field_error,
)
from .server import Request, ServerCore, Session, Shard, shard_of
from .validate import check_commands, check_message

_MENTION = re.compile(r"<@!?(\d+)>")
_OPTION_TYPES = ((bool, 5), (int, 4), (float, 10), (str, 3))
NONCE_SECONDS = 300.0  # how far back enforce_nonce looks ("the past few minutes")
SESSION_STARTS_PER_DAY = 1000  # GET /gateway/bot's session_start_limit.total


class FakeDiscord(ServerCore):
    """A Discord REST v10 + gateway server on 127.0.0.1 for discord.py.

    ``FakeDiscord(token, bot_id=..., privileged_intents=MESSAGE_CONTENT, rate_limits=RateLimits(),
    clock=time.monotonic, heartbeat_interval=41250)``; ``with fake.patch_discord():`` points
    discord.py at it.
    """

    def __init__(self, token: str | None = None, **options: Any) -> None:
        if token is not None:
            options["token"] = token
        super().__init__(**options)
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.users: dict[int, User] = {self.bot.id: self.bot}
        self.messages: dict[int, Message] = {}
        self.sent: defaultdict[int, list[Message]] = defaultdict(list)  # the bot's, by channel
        self.typing: list[Typing] = []
        self.interactions: dict[int, Interaction] = {}
        self.commands: dict[int | None, list[Json]] = {}  # by guild id (None: global)
        self._threads_of_messages: dict[int, int] = {}
        self._register()

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def reset(self) -> None:
        """Forget recorded calls, typing, sent messages and rate-limit windows."""
        self.calls.clear()
        self.typing.clear()
        self.sent.clear()
        self.gateway_log.clear()
        self.downloads.clear()
        self._scripted.clear()
        self.limiter.reset()

    def set_rate_limits(self, limits: RateLimits) -> None:
        self.limiter.limits = limits
        self.limiter.reset()

    # ---- guilds, channels, users

    def user(self, username: str, user_id: int | None = None, *, bot: bool = False) -> User:
        user = User(user_id or self.snowflake(), username, username.title(), bot=bot)
        self.users[user.id] = user
        return user

    def guild(
        self, name: str = "Test Guild", guild_id: int | None = None, *, shard: Shard | None = None
    ) -> Guild:
        """A guild the bot is in (in READY if made before the bot connects, else GUILD_CREATE
        when ``await fake.announce(guild)``). ``shard=(shard_id, num_shards)``: its id is one
        whose events go to that shard."""
        if guild_id is None:
            guild_id = self.snowflake() if shard is None else self._snowflake_on(*shard)
        guild = Guild(guild_id, name, self.owner.id, self.wall_clock())
        guild.members[self.bot.id] = self.bot
        guild.members[self.owner.id] = self.owner
        self.guilds[guild.id] = guild
        return guild

    def _snowflake_on(self, shard_id: int, num_shards: int) -> int:
        """A new snowflake whose guild would be on shard ``shard_id`` of ``num_shards``."""
        value = self.snowflake()
        while shard_of(value, num_shards) != shard_id:
            value += 1 << 22  # a millisecond later
        self._last_snowflake = value
        return value

    def role(self, guild: Guild, name: str, role_id: int | None = None) -> int:
        """A role in ``guild`` (in GUILD_CREATE: make it before the bot connects); its id."""
        role_id = role_id or self.snowflake()
        guild.add_role(role_id, name)
        return role_id

    def give_role(self, guild: Guild, user: User, role_id: int) -> None:
        """``user`` is a member of ``guild`` with that role (in their member objects)."""
        guild.members.setdefault(user.id, user)
        guild.member_roles.setdefault(user.id, []).append(role_id)

    async def announce(self, guild: Guild) -> None:
        """The bot joins ``guild`` while connected: GUILD_CREATE."""
        await self.dispatch("GUILD_CREATE", guild.to_json())

    def text_channel(self, guild: Guild, name: str = "general") -> Channel:
        channel = Channel(
            self.snowflake(),
            GUILD_TEXT,
            name,
            guild_id=guild.id,
            position=len(guild.channels),
            created_at=self.wall_clock(),
        )
        guild.channels.append(channel)
        self.channels[channel.id] = channel
        return channel

    def thread(
        self, parent: Channel, name: str, *, owner: User | None = None, private: bool = False
    ) -> Channel:
        """An existing thread under a text channel (sent in GUILD_CREATE's ``threads``)."""
        if parent.guild_id is None or parent.is_thread:
            raise ValueError("threads live under guild text channels")
        return self._new_thread(parent, self.snowflake(), name, owner or self.owner, private)

    def _new_thread(
        self, parent: Channel, thread_id: int, name: str, owner: User, private: bool, **extra: Any
    ) -> Channel:
        assert parent.guild_id is not None
        thread = Channel(
            thread_id,
            PRIVATE_THREAD if private else PUBLIC_THREAD,
            name,
            guild_id=parent.guild_id,
            parent_id=parent.id,
            owner_id=owner.id,
            created_at=self.wall_clock(),
            **extra,
        )
        self.guilds[parent.guild_id].threads.append(thread)
        self.channels[thread.id] = thread
        return thread

    def dm_channel(self, user: User) -> Channel:
        """The DM channel between ``user`` and the bot (one per user)."""
        self.users.setdefault(user.id, user)
        for channel in self.channels.values():
            if channel.is_dm and channel.recipient == user:
                return channel
        channel = Channel(self.snowflake(), DM, recipient=user, created_at=self.wall_clock())
        self.channels[channel.id] = channel
        return channel

    def channel(self, channel_id: int) -> Channel:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise DiscordError.unknown_channel()
        return channel

    def history(self, channel: Channel | int) -> list[Message]:
        """Every message in a channel (users' and the bot's), oldest first, deleted ones too."""
        cid = channel if isinstance(channel, int) else channel.id
        return sorted(
            (m for m in self.messages.values() if m.channel_id == cid), key=lambda m: m.id
        )

    # ---- gateway payloads

    def ready_payload(self, session: Session) -> Json:
        payload: Json = {
            "v": 10,
            "user": {**self.bot.to_json(), "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [
                {"id": str(g), "unavailable": True} for g in self.guilds if session.receives(g)
            ],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 1 << 19},
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "_trace": ["fake-discord"],
        }
        if session.shard is not None:
            payload["shard"] = list(session.shard)
        return payload

    def guild_payloads(self, session: Session) -> list[Json]:
        return [g.to_json() for g in self.guilds.values() if session.receives(g.id)]

    async def _members_chunk(self, ws: web.WebSocketResponse, session: Session, d: Json) -> None:
        guild = self.guilds.get(int(d.get("guild_id") or 0))
        if guild is None:
            return
        payload = {
            "guild_id": str(guild.id),
            "members": [guild.member_json(u) for u in guild.members.values()],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if d.get("nonce") is not None:
            payload["nonce"] = d["nonce"]
        await self._dispatch_to(session, "GUILD_MEMBERS_CHUNK", payload)

    # ---- what users do

    def _mentions(self, content: str, extra: Iterable[User] = ()) -> list[User]:
        found: dict[int, User] = {u.id: u for u in extra}
        for match in _MENTION.finditer(content):
            user = self.users.get(int(match.group(1)))
            if user is not None:
                found.setdefault(user.id, user)
        return list(found.values())

    def _attachment(self, spec: Json | str, channel_id: int) -> Json:
        """An attachment's JSON; ``data`` (str or bytes) is what the CDN URL then serves.
        ``size`` overrides the size Discord reports (a lie); ``chunked: True`` makes the CDN
        send the bytes without a Content-Length."""
        data = {"filename": spec} if isinstance(spec, str) else dict(spec)
        aid = self.snowflake()
        filename = data.pop("filename", "file.bin")
        path = f"/attachments/{channel_id}/{aid}/{filename}"
        url = f"{self.base_url}{path}"
        content = data.pop("data", b"")
        content = content.encode() if isinstance(content, str) else bytes(content)
        self.files[path] = content
        if data.pop("chunked", False):
            self.chunked_files.add(path)
        return {
            "id": str(aid),
            "filename": filename,
            "size": data.pop("size", len(content)),
            "url": url,
            "proxy_url": url,
            "content_type": data.pop("content_type", None),
            **data,
        }

    def _store(self, message: Message) -> Message:
        message.history.append(Version(message.content, list(message.embeds), message.timestamp))
        self.messages[message.id] = message
        channel = self.channels.get(message.channel_id)
        if channel is not None:
            channel.last_message_id = message.id
            channel.message_count += 1
        return message

    def _reference(self, target: Message | int, channel: Channel) -> tuple[Json, Message]:
        mid = target.id if isinstance(target, Message) else target
        found = self.messages.get(mid)
        if found is None or found.deleted:
            raise ValueError(f"no message {mid} to reply to")
        reference: Json = {"type": 0, "message_id": str(mid), "channel_id": str(found.channel_id)}
        if channel.guild_id is not None:
            reference["guild_id"] = str(channel.guild_id)
        return reference, found

    async def user_says(
        self,
        channel: Channel,
        user: User,
        content: str,
        reference: Message | int | None = None,
        mentions_bot: bool = False,
        attachments: Sequence[Json | str] = (),
        embeds: Sequence[Json] = (),
    ) -> Message:
        """A user writes in a channel (guild, thread or DM): MESSAGE_CREATE."""
        self.users.setdefault(user.id, user)
        if channel.guild_id is not None:
            self.guilds[channel.guild_id].members.setdefault(user.id, user)
        mention = f"<@{self.bot.id}>"
        if mentions_bot and mention not in content:
            content = f"{mention} {content}"
        extra: list[User] = []
        ref: Json | None = None
        referenced: Message | None = None
        if reference is not None:
            ref, referenced = self._reference(reference, channel)
            extra.append(referenced.author)
        message = self._store(
            Message(
                self.snowflake(),
                channel.id,
                channel.guild_id,
                user,
                content,
                self.wall_clock(),
                type=REPLY if ref else DEFAULT,
                embeds=list(embeds),
                attachments=[self._attachment(a, channel.id) for a in attachments],
                mentions=self._mentions(content, extra),
                reference=ref,
                referenced=referenced,
            )
        )
        await self.dispatch("MESSAGE_CREATE", self._message_event(message))
        return message

    def _message_event(self, message: Message) -> Json:
        data = message.to_json()
        if message.guild_id is not None and not message.webhook_id:
            guild = self.guilds[message.guild_id]
            data["member"] = {**guild.member_json(), "roles": guild.roles_of(message.author.id)}
        return data

    def _command(self, name: str, guild_id: int | None) -> Json | None:
        for scope in (guild_id, None):
            for command in self.commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command
        return None

    async def user_runs_command(
        self,
        channel: Channel,
        user: User,
        name: str,
        options: dict[str, Any] | Sequence[Json] | None = None,
        *,
        locale: str = "en-US",
        typing_in: str | None = None,
    ) -> Interaction:
        """A user runs slash command ``/name`` in ``channel``: INTERACTION_CREATE (type 2).

        ``options`` maps option names to values (str, int, float, bool) or is the raw list.
        ``typing_in`` names an option the user is still typing: an autocomplete interaction
        (type 4), answered with callback type 8 (``interaction.responses[-1]["data"]``)."""
        self.users.setdefault(user.id, user)
        guild_id = channel.guild_id
        if guild_id is not None:
            self.guilds[guild_id].members.setdefault(user.id, user)
        if options is None:
            raw: list[Json] = []
        elif isinstance(options, dict):
            raw = [
                {
                    "name": k,
                    "type": next(t for cls, t in _OPTION_TYPES if isinstance(v, cls)),
                    "value": v,
                }
                for k, v in options.items()
            ]
        else:
            raw = list(options)
        if typing_in is not None:
            for option in raw:
                if option["name"] == typing_in:
                    option["focused"] = True
        command = self._command(name, guild_id)
        data: Json = {
            "id": command["id"] if command else str(self.snowflake()),
            "name": name,
            "type": 1,
        }
        if raw:
            data["options"] = raw
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        interaction = Interaction(
            self.snowflake(),
            "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48),
            name,
            raw,
            channel,
            user,
            guild_id,
            self.clock(),
        )
        self.interactions[interaction.id] = interaction
        payload: Json = {
            "id": str(interaction.id),
            "application_id": str(self.application_id),
            "type": 2 if typing_in is None else 4,
            "data": data,
            "channel": channel.to_json(),
            "channel_id": str(channel.id),
            "token": interaction.token,
            "version": 1,
            "locale": locale,
            "app_permissions": str(ALL_PERMISSIONS),
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id) if guild_id else "0"},
            "context": 0 if guild_id is not None else 1,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if guild_id is not None:
            guild = self.guilds[guild_id]
            payload["guild_id"] = str(guild_id)
            payload["guild_locale"] = "en-US"
            payload["guild"] = {"id": str(guild_id), "locale": "en-US", "features": []}
            payload["member"] = {
                **guild.member_json(user),
                "permissions": str(ALL_PERMISSIONS),
            }
        else:
            payload["user"] = user.to_json()
        await self.dispatch("INTERACTION_CREATE", payload)
        return interaction

    # ---- waiting on what the bot did

    async def wait_for_sent(
        self,
        channel: Channel | int,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[Message]:
        """Wait until the bot has sent ``count`` messages in a channel and the requests that
        sent them are recorded in ``calls``; return them all."""
        cid = channel if isinstance(channel, int) else channel.id
        await self.wait_for(
            lambda: len(self.sent[cid]) >= count and self.requests_in_flight == 0, timeout
        )
        return list(self.sent[cid])

    async def wait_for_response(
        self,
        interaction: Interaction,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Interaction:
        """Wait until the bot acknowledged ``interaction``."""
        await self.wait_for(lambda: interaction.acknowledged, timeout)
        return interaction

    # ---- REST routes

    def _register(self) -> None:
        r = self.route
        r("GET", "/users/@me", self._get_me)
        r("GET", "/oauth2/applications/@me", self._get_application)
        r("GET", "/applications/@me", self._get_application)
        r("GET", "/gateway", self._get_gateway, needs_auth=False)
        r("GET", "/gateway/bot", self._get_gateway_bot)
        r("POST", "/users/@me/channels", self._open_dm)
        r("GET", "/channels/{channel_id}", self._get_channel)
        r("POST", "/channels/{channel_id}/messages", self._create_message, message_route=True)
        r("GET", "/channels/{channel_id}/messages", self._list_messages)
        r("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message)
        r("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message,
          message_route=True)  # fmt: skip
        r("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message)
        r("POST", "/channels/{channel_id}/typing", self._typing)
        r("POST", "/channels/{channel_id}/messages/{message_id}/threads", self._thread_from_message)
        r("POST", "/channels/{channel_id}/threads", self._thread_in_channel)
        r("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self._react)
        r("POST", "/interactions/{interaction_id}/{token}/callback", self._callback,
          needs_auth=False)  # fmt: skip
        for method, handler in (
            ("GET", self._get_original),
            ("PATCH", self._edit_original),
            ("DELETE", self._delete_original),
        ):
            r(method, "/webhooks/{application_id}/{token}/messages/@original", handler,
              needs_auth=False)  # fmt: skip
        for method, handler in (
            ("GET", self._get_followup),
            ("PATCH", self._edit_followup),
            ("DELETE", self._delete_followup),
        ):
            r(method, "/webhooks/{application_id}/{token}/messages/{message_id}", handler,
              needs_auth=False)  # fmt: skip
        r("POST", "/webhooks/{application_id}/{token}", self._followup, needs_auth=False)
        r("GET", "/applications/{application_id}/commands", self._get_commands)
        r("PUT", "/applications/{application_id}/commands", self._put_commands)
        r("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self._get_commands)
        r("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self._put_commands)

    async def _get_me(self, req: Request) -> Json:
        return {**self.bot.to_json(), "verified": True, "mfa_enabled": False, "flags": 0}

    async def _get_application(self, req: Request) -> Json:
        return {
            "id": str(self.application_id),
            "name": self.bot.global_name,
            "description": "A fake application",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": self.owner.to_json(),
            "team": None,
            "flags": 1 << 19,  # GATEWAY_MESSAGE_CONTENT_LIMITED
            "summary": "",
            "rpc_origins": [],
            "bot": self.bot.to_json(),
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self.guilds),
        }

    async def _get_gateway(self, req: Request) -> Json:
        return {"url": self.gateway_url.rstrip("/")}

    async def _get_gateway_bot(self, req: Request) -> Json:
        """The gateway URL, the recommended shard count (``recommended_shards``) and the
        session starts left (every IDENTIFY so far used one)."""
        return {
            "url": self.gateway_url.rstrip("/"),
            "shards": self.recommended_shards,
            "session_start_limit": {
                "total": SESSION_STARTS_PER_DAY,
                "remaining": max(0, SESSION_STARTS_PER_DAY - len(self.identifies)),
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        }

    async def _open_dm(self, req: Request) -> Json:
        recipient = int((req.body or {}).get("recipient_id") or 0)
        user = self.users.get(recipient)
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return self.dm_channel(user).to_json()

    async def _get_channel(self, req: Request) -> Json:
        return self.channel(req.int_param("channel_id")).to_json()

    def _bot_message(
        self, channel: Channel, payload: Json, files: list[Json], **extra: Any
    ) -> Message:
        check_message(payload, files=len(files), edit=bool(extra.pop("loading", False)))
        ref: Json | None = None
        referenced: Message | None = None
        reference = payload.get("message_reference")
        if reference and reference.get("type", 0) == 0:
            target = self.messages.get(int(reference.get("message_id") or 0))
            wanted = str(reference.get("channel_id") or channel.id)
            if target is None or target.deleted or str(target.channel_id) != wanted:
                if reference.get("fail_if_not_exists", True):
                    raise DiscordError.invalid_form(
                        {
                            "message_reference": field_error(
                                "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                            )
                        }
                    )
            else:
                ref, referenced = self._reference(target, channel)
        content = payload.get("content") or ""
        flags = int(payload.get("flags") or 0)
        message = Message(
            self.snowflake(),
            channel.id,
            channel.guild_id,
            self.bot,
            content,
            self.wall_clock(),
            type=extra.pop("type", REPLY if ref else DEFAULT),
            embeds=list(payload.get("embeds") or []),
            attachments=[
                self._attachment(
                    {k: v for k, v in f.items() if k not in ("index", "data")}, channel.id
                )
                for f in files
            ],
            mentions=self._mentions(content, [referenced.author] if referenced else []),
            reference=ref,
            referenced=referenced,
            flags=flags,
            nonce=payload.get("nonce"),
            **extra,
        )
        self._store(message)
        self.sent[channel.id].append(message)
        return message

    def _same_nonce(self, channel_id: int, payload: Json) -> Message | None:
        """Discord's ``enforce_nonce``: a message the bot created in the channel with the same
        nonce within the last few minutes (NONCE_SECONDS)."""
        nonce = payload.get("nonce")
        if nonce is None or not payload.get("enforce_nonce"):
            return None
        since = self.wall_clock() - NONCE_SECONDS
        for message in reversed(self.sent[channel_id]):
            if message.timestamp < since:
                return None
            if message.nonce is not None and str(message.nonce) == str(nonce):
                return message
        return None

    async def _echo(self, t: str, message: Message) -> None:
        if self.echo_bot_messages and not message.flags & EPHEMERAL:
            await self.dispatch(t, self._message_event(message))

    async def _create_message(self, req: Request) -> Json:
        channel = self.channel(req.int_param("channel_id"))
        earlier = self._same_nonce(channel.id, req.body or {})
        if earlier is not None:  # enforce_nonce: the message made before, and no new one
            return earlier.to_json()
        message = self._bot_message(channel, req.body or {}, req.files)
        await self._echo("MESSAGE_CREATE", message)
        return message.to_json()

    def _message(self, channel_id: int, message_id: int) -> Message:
        message = self.messages.get(message_id)
        if message is None or message.deleted or message.channel_id != channel_id:
            raise DiscordError.unknown_message()
        return message

    async def _list_messages(self, req: Request) -> list[Json]:
        channel = self.channel(req.int_param("channel_id"))
        limit = int(req.query.get("limit", 50))
        if not 1 <= limit <= 100:
            raise DiscordError.invalid_form(
                {"limit": field_error("NUMBER_TYPE_MAX", "int value should be <= 100 and >= 1.")}
            )
        found = [m for m in self.history(channel) if not m.deleted]
        if "before" in req.query:
            found = [m for m in found if m.id < int(req.query["before"])]
        if "after" in req.query:
            found = [m for m in found if m.id > int(req.query["after"])]
            return [m.to_json() for m in found[:limit]][::-1]
        return [m.to_json() for m in found[-limit:]][::-1]

    async def _get_message(self, req: Request) -> Json:
        self.channel(req.int_param("channel_id"))
        return self._message(req.int_param("channel_id"), req.int_param("message_id")).to_json()

    def _edit(self, message: Message, payload: Json, files: list[Json]) -> None:
        check_message(payload, edit=True)
        content = payload.get("content", message.content)
        content = content or ""
        embeds = list(payload["embeds"] or []) if "embeds" in payload else message.embeds
        attachments = message.attachments
        if "attachments" in payload:
            keep = {str(a.get("id")) for a in payload["attachments"] or []}
            attachments = [a for a in message.attachments if a["id"] in keep]
        attachments = attachments + [
            self._attachment(
                {k: v for k, v in f.items() if k not in ("index", "data")}, message.channel_id
            )
            for f in files
        ]
        if not (content or embeds or attachments):
            raise DiscordError(400, 50006, "Cannot send an empty message")
        message.content, message.embeds, message.attachments = content, embeds, attachments
        message.flags &= ~LOADING
        message.edited_timestamp = self.wall_clock()
        message.history.append(Version(content, list(embeds), message.edited_timestamp))

    async def _edit_message(self, req: Request) -> Json:
        channel = self.channel(req.int_param("channel_id"))
        message = self._message(channel.id, req.int_param("message_id"))
        if message.author != self.bot:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        self._edit(message, req.body or {}, req.files)
        await self._echo("MESSAGE_UPDATE", message)
        return message.to_json()

    async def _delete(self, message: Message) -> None:
        message.deleted = True
        data: Json = {"id": str(message.id), "channel_id": str(message.channel_id)}
        if message.guild_id is not None:
            data["guild_id"] = str(message.guild_id)
        if not message.flags & EPHEMERAL:
            await self.dispatch("MESSAGE_DELETE", data)

    async def _delete_message(self, req: Request) -> None:
        channel = self.channel(req.int_param("channel_id"))
        message = self._message(channel.id, req.int_param("message_id"))
        if channel.is_dm and message.author != self.bot:
            raise DiscordError(403, 50003, "Cannot execute action on a DM channel")
        await self._delete(message)

    async def _typing(self, req: Request) -> None:
        channel = self.channel(req.int_param("channel_id"))
        self.typing.append(Typing(channel.id, self.clock()))

    async def _react(self, req: Request) -> None:
        channel = self.channel(req.int_param("channel_id"))
        self._message(channel.id, req.int_param("message_id"))

    def _thread_body(self, body: Any) -> tuple[str, int]:
        body = body or {}
        name = body.get("name") or ""
        if not 1 <= len(name) <= 100:
            raise DiscordError.invalid_form(
                {
                    "name": field_error(
                        "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
                    )
                }
            )
        duration = int(body.get("auto_archive_duration") or 1440)
        if duration not in (60, 1440, 4320, 10080):
            raise DiscordError.invalid_form(
                {
                    "auto_archive_duration": field_error(
                        "BASE_TYPE_CHOICES", "Value must be one of {60, 1440, 4320, 10080}."
                    )
                }
            )
        return name, duration

    def _thread_parent(self, req: Request) -> Channel:
        channel = self.channel(req.int_param("channel_id"))
        if channel.is_dm or channel.is_thread:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        return channel

    async def _announce_thread(self, thread: Channel) -> Json:
        data = thread.to_json()
        data["member"] = {
            "id": str(thread.id),
            "user_id": str(self.bot.id),
            "join_timestamp": data["thread_metadata"]["create_timestamp"],
            "flags": 1,
        }
        await self.dispatch("THREAD_CREATE", {**data, "newly_created": True})
        return data

    async def _thread_from_message(self, req: Request) -> Json:
        parent = self._thread_parent(req)
        message = self._message(parent.id, req.int_param("message_id"))
        name, duration = self._thread_body(req.body)
        if message.id in self._threads_of_messages:
            raise DiscordError(400, 160004, "A thread has already been created for this message")
        # a thread started from a message has the message's id
        thread = self._new_thread(
            parent, message.id, name, self.bot, False, auto_archive_duration=duration
        )
        self._threads_of_messages[message.id] = thread.id
        message.thread_id = thread.id
        return await self._announce_thread(thread)

    async def _thread_in_channel(self, req: Request) -> Json:
        parent = self._thread_parent(req)
        name, duration = self._thread_body(req.body)
        kind = int((req.body or {}).get("type") or PRIVATE_THREAD)
        if kind not in (PUBLIC_THREAD, PRIVATE_THREAD):
            raise DiscordError.invalid_form(
                {"type": field_error("BASE_TYPE_CHOICES", "Value must be one of {11, 12}.")}
            )
        thread = self._new_thread(
            parent, self.snowflake(), name, self.bot, kind == PRIVATE_THREAD,
            auto_archive_duration=duration,
        )  # fmt: skip
        return await self._announce_thread(thread)

    # ---- interactions

    def _interaction_by_token(self, req: Request, *, acknowledged: bool = True) -> Interaction:
        token = req.params["token"]
        found = next((i for i in self.interactions.values() if i.token == token), None)
        if found is None or req.params["application_id"] != str(self.application_id):
            raise DiscordError.unknown_webhook()
        if self.clock() - found.created_at > self.interaction_token_ttl:
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        if acknowledged and not found.acknowledged:
            raise DiscordError.unknown_webhook()
        return found

    def _interaction_message(
        self, interaction: Interaction, payload: Json, files: list[Json], *, flags: int = 0
    ) -> Message:
        metadata = {
            "id": str(interaction.id),
            "type": 2,
            "name": interaction.name,
            "user": interaction.user.to_json(),
            "authorizing_integration_owners": {"0": str(interaction.guild_id or 0)},
        }
        payload = {**payload, "flags": int(payload.get("flags") or 0) | flags}
        message = self._bot_message(
            interaction.channel,
            payload,
            files,
            type=CHAT_INPUT_COMMAND,
            webhook_id=self.application_id,
            interaction_id=interaction.id,
            loading=bool(flags & LOADING),
        )
        message.interaction_metadata = metadata
        return message

    async def _callback(self, req: Request) -> Json | None:
        interaction = self.interactions.get(req.int_param("interaction_id"))
        if interaction is None or interaction.token != req.params["token"]:
            raise DiscordError.unknown_interaction()
        if interaction.acknowledged:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if self.clock() - interaction.created_at > self.interaction_deadline:
            raise DiscordError.unknown_interaction()
        body = req.body or {}
        kind = body.get("type")
        data = body.get("data") or {}
        if kind not in (1, 4, 5, 6, 7, 8, 9, 12):
            raise DiscordError.invalid_form(
                {
                    "type": field_error(
                        "BASE_TYPE_CHOICES", "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}."
                    )
                }
            )
        message: Message | None = None
        if kind == 4:
            message = self._interaction_message(interaction, data, req.files)
        elif kind == 5:
            message = self._interaction_message(
                interaction, {"flags": data.get("flags")}, [], flags=LOADING
            )
        interaction.response_type = kind
        interaction.responses.append(body)
        interaction.original = message
        if message is not None:
            await self._echo("MESSAGE_CREATE", message)
        if req.query.get("with_response") not in ("1", "true", "True"):
            return None
        answer: Json = {
            "interaction": {
                "id": str(interaction.id),
                "type": 2,
                "activity_instance_id": None,
                "response_message_id": str(message.id) if message else None,
                "response_message_loading": bool(message and message.flags & LOADING),
                "response_message_ephemeral": bool(message and message.flags & EPHEMERAL),
            }
        }
        if message is not None:
            answer["resource"] = {"type": kind, "message": self._interaction_json(message)}
        else:
            answer["resource"] = {"type": kind}
        return answer

    def _interaction_json(self, message: Message) -> Json:
        return message.to_json()

    def _original(self, req: Request) -> tuple[Interaction, Message]:
        interaction = self._interaction_by_token(req)
        if interaction.original is None or interaction.original.deleted:
            raise DiscordError.unknown_message()
        return interaction, interaction.original

    async def _get_original(self, req: Request) -> Json:
        return self._interaction_json(self._original(req)[1])

    async def _edit_original(self, req: Request) -> Json:
        _, message = self._original(req)
        self._edit(message, req.body or {}, req.files)
        await self._echo("MESSAGE_UPDATE", message)
        return self._interaction_json(message)

    async def _delete_original(self, req: Request) -> None:
        await self._delete(self._original(req)[1])

    def _followup_message(self, req: Request) -> Message:
        interaction = self._interaction_by_token(req)
        mid = req.int_param("message_id")
        for message in [interaction.original, *interaction.followups]:
            if message is not None and message.id == mid and not message.deleted:
                return message
        raise DiscordError.unknown_message()

    async def _get_followup(self, req: Request) -> Json:
        return self._interaction_json(self._followup_message(req))

    async def _edit_followup(self, req: Request) -> Json:
        message = self._followup_message(req)
        self._edit(message, req.body or {}, req.files)
        await self._echo("MESSAGE_UPDATE", message)
        return self._interaction_json(message)

    async def _delete_followup(self, req: Request) -> None:
        await self._delete(self._followup_message(req))

    async def _followup(self, req: Request) -> Json | None:
        interaction = self._interaction_by_token(req)
        message = self._interaction_message(interaction, req.body or {}, req.files)
        message.type = DEFAULT
        interaction.followups.append(message)
        await self._echo("MESSAGE_CREATE", message)
        if req.query.get("wait") in ("1", "true", "True"):
            return self._interaction_json(message)
        return None

    # ---- application commands

    def _command_scope(self, req: Request) -> int | None:
        if req.params["application_id"] != str(self.application_id):
            raise DiscordError(
                403, 20012, "You are not authorized to perform this action on this application"
            )
        if "guild_id" not in req.params:
            return None
        guild_id = req.int_param("guild_id")
        if guild_id not in self.guilds:
            raise DiscordError(404, 10004, "Unknown Guild")
        return guild_id

    async def _get_commands(self, req: Request) -> list[Json]:
        return list(self.commands.get(self._command_scope(req), []))

    async def _put_commands(self, req: Request) -> list[Json]:
        scope = self._command_scope(req)
        commands = check_commands(req.body)
        old = {(c.get("type", 1), c["name"]): c for c in self.commands.get(scope, [])}
        stored: list[Json] = []
        for command in commands:
            kind = command.get("type", 1)
            previous = old.get((kind, command["name"]))
            entry: Json = {
                "id": previous["id"] if previous else str(self.snowflake()),
                "application_id": str(self.application_id),
                "version": str(self.snowflake()),
                "type": kind,
                "name": command["name"],
                "description": command.get("description") or "",
                "options": command.get("options") or [],
                "default_member_permissions": command.get("default_member_permissions"),
                "dm_permission": command.get("dm_permission", True),
                "nsfw": command.get("nsfw", False),
                "integration_types": command.get("integration_types") or [0],
                "contexts": command.get("contexts"),
            }
            if scope is not None:
                entry["guild_id"] = str(scope)
            for key in ("name_localizations", "description_localizations"):
                if command.get(key):
                    entry[key] = command[key]
            stored.append(entry)
        self.commands[scope] = stored
        return stored


# --------------------------------------------------------------------------- standalone


async def _serve(args: argparse.Namespace) -> None:
    from .model import GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT

    privileged = 0 if args.no_message_content else MESSAGE_CONTENT
    if args.all_intents:
        privileged |= GUILD_MEMBERS | GUILD_PRESENCES
    fake = FakeDiscord(
        args.token,
        host=args.host,
        port=args.port,
        privileged_intents=privileged,
        rate_limits=RateLimits.off() if args.no_rate_limits else RateLimits(),
        record=not args.no_record,
    )
    guild = fake.guild(args.guild)
    fake.text_channel(guild, "general")
    await serve_until_signalled(
        fake,
        lambda f: f"{f.base_url}/api/v10",  # the REST base (discord.http.Route.BASE)
        lambda f: f.gateway_url,  # DiscordWebSocket.DEFAULT_GATEWAY
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake Discord REST v10 + gateway on 127.0.0.1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--token", default="MTAwMDAwMDAwMDAwMDAwMDAx.fake.discord-bot-token")
    parser.add_argument("--guild", default="Test Guild", help="name of the one guild (#general)")
    parser.add_argument("--no-message-content", action="store_true",
                        help="refuse the message content intent (close 4014)")  # fmt: skip
    parser.add_argument("--all-intents", action="store_true", help="allow members and presences")
    parser.add_argument("--no-rate-limits", action="store_true")
    parser.add_argument("--no-record", action="store_true", help="do not keep fake.calls")
    asyncio.run(_serve(parser.parse_args(argv)))
