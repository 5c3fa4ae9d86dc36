"""The sockets of the fake: aiohttp app, REST dispatch (auth, scripted failures, rate limits,
recording), the gateway websocket (HELLO, heartbeats, IDENTIFY, RESUME, dispatches, sharding) and
waiting.

Sharding as Discord does it: IDENTIFY may carry ``shard: [shard_id, num_shards]``
(``0 <= shard_id < num_shards``, else close 4010 "Invalid shard."); such a session gets only the
guilds with ``(guild_id >> 22) % num_shards == shard_id`` (in READY, GUILD_CREATE and every event
that names a guild), and events without a guild (DMs) only on shard 0; READY carries ``shard``. A
session without ``shard`` gets everything. A session that would hold more than
``max_guilds_per_shard`` guilds (Discord: 2500) is closed with 4011 "Sharding required."."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import secrets
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from .limits import RateLimiter, RateLimits, Verdict, refusal
from .model import (
    DIRECT_MESSAGES,
    DISCORD_EPOCH_MS,
    GUILD_MESSAGES,
    MESSAGE_CONTENT,
    PRIVILEGED_INTENTS,
    Call,
    DiscordError,
    GatewayEvent,
    Json,
    User,
)

Handler = Callable[["Request"], Awaitable[Any]]
API_PREFIX = "/api/v10"
# discord.py sends the token in IDENTIFY without the "Bot " prefix
CLOSE_UNKNOWN_OPCODE = (4001, "Unknown opcode.")
CLOSE_DECODE_ERROR = (4002, "Decode error.")
CLOSE_NOT_AUTHENTICATED = (4003, "Not authenticated.")
CLOSE_AUTH_FAILED = (4004, "Authentication failed.")
CLOSE_ALREADY_AUTHENTICATED = (4005, "Already authenticated.")
CLOSE_INVALID_SHARD = (4010, "Invalid shard.")
CLOSE_SHARDING_REQUIRED = (4011, "Sharding required.")
CLOSE_DISALLOWED_INTENTS = (4014, "Disallowed intent(s).")


@dataclass
class Request:
    """A parsed REST request: path parameters, JSON body (``payload_json`` for multipart),
    uploaded files as attachment objects, and the query string."""

    params: dict[str, str]
    body: Any
    files: list[Json]
    query: dict[str, str]

    def int_param(self, name: str) -> int:
        value = self.params[name]
        if not value.isdigit():
            raise DiscordError.invalid_form(
                {name: {"_errors": [{"code": "NUMBER_TYPE_COERCE", "message": "Not a snowflake."}]}}
            )
        return int(value)


@dataclass
class _Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    message_route: bool
    needs_auth: bool


Shard = tuple[int, int]  # (shard_id, num_shards), as IDENTIFY and READY carry it


def shard_of(guild_id: int, num_shards: int) -> int:
    """The shard that gets a guild's events (Discord's formula)."""
    return (guild_id >> 22) % num_shards


def parse_shard(value: Any) -> Shard | None:
    """IDENTIFY's ``shard`` field: None when absent; ValueError when it is not a valid
    ``[shard_id, num_shards]`` (``0 <= shard_id < num_shards``)."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("shard must be [shard_id, num_shards]")
    shard_id, num_shards = value
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValueError("shard values must be integers")
    if not 0 <= shard_id < num_shards:
        raise ValueError("shard_id must be at least 0 and below num_shards")
    return shard_id, num_shards


def event_guild(t: str, d: Any) -> int | None:
    """The guild a dispatch belongs to (None: a DM or no guild at all)."""
    if not isinstance(d, dict):
        return None
    raw = d.get("id") if t in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE") else None
    raw = raw or d.get("guild_id")
    return int(raw) if raw else None


@dataclass
class Session:
    """A gateway session: what was identified (its shard too), and every dispatch (for
    RESUME)."""

    id: str
    intents: int
    identify: Json
    shard: Shard | None = None
    seq: int = 0
    ws: web.WebSocketResponse | None = None
    events: deque[Json] = field(default_factory=lambda: deque(maxlen=2000))
    ready: bool = False

    def receives(self, guild_id: int | None) -> bool:
        """Whether this session gets the events of ``guild_id`` (None: DMs, shard 0 only)."""
        if self.shard is None:
            return True
        shard_id, num_shards = self.shard
        if guild_id is None:
            return shard_id == 0
        return shard_of(guild_id, num_shards) == shard_id


class ServerCore:
    def __init__(
        self,
        token: str = "MTAwMDAwMDAwMDAwMDAwMDAx.fake.discord-bot-token",  # noqa: S107
        *,
        bot_id: int = 1_000_000_000_000_000_001,
        bot_name: str = "ChatRelay",
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat_interval: int = 41250,
        privileged_intents: int = MESSAGE_CONTENT,
        rate_limits: RateLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        interaction_deadline: float = 3.0,
        interaction_token_ttl: float = 15 * 60.0,
        recommended_shards: int = 1,
        max_guilds_per_shard: int = 2500,
        echo_bot_messages: bool = True,
        record: bool = True,
    ) -> None:
        self.token = token
        self.bot = User(bot_id, bot_name.lower(), bot_name, bot=True)
        self.application_id = bot_id
        self.owner = User(bot_id + 1, "owner", "Owner")
        self.heartbeat_interval = heartbeat_interval
        self.privileged_intents = privileged_intents
        self.clock = clock
        self.wall_clock = wall_clock
        self.interaction_deadline = interaction_deadline
        self.interaction_token_ttl = interaction_token_ttl
        self.recommended_shards = recommended_shards  # GET /gateway/bot's "shards"
        self.max_guilds_per_shard = max_guilds_per_shard  # more on one session: close 4011
        self.echo_bot_messages = echo_bot_messages
        self.record = record
        self.limiter = RateLimiter(rate_limits or RateLimits(), clock, wall_clock)

        self.calls: list[Call] = []
        self.gateway_log: list[GatewayEvent] = []
        self.sessions: dict[str, Session] = {}
        self.identifies: list[Json] = []
        self.heartbeats = 0
        self.gateway_connections = 0
        self.gateway_closes: list[tuple[int, str]] = []  # closes the fake initiated

        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self._routes: list[_Route] = []
        self.files: dict[str, bytes] = {}  # attachment bytes by CDN path
        self.chunked_files: set[str] = set()  # served without a Content-Length
        self.downloads: list[str] = []  # CDN paths requested, in order
        self.gateway_down = False  # new gateway connections are refused (503) while set
        self.gateway_refusals = 0
        self._scripted: dict[str, deque[DiscordError | Verdict]] = {}
        self._outages: dict[str, tuple[int, str, bool]] = {}  # route -> status, message, drop
        self.requests_in_flight = 0
        self._cond = asyncio.Condition()
        self._ids = itertools.count()
        self._last_snowflake = 0
        self._sockets: set[web.WebSocketResponse] = set()
        self.base_url = ""
        self.gateway_url = ""

    # ---- ids

    def snowflake(self) -> int:
        """A new snowflake from the wall clock, always larger than the last one."""
        ms = int(self.wall_clock() * 1000) - DISCORD_EPOCH_MS
        value = max(ms << 22, self._last_snowflake + 1)
        self._last_snowflake = value
        return value

    # ---- lifecycle

    async def _attachment_file(self, request: web.Request) -> web.StreamResponse:
        """What Discord's CDN serves: the bytes of an attachment a user sent (in chunks and
        without a Content-Length for the paths in ``chunked_files``)."""
        self.downloads.append(request.path)
        await self.notify()
        data = self.files.get(request.path)
        if data is None:
            return web.Response(status=404, text="Not Found")
        if request.path not in self.chunked_files:
            return web.Response(body=data, content_type="application/octet-stream")
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            for start in range(0, len(data), 64 * 1024):
                await response.write(data[start : start + 64 * 1024])
            await response.write_eof()
        return response

    def route(
        self,
        method: str,
        template: str,
        handler: Handler,
        *,
        message_route: bool = False,
        needs_auth: bool = True,
    ) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        self._routes.append(
            _Route(method, template, re.compile(regex), handler, message_route, needs_auth)
        )

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/", self._gateway)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{path:.*}", self._rest)
        app.router.add_get("/attachments/{path:.*}", self._attachment_file)  # the CDN
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.2
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        await web.SockSite(self._runner, sock).start()
        port = sock.getsockname()[1]
        self.base_url = f"http://{self._host}:{port}"
        self.gateway_url = f"ws://{self._host}:{port}/"

    async def stop(self) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"going away")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @contextlib.contextmanager
    def patch_discord(self) -> Iterator[None]:
        """Point discord.py's REST base and gateway URL at this fake; restore them afterwards."""
        import discord.gateway
        import discord.http
        import yarl

        old_base = discord.http.Route.BASE
        old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = f"{self.base_url}{API_PREFIX}"
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    # ---- REST

    def _response(
        self, body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        if body is None:
            return web.Response(status=status, headers=headers)
        return web.Response(
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            status=status,
            headers=headers,
            content_type="application/json",  # exactly; discord.py compares for equality
        )

    def _match(self, method: str, path: str) -> tuple[_Route, dict[str, str]] | None:
        allowed = False
        for route in self._routes:
            found = route.pattern.fullmatch(path)
            if found is None:
                continue
            allowed = True
            if route.method == method:
                return route, found.groupdict()
        if allowed:
            raise DiscordError(405, 0, "405: Method Not Allowed")
        return None

    async def _read(self, request: web.Request) -> tuple[Any, list[Json]]:
        if not request.can_read_body:
            return None, []
        if request.content_type == "multipart/form-data":
            body: Any = None
            files: list[Json] = []
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, aiohttp.BodyPartReader):
                    continue
                data = await part.read()
                if part.name == "payload_json":
                    body = json.loads(data)
                elif part.name and part.name.startswith("files["):
                    files.append(
                        {
                            "index": part.name[6:-1],
                            "filename": part.filename or "file",
                            "size": len(data),
                            "content_type": part.headers.get("Content-Type"),
                            "data": data,
                        }
                    )
            return body, files
        raw = await request.read()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except ValueError:
            raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        method = request.method
        broken = await self._outage(request, method, path)
        if broken is not None:
            return broken
        self.requests_in_flight += 1
        try:
            return await self._answer_rest(request, method, path)
        finally:
            self.requests_in_flight -= 1
            await self.notify()

    async def _answer_rest(
        self, request: web.Request, method: str, path: str
    ) -> web.StreamResponse:
        query = dict(request.query)
        template, body, status, error_code = path, None, 200, None
        headers: dict[str, str] = {}
        answer: Any = None
        try:
            matched = self._match(method, path)
            if matched is None:
                raise DiscordError(404, 0, "404: Not Found")
            route, params = matched
            template = route.template
            if route.needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
                raise DiscordError.unauthorized()
            body, files = await self._read(request)
            scripted = self._scripted.get(f"{method} {template}")
            if scripted:
                failure = scripted.popleft()
                if isinstance(failure, DiscordError):
                    raise failure
                verdict: Verdict = failure
            else:
                major = (
                    params.get("channel_id") or params.get("guild_id") or params.get("token") or ""
                )
                verdict = self.limiter.check(
                    f"{method} {template}",
                    major,
                    message_route=route.message_route,
                    exempt=not route.needs_auth,
                )
            headers.update(verdict.headers)
            if verdict.refused is not None:
                status, answer, error_code = 429, verdict.refused, None
            else:
                answer = await route.handler(Request(params, body, files, query))
                status = 200 if answer is not None else 204
        except DiscordError as exc:
            status, answer, error_code = exc.status, exc.body(), exc.code
        if self.record:
            self.calls.append(
                Call(method, path, f"{method} {template}", status, body, query, error_code)
            )
        await self.notify()
        return self._response(answer, status, headers)

    def fail(
        self,
        route: str,
        status: int = 400,
        code: int = 0,
        message: str = "scripted failure",
        *,
        errors: Json | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests of ``route`` ("POST /channels/{channel_id}/messages")
        with this error instead."""
        error = DiscordError(status, code, message, errors)
        self._scripted.setdefault(route, deque()).extend([error] * times)

    def rate_limit(
        self,
        route: str,
        retry_after: float = 0.05,
        *,
        is_global: bool = False,
        scope: str = "user",
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests of ``route`` with a 429 (``retry_after`` seconds)."""
        verdict = refusal(retry_after, is_global=is_global, scope=scope)
        self._scripted.setdefault(route, deque()).extend([verdict] * times)

    def break_route(
        self,
        route: str,
        status: int = 503,
        message: str = "Service Unavailable",
        *,
        disconnect: bool = False,
    ) -> None:
        """Every request of ``route`` ("PATCH /channels/{channel_id}/messages/{message_id}")
        fails until ``repair_route(route)``: with this error (no rate-limit headers, as from
        Discord's edge), or with the connection dropped after the request arrived
        (``disconnect``). Either way the request is not carried out."""
        self._outages[route] = (status, message, disconnect)

    def repair_route(self, route: str) -> None:
        """``route`` works again."""
        self._outages.pop(route, None)

    async def _outage(self, request: web.Request, method: str, path: str) -> web.Response | None:
        """The answer to a request of a broken route (recorded, status 0 when dropped)."""
        if not self._outages:
            return None
        try:
            matched = self._match(method, path)
        except DiscordError:
            return None  # answered as usual (405)
        if matched is None:
            return None
        template = matched[0].template
        outage = self._outages.get(f"{method} {template}")
        if outage is None:
            return None
        status, message, disconnect = outage
        body, _files = await self._read(request)
        if self.record:
            route = f"{method} {template}"
            self.calls.append(Call(method, path, route, 0 if disconnect else status, body, {}))
        await self.notify()
        if disconnect and request.transport is not None:
            request.transport.close()
        return self._response(DiscordError(status, 0, message).body(), status)

    def calls_to(self, route: str) -> list[Call]:
        """Recorded calls of one route template, e.g. ``"POST /channels/{channel_id}/typing"``."""
        return [c for c in self.calls if c.route == route]

    # ---- gateway

    async def _send(self, ws: web.WebSocketResponse, payload: Json) -> None:
        if self.record:
            self.gateway_log.append(
                GatewayEvent("out", payload["op"], payload.get("t"), payload.get("s"), payload["d"])
            )
        # plain text frames: discord.py only decompresses binary ones
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(json.dumps(payload, separators=(",", ":")))

    async def _close(self, ws: web.WebSocketResponse, reason: tuple[int, str]) -> None:
        self.gateway_closes.append(reason)
        await ws.close(code=reason[0], message=reason[1].encode())

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        if self.gateway_down:
            self.gateway_refusals += 1
            await self.notify()
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        self.gateway_connections += 1
        self._sockets.add(ws)
        session: Session | None = None
        await self._send(
            ws,
            {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval}, "s": None, "t": None},
        )
        try:
            async for frame in ws:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    await self._close(ws, CLOSE_DECODE_ERROR)
                    break
                try:
                    payload = json.loads(frame.data)
                    op = payload["op"]
                except (ValueError, KeyError, TypeError):
                    await self._close(ws, CLOSE_DECODE_ERROR)
                    break
                if self.record:
                    self.gateway_log.append(GatewayEvent("in", op, None, None, payload.get("d")))
                session = await self._on_frame(ws, session, op, payload.get("d"))
                await self.notify()
        finally:
            self._sockets.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
            await self.notify()
        return ws

    async def _on_frame(
        self, ws: web.WebSocketResponse, session: Session | None, op: int, d: Any
    ) -> Session | None:
        if op == 1:
            self.heartbeats += 1
            await self._send(ws, {"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            if session is not None:
                await self._close(ws, CLOSE_ALREADY_AUTHENTICATED)
                return session
            return await self._identify(ws, d or {})
        elif op == 6:
            return await self._resume(ws, d or {})
        elif session is None and op not in (3, 4):
            await self._close(ws, CLOSE_NOT_AUTHENTICATED)
        elif op == 8 and session is not None:
            await self._members_chunk(ws, session, d or {})
        elif op not in (3, 4):
            await self._close(ws, CLOSE_UNKNOWN_OPCODE)
        return session

    async def _identify(self, ws: web.WebSocketResponse, d: Json) -> Session | None:
        self.identifies.append(d)
        if d.get("token") != self.token:
            await self._close(ws, CLOSE_AUTH_FAILED)
            return None
        try:
            shard = parse_shard(d.get("shard"))
        except ValueError:
            await self._close(ws, CLOSE_INVALID_SHARD)
            return None
        intents = int(d.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await self._close(ws, CLOSE_DISALLOWED_INTENTS)
            return None
        session = Session(secrets.token_hex(16), intents, d, shard=shard, ws=ws)
        if len(self.guild_payloads(session)) > self.max_guilds_per_shard:
            await self._close(ws, CLOSE_SHARDING_REQUIRED)
            return None
        self.sessions[session.id] = session
        await self._dispatch_to(session, "READY", self.ready_payload(session))
        for guild_json in self.guild_payloads(session):
            await self._dispatch_to(session, "GUILD_CREATE", guild_json)
        session.ready = True
        return session

    async def _resume(self, ws: web.WebSocketResponse, d: Json) -> Session | None:
        session = self.sessions.get(d.get("session_id") or "")
        if session is None or d.get("token") != self.token:
            await self._send(ws, {"op": 9, "d": False, "s": None, "t": None})
            return None
        session.ws = ws
        seq = int(d.get("seq") or 0)
        for event in list(session.events):
            if event["s"] > seq:
                await self._send(ws, event)
        await self._dispatch_to(session, "RESUMED", {})
        return session

    async def _members_chunk(self, ws: web.WebSocketResponse, session: Session, d: Json) -> None:
        raise NotImplementedError  # provided by FakeDiscord

    def ready_payload(self, session: Session) -> Json:
        raise NotImplementedError

    def guild_payloads(self, session: Session) -> list[Json]:
        """The GUILD_CREATE of every guild ``session`` gets, after READY."""
        raise NotImplementedError

    def _visible(self, session: Session, t: str, d: Json) -> Json | None:
        """What a session gets of a dispatch, by its intents (None: not sent)."""
        if t not in ("MESSAGE_CREATE", "MESSAGE_UPDATE"):
            return d
        in_guild = "guild_id" in d
        if not session.intents & (GUILD_MESSAGES if in_guild else DIRECT_MESSAGES):
            return None
        if session.intents & MESSAGE_CONTENT or not in_guild:
            return d
        author = (d.get("author") or {}).get("id")
        mentioned = any(u["id"] == str(self.bot.id) for u in d.get("mentions", []))
        if author == str(self.bot.id) or mentioned:
            return d
        return {**d, "content": "", "embeds": [], "attachments": [], "components": []}

    async def _dispatch_to(self, session: Session, t: str, d: Json) -> None:
        visible = self._visible(session, t, d)
        if visible is None:
            return
        session.seq += 1
        payload = {"op": 0, "t": t, "s": session.seq, "d": visible}
        session.events.append(payload)
        if session.ws is not None:
            await self._send(session.ws, payload)

    async def dispatch(self, t: str, d: Json) -> None:
        """Send a dispatch (op 0) to every session whose shard gets it (all of them without
        sharding); a disconnected one gets it on RESUME."""
        guild_id = event_guild(t, d)
        for session in list(self.sessions.values()):
            if not session.receives(guild_id):
                continue
            if session.ready or t in ("READY", "GUILD_CREATE"):
                await self._dispatch_to(session, t, d)
        await self.notify()

    @property
    def connected(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.ws is not None and s.ready]

    def _on_shards(self, shards: Collection[int] | None) -> list[Session]:
        """The sessions identified on one of ``shards`` (every session when None)."""
        return [
            s
            for s in self.sessions.values()
            if shards is None or (s.shard is not None and s.shard[0] in shards)
        ]

    async def close_gateway(
        self,
        code: int = 4000,
        reason: str = "Unknown error.",
        *,
        shards: Collection[int] | None = None,
    ) -> None:
        """Close every gateway connection, or those of ``shards`` (4000 lets discord.py
        RESUME; 4009 forces IDENTIFY)."""
        for session in self._on_shards(shards):
            if session.ws is not None:
                ws, session.ws = session.ws, None
                await self._close(ws, (code, reason))
                if code in (4007, 4009):
                    del self.sessions[session.id]

    async def drop_gateway(self, *, shards: Collection[int] | None = None) -> None:
        """The gateway goes down: every connection (or those of ``shards``; the others stay
        up) is closed (4000, resumable) and new ones are refused with 503 until
        ``restore_gateway()``."""
        self.gateway_down = True
        await self.close_gateway(shards=shards)

    def restore_gateway(self) -> None:
        """The gateway is back: discord.py's next attempt connects (and resumes)."""
        self.gateway_down = False

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT on every connection (discord.py reconnects and resumes)."""
        for session in list(self.sessions.values()):
            if session.ws is not None:
                await self._send(session.ws, {"op": 7, "d": None, "s": None, "t": None})

    # ---- waiting

    async def notify(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Any:
        """Wait until ``predicate()`` is truthy (woken by every request and frame, no polling);
        return its value."""
        async with self._cond:
            try:
                await asyncio.wait_for(self._cond.wait_for(predicate), timeout)
            except TimeoutError:
                recent = ", ".join(f"{c.route}:{c.status}" for c in self.calls[-8:])
                raise TimeoutError(
                    f"condition not met within {timeout}s; last calls: {recent}"
                ) from None
        return predicate()

    async def wait_until_ready(self, timeout: float = 5.0) -> Session:  # noqa: ASYNC109
        """Wait for a gateway session that has had READY and its GUILD_CREATEs."""
        sessions = await self.wait_for(lambda: self.connected, timeout)
        return sessions[0]  # type: ignore[no-any-return]
