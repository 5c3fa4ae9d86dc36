"""The HTTP side of the fake: routes, parameters, the update queue, long polling and webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from .flood import FloodControl, FloodLimits
from .model import (
    ApiError,
    Call,
    Chat,
    ChatAction,
    ChatLog,
    Draft,
    Outage,
    SentMessage,
    StoredFile,
    Upload,
    User,
    WebhookDelivery,
)

Json = dict[str, Any]
Handler = Callable[["Params"], Awaitable[Any]]

CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)
DEFAULT_EXCLUDED = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
UPDATE_KINDS = (
    "message", "edited_message", "callback_query", "channel_post", "edited_channel_post",
    "message_reaction", "message_reaction_count", "inline_query", "chosen_inline_result",
    "my_chat_member", "chat_member", "chat_join_request", "poll", "poll_answer",
)  # fmt: skip
_TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_JSON_PARAMS = frozenset(
    {"entities", "caption_entities", "reply_markup", "reply_parameters", "commands", "scope",
     "allowed_updates", "link_preview_options", "reaction", "message_ids", "menu_button"}
)  # fmt: skip
_INT_PARAMS = frozenset(
    {"chat_id", "message_id", "offset", "limit", "timeout", "draft_id", "message_thread_id",
     "user_id", "max_connections", "reply_to_message_id", "cache_time"}
)  # fmt: skip


@dataclass(frozen=True)
class Described:
    """A successful result that also carries a ``description`` (as setWebhook's does)."""

    result: Any
    description: str


class Params:
    """Request parameters as Telegram reads them: strings, or JSON for non-string values."""

    __slots__ = ("data",)

    def __init__(self, data: Json) -> None:
        self.data = data

    def get(self, name: str) -> Any:
        return self.data.get(name)

    def has(self, name: str) -> bool:
        return self.data.get(name) not in (None, "")

    def get_int(self, name: str, *, empty: str | None = None) -> int | None:
        value = self.data.get(name)
        if value is None or value == "":
            if empty:
                raise ApiError.bad_request(empty)
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return int(value.strip())
            with contextlib.suppress(ValueError):
                number = float(value)
                if number.is_integer():
                    return int(number)
        raise ApiError.bad_request(f"invalid {name} specified")

    def get_str(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, Upload):
            raise ApiError.bad_request(f"{name} must be a string")
        return json.dumps(value) if isinstance(value, dict | list) else str(value).lower()

    def get_bool(self, name: str) -> bool:
        value = self.data.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def get_json(self, name: str, error: str) -> Any:
        value = self.data.get(name)
        if isinstance(value, str):
            if not value:
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError.bad_request(error) from None
        return value


def _normalise(data: Json) -> Json:
    """Decode what form posts carry as text, for recording (and handlers, which accept both)."""
    for key, value in data.items():
        if not isinstance(value, str):
            continue
        if key in _JSON_PARAMS and value[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):
                data[key] = json.loads(value)
        elif key in _INT_PARAMS and value.lstrip("-").isdigit():
            data[key] = int(value)
    return data


async def _read_params(request: web.Request) -> Json:
    data: Json = dict(request.query)
    if request.can_read_body:
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError.bad_request("can't parse JSON encoded request") from None
            if isinstance(body, dict):
                data.update(body)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    data[key] = Upload(value.filename, value.content_type, value.file.read())
                else:
                    data[key] = value
    return _normalise(data)


def update_kind(update: Json) -> str:
    return next((key for key in update if key != "update_id"), "")


def _chat_key(update: Json) -> int:
    """Webhook deliveries for one chat go in order; other chats go in parallel."""
    payload = update.get(update_kind(update))
    if isinstance(payload, dict):
        chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return int(chat["id"])
        sender = payload.get("from")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return int(sender["id"])
    return -(10**15) - int(update.get("update_id", 0))


class ServerCore:
    """State and plumbing shared by the Bot API methods and the test-side helpers."""

    def __init__(
        self,
        token: str = "123456:TEST-token",  # noqa: S107
        *,
        bot_username: str = "chatrelay_bot",
        bot_name: str = "ChatRelay",
        host: str = "127.0.0.1",
        port: int = 0,
        flood: FloodLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        privacy_mode: bool = True,
        record: bool = True,
        webhook_retries: int = 2,
        webhook_retry_delay: float = 0.01,
        webhook_timeout: float = 10.0,
    ) -> None:
        prefix = token.split(":", 1)[0]
        if not prefix.isdigit() or ":" not in token:
            raise ValueError(f"a bot token looks like '123456:ABC-def', not {token!r}")
        self.token = token
        self.bot = User(int(prefix), bot_name, bot_username, language_code=None, is_bot=True)
        self.privacy_mode = privacy_mode
        self.record = record
        self.clock = clock
        self.wall_clock = wall_clock
        self.flood_limits = flood if flood is not None else FloodLimits()
        self.flood = FloodControl(self.flood_limits, lambda: self.clock())
        self.webhook_retries = webhook_retries
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout

        self.chats: dict[int, Chat] = {}
        self.users: dict[int, User] = {}
        self.messages: dict[tuple[int, int], Json] = {}  # every message, by (chat id, message id)
        self.sent: ChatLog[SentMessage] = ChatLog()
        self.drafts: ChatLog[Draft] = ChatLog()
        self.actions: ChatLog[ChatAction] = ChatLog()
        self.calls: list[Call] = []
        self.commands: dict[tuple[tuple[Any, ...], str], list[Json]] = {}
        self.files: dict[str, StoredFile] = {}
        self.reactions: list[Json] = []
        self.callback_answers: list[Json] = []
        self.withheld: list[Json] = []  # group messages privacy mode kept from the bot
        self.deliveries: list[WebhookDelivery] = []
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.webhook_max_connections = 40
        self.webhook_last_error: tuple[int, str] | None = None

        self._sent_index: dict[tuple[int, int], SentMessage] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._callbacks: dict[str, Json] = {}
        self._updates: deque[Json] = deque()
        self._update_ids = itertools.count(100001)
        self._ids = itertools.count(1)
        self._allowed: frozenset[str] | None = None
        self._poll_waiter: asyncio.Future[str] | None = None
        self._scripted: dict[str, deque[ApiError]] = {}
        self._outages: dict[str, Outage] = {}
        self.downloads: list[str] = []  # file paths requested from /file/bot<token>/, in order
        self._changed_event = asyncio.Event()
        self._wh_queues: dict[int, deque[Json]] = {}
        self._wh_tasks: dict[int, asyncio.Task[None]] = {}
        self._wh_slots: asyncio.Semaphore | None = None
        self._wh_session: aiohttp.ClientSession | None = None
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self._methods: dict[str, tuple[str, Handler]] = {}

    # ---- lifecycle

    def _routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        self._routes(app)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.2
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        await web.SockSite(self._runner, sock).start()
        self.base_url = f"http://{self._host}:{sock.getsockname()[1]}"

    async def stop(self) -> None:
        for task in list(self._wh_tasks.values()):
            task.cancel()
        for task in list(self._wh_tasks.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._poll_waiter is not None and not self._poll_waiter.done():
            self._poll_waiter.set_result("stop")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._wh_session is not None:
            await self._wh_session.close()
            self._wh_session = None

    # ---- HTTP

    def _response(self, body: Json, status: int = 200) -> web.Response:
        return web.Response(
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            status=status,
            content_type="application/json",
        )

    async def _api(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        if token != self.token:
            if _TOKEN_SHAPE.fullmatch(token):
                return self._response(ApiError(401, "Unauthorized").body(), 401)
            return self._response(ApiError(404, "Not Found").body(), 404)
        entry = self._methods.get(request.match_info["method"].lower())
        if entry is None:
            return self._response(ApiError(404, "Not Found").body(), 404)
        name, handler = entry
        outage = self._outages.get(name.lower())
        if outage is not None:
            return await self._fail_call(request, name, outage)
        params: Json = {}
        try:
            params = await _read_params(request)
            scripted = self._scripted.get(name.lower())
            if scripted:
                raise scripted.popleft()
            result = await handler(Params(params))
            body: Json = {"ok": True, "result": result}
            if isinstance(result, Described):
                body = {"ok": True, "result": result.result, "description": result.description}
            status = 200
        except ApiError as exc:
            body, status = exc.body(), exc.code
        if self.record:
            self.calls.append(Call(name, params, status, body.get("description")))
        self._changed()
        return self._response(body, status)

    async def _fail_call(self, request: web.Request, name: str, outage: Outage) -> web.Response:
        """A call during an outage: recorded (status 0 for a dropped connection), answered
        with the error, or with no answer at all."""
        if self.record:
            self.calls.append(Call(name, {}, 0 if outage.disconnect else outage.code, None))
        self._changed()
        if outage.disconnect and request.transport is not None:
            request.transport.close()
        return self._response(ApiError(outage.code, outage.description).body(), outage.code)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        self.downloads.append(request.match_info["path"])
        self._changed()
        stored = self._files_by_path.get(request.match_info["path"])
        if request.match_info["token"] != self.token or stored is None:
            return self._response(ApiError(404, "Not Found").body(), 404)
        content_type = stored.mime_type or "application/octet-stream"
        if not stored.chunked:
            return web.Response(body=stored.data, content_type=content_type)
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.enable_chunked_encoding()  # no Content-Length: the size shows while reading
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            for start in range(0, len(stored.data), 64 * 1024):
                await response.write(stored.data[start : start + 64 * 1024])
            await response.write_eof()
        return response

    # ---- scripting and waiting

    def fail(
        self,
        method: str,
        code: int = 400,
        description: str = "Bad Request: scripted failure",
        *,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this error instead."""
        if retry_after is not None:
            error = ApiError.flood(retry_after)
        else:
            error = ApiError(code, description)
        self._scripted.setdefault(method.lower(), deque()).extend([error] * times)

    def break_method(
        self,
        method: str,
        code: int = 502,
        description: str = "Bad Gateway",
        *,
        disconnect: bool = False,
    ) -> None:
        """Every call of ``method`` fails until ``repair(method)``: with this error, or with
        the connection dropped (``disconnect``), as when the network is down."""
        self._outages[method.lower()] = Outage(code, description, disconnect)
        waiter = self._poll_waiter
        if method.lower() == "getupdates" and waiter is not None and not waiter.done():
            waiter.set_result("stop")  # the poll waiting now ends (empty)

    def repair(self, method: str) -> None:
        """``method`` works again."""
        self._outages.pop(method.lower(), None)

    async def refuse_connections(self) -> None:
        """Telegram is unreachable: nothing listens on the port any more (new connections are
        refused, so no request gets through) and open connections are closed, until
        ``accept_connections()``."""
        if self._runner is None:
            raise RuntimeError("the fake is not running")
        port = int(self.base_url.rsplit(":", 1)[1])
        for site in list(self._runner.sites):
            await site.stop()
        server = self._runner.server
        for handler in list(server.connections) if server is not None else []:
            handler.force_close()
        self._offline_port = port

    async def accept_connections(self) -> None:
        """Telegram is reachable again, on the same port."""
        port = getattr(self, "_offline_port", None)
        if self._runner is None or port is None:
            raise RuntimeError("the fake is not refusing connections")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, port))
        await web.SockSite(self._runner, sock).start()
        self._offline_port = None

    def _changed(self) -> None:
        event = self._changed_event
        self._changed_event = asyncio.Event()
        event.set()

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Any:
        """Wait (on an event, no polling) until ``predicate()`` is truthy; return its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (value := predicate()):
            remaining = deadline - loop.time()
            event = self._changed_event
            if remaining > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
                continue
            recent = ", ".join(f"{c.method}:{c.status}" for c in self.calls[-8:])
            raise TimeoutError(f"condition not met within {timeout}s; last calls: {recent}")
        return value

    async def wait_for_sent(
        self,
        chat: Chat | int,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[SentMessage]:
        """Wait until the bot has sent at least ``count`` messages in ``chat``, each holding
        its text (not a placeholder waiting for its edit); return them."""
        chat_id = chat.id if isinstance(chat, Chat) else chat

        def sent() -> bool:
            messages = self.sent[chat_id]
            return len(messages) >= count and not any(m.placeholder for m in messages[:count])

        await self.wait_for(sent, timeout)
        return list(self.sent[chat_id])

    # ---- the update queue

    @property
    def pending_updates(self) -> int:
        """Updates not yet confirmed (polling) or delivered (webhook)."""
        return len(self._updates) + sum(len(q) for q in self._wh_queues.values())

    @property
    def polling(self) -> bool:
        """Whether a long getUpdates request is waiting right now."""
        return self._poll_waiter is not None and not self._poll_waiter.done()

    def _is_allowed(self, update: Json) -> bool:
        kind = update_kind(update)
        if self._allowed is None:
            return kind not in DEFAULT_EXCLUDED
        return kind in self._allowed

    def _push_update(self, kind: str, payload: Json) -> Json:
        update = {"update_id": next(self._update_ids), kind: payload}
        if self.webhook_url:
            if self._is_allowed(update):
                self._webhook_enqueue(update)
        else:
            self._updates.append(update)
            waiter = self._poll_waiter
            if waiter is not None and not waiter.done() and self._is_allowed(update):
                waiter.set_result("update")
        self._changed()
        return update

    def _confirm(self, offset: int) -> None:
        updates = self._updates
        if offset > 0:
            while updates and updates[0]["update_id"] < offset:
                updates.popleft()
        elif offset < 0:
            while len(updates) > -offset:
                updates.popleft()

    def _take(self, limit: int) -> list[Json]:
        taken: list[Json] = []
        for update in self._updates:
            if len(taken) >= limit:
                break
            if self._is_allowed(update):
                taken.append(update)
        return taken

    async def _long_poll(self, offset: int, limit: int, seconds: float) -> list[Json]:
        self._confirm(offset)
        older = self._poll_waiter
        if older is not None and not older.done():
            older.set_result("conflict")  # the older request loses, as in Telegram
        taken = self._take(limit)
        if taken or seconds <= 0:
            return taken
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._poll_waiter = waiter
        self._changed()
        try:
            done, _ = await asyncio.wait([waiter], timeout=seconds)
            reason = waiter.result() if done else "timeout"
        finally:
            if self._poll_waiter is waiter:
                self._poll_waiter = None
            if not waiter.done():
                waiter.cancel()
        if reason == "conflict":
            raise ApiError(409, CONFLICT_POLL)
        if self.webhook_url or reason == "stop":
            return []
        return self._take(limit)

    # ---- webhook delivery

    def _webhook_enqueue(self, update: Json) -> None:
        key = _chat_key(update)
        queue = self._wh_queues.get(key)
        if queue is None:
            queue = self._wh_queues[key] = deque()
        queue.append(update)
        if key not in self._wh_tasks:
            self._wh_tasks[key] = asyncio.get_running_loop().create_task(self._wh_worker(key))

    async def _wh_worker(self, key: int) -> None:
        queue = self._wh_queues[key]
        try:
            while queue:
                update = queue[0]
                if self._wh_slots is None:
                    self._wh_slots = asyncio.Semaphore(self.webhook_max_connections)
                async with self._wh_slots:
                    await self._deliver(update)
                if queue and queue[0] is update:
                    queue.popleft()
                self._changed()
        finally:
            if self._wh_tasks.get(key) is asyncio.current_task():
                del self._wh_tasks[key]
                if not queue:
                    self._wh_queues.pop(key, None)

    async def _deliver(self, update: Json) -> bool:
        if self._wh_session is None:
            self._wh_session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout)
            )
        headers = {"Content-Type": "application/json"}
        if self.webhook_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook_secret
        body = json.dumps(update, ensure_ascii=False).encode()
        for attempt in range(1, self.webhook_retries + 2):
            status: int | None = None
            error: str | None = None
            try:
                async with self._wh_session.post(
                    self.webhook_url, data=body, headers=headers
                ) as response:
                    status = response.status
                    await response.read()
                    if not 200 <= status < 300:
                        error = f"Wrong response from the webhook: {status} {response.reason}"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error = _connection_error(exc)
            ok = error is None
            self.deliveries.append(
                WebhookDelivery(update["update_id"], attempt, status, error, headers, ok)
            )
            if ok:
                return True
            assert error is not None
            self.webhook_last_error = (int(self.wall_clock()), error)
            self._changed()
            if attempt <= self.webhook_retries:
                await asyncio.sleep(self.webhook_retry_delay)
        return False

    def _stop_webhook(self) -> None:
        """Back to polling: undelivered updates return to the getUpdates queue, in order."""
        for task in self._wh_tasks.values():
            task.cancel()
        self._wh_tasks.clear()
        left = [update for queue in self._wh_queues.values() for update in queue]
        self._wh_queues.clear()
        left.extend(self._updates)
        left.sort(key=lambda u: int(u["update_id"]))
        self._updates = deque(left)
        self.webhook_url = ""
        self.webhook_secret = None


def _connection_error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "Read timeout expired"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "Connection refused"
    return f"Connection error: {type(exc).__name__}"
