"""A small HTTP load balancer on 127.0.0.1, as an operator puts in front of webhook replicas.

Each request goes to a random upstream; when that one refuses the connection (the replica is
down), the others are tried in turn, as nginx's default ``proxy_next_upstream error`` does. When
none answers, 502. The upstreams' answers (status and body) pass through unchanged, so a 500
from a replica that could not store an update reaches Telegram, which sends it again.

    async with Balancer([url_a, url_b]) as lb:
        fake_telegram_webhook_url = lb.url + "/telegram"
        lb.remove(url_b)  # taken out of rotation
"""

from __future__ import annotations

import random
import socket
from collections import Counter
from collections.abc import Iterable
from types import TracebackType

import aiohttp
from aiohttp import web

FORWARDED_HEADERS = ("Content-Type", "X-Telegram-Bot-Api-Secret-Token")


class Balancer:
    def __init__(self, upstreams: Iterable[str], *, seed: int | None = None) -> None:
        self.upstreams = list(upstreams)
        self.forwarded: Counter[str] = Counter()  # upstream -> requests it answered
        self.refused: Counter[str] = Counter()  # upstream -> connections it refused
        self.unanswered = 0  # requests no upstream took (answered 502)
        self._random = random.Random(seed)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, upstream: str) -> None:
        if upstream not in self.upstreams:
            self.upstreams.append(upstream)

    def remove(self, upstream: str) -> None:
        if upstream in self.upstreams:
            self.upstreams.remove(upstream)

    async def __aenter__(self) -> Balancer:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {h: request.headers[h] for h in FORWARDED_HEADERS if h in request.headers}
        order = list(self.upstreams)
        self._random.shuffle(order)
        for upstream in order:
            try:
                async with self._session.request(
                    request.method, upstream + request.path_qs, data=body, headers=headers
                ) as answer:
                    data = await answer.read()
                    self.forwarded[upstream] += 1
                    return web.Response(
                        status=answer.status, body=data, content_type=answer.content_type
                    )
            except aiohttp.ClientConnectorError:
                self.refused[upstream] += 1
                continue
            except (aiohttp.ClientError, TimeoutError):
                # the replica died mid-request: like a proxy, answer 502 and let the sender retry
                self.unanswered += 1
                return web.Response(status=502, text="upstream failed mid-request")
        self.unanswered += 1
        return web.Response(status=502, text="no upstream answered")
