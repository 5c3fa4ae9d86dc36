"""Receiving updates so that none is lost: each is stored before Telegram is told it arrived.

Long polling: the bot's own ``getUpdates`` loop. An update is confirmed by asking for a higher
offset, and that is asked only after every update before it was stored (python-telegram-bot's
updater confirms updates as soon as they are queued in memory). While the database fails, the
same updates are stored again and again (a second store is a no-op) and never confirmed; while
the inbox is full, polling waits. With several replicas on one database, only the one holding
the polling lease (core.leases) polls; the others answer what it stores, and one of them takes
polling over when it stops or dies.

Webhook: the 200 is answered after the update is stored; a failure to store answers 500, and
Telegram sends the update again later.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from telegram import Bot, Update
from telegram.error import TelegramError

from bots.telegram.transport import Outcomes
from core.errors import InfrastructureError
from core.leases import Leadership
from core.ports import Clock

log = logging.getLogger("chatrelay.telegram")

Receive = Callable[[Update], Awaitable[None]]
POLL_SECONDS = 30
RETRY_FIRST = 1.0
RETRY_MOST = 30.0
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)


class Poller:
    """``getUpdates`` long polling that confirms an update only once it was stored."""

    def __init__(
        self,
        *,
        bot: Bot,
        receive: Receive,
        room: Callable[[], Awaitable[None]],
        clock: Clock,
        outcomes: Outcomes,
        allowed_updates: list[str],
        leadership: Leadership,
    ) -> None:
        self._bot = bot
        self._leadership = leadership
        self._receive = receive
        self._room = room
        self._clock = clock
        self._outcomes = outcomes
        self._allowed = allowed_updates
        self._offset: int | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def leading(self) -> bool:
        """This replica is the one polling (the others stand by)."""
        return self._leadership.held

    async def start(self) -> None:
        await self._bot.delete_webhook()  # getUpdates is refused while a webhook is set
        await self._leadership.start()
        if not self._leadership.held:
            log.info("another replica polls Telegram; standing by to take over")
        self._task = asyncio.create_task(self._run(), name="telegram-polling")

    async def stop(self) -> None:
        """Stop polling, then confirm what was stored (an update fetched and not yet stored
        is not confirmed: Telegram gives it again at the next start)."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        try:
            await self._confirm()
        finally:
            await self._leadership.stop()  # a standby polls from here on, without waiting

    async def _confirm(self) -> None:
        if self._offset is None:
            return
        try:
            await self._bot.get_updates(offset=self._offset, limit=1, timeout=0)
        except TelegramError as error:
            log.info("could not confirm the last updates", extra={"reason": str(error)})

    async def _run(self) -> None:
        delay = RETRY_FIRST
        while True:
            if not self._leadership.held:
                await self._leadership.wait()
                log.info("polling Telegram: this replica took over")
            await self._room()
            try:
                updates = await self._bot.get_updates(
                    offset=self._offset, timeout=POLL_SECONDS, allowed_updates=self._allowed
                )
            except TelegramError as error:
                log.warning("getUpdates failed; retrying", extra={"reason": str(error)})
                await self._clock.sleep(delay)
                delay = min(delay * 2, RETRY_MOST)
                continue
            delay = RETRY_FIRST
            for update in updates:
                await self._store(update)
                self._offset = update.update_id + 1

    async def _store(self, update: Update) -> None:
        delay = RETRY_FIRST
        while True:
            try:
                await self._receive(update)
            except InfrastructureError as error:
                self._outcomes.failed("the database is unavailable")
                log.warning("cannot store an update; retrying", extra={"reason": str(error)})
            else:
                return
            await self._clock.sleep(delay)
            delay = min(delay * 2, RETRY_MOST)


class WebhookServer:
    """Telegram's webhook: POSTs of one update each, answered 200 once the update is stored."""

    def __init__(
        self, *, bot: Bot, receive: Receive, path: str, secret: str, listen: str, port: int
    ) -> None:
        self._bot = bot
        self._receive = receive
        self._path = "/" + path.lstrip("/")
        self._secret = secret
        self._listen = listen
        self._port = port
        self._runner: web.AppRunner | None = None

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self, url: str, allowed_updates: list[str]) -> None:
        app = web.Application(client_max_size=2 * 1024 * 1024)
        app.router.add_post(self._path, self._update)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self._listen, self._port).start()
        self._runner = runner
        await self._bot.set_webhook(url, secret_token=self._secret, allowed_updates=allowed_updates)

    async def stop(self) -> None:
        """Stop answering (the webhook stays set: Telegram keeps updates until we are back)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _update(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._secret.encode()):
            return web.Response(status=403)
        try:
            data = json.loads(await request.read())
            update = Update.de_json(data, self._bot)
        except (ValueError, TypeError, KeyError):
            log.warning("webhook: an update that can't be read was refused")
            return web.Response(status=400)
        try:
            await self._receive(update)
        except InfrastructureError as error:
            log.warning("webhook: cannot store an update", extra={"reason": str(error)})
            return web.Response(status=500)
        return web.Response(status=200)
