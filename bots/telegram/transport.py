"""python-telegram-bot's HTTP requests over aiohttp.

PTB's default request class uses httpx, which costs about 2 ms of CPU per Bot API call and, with a
large connection pool, spends most of a burst in its pool bookkeeping. Every answer takes three or
four calls (typing, drafts, the final message), so the client's cost per call is most of the
adapter's CPU; aiohttp's costs a fifth of it.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class Outcomes:
    """How the requests of one ``AiohttpRequest`` went lately: ``failure`` is None while they
    work, else why the last one failed (Telegram's description, or the kind of network error;
    never the URL, which holds the bot token). The polling request's tell whether updates are
    arriving."""

    def __init__(self) -> None:
        self.failure: str | None = None

    def succeeded(self) -> None:
        self.failure = None

    def failed(self, reason: str) -> None:
        self.failure = reason


def _described(status: int, body: bytes) -> str:
    try:
        description = json.loads(body).get("description")
    except (ValueError, AttributeError):
        description = None
    if isinstance(description, str) and description:
        return f"HTTP {status}: {description[:200]}"
    return f"HTTP {status}"


class AiohttpRequest(BaseRequest):
    """A ``telegram.request.BaseRequest`` on one aiohttp session (created in ``initialize``).
    ``outcomes``, when given, records whether each request worked."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 256,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        pool_timeout: float = 30.0,
        outcomes: Outcomes | None = None,
    ) -> None:
        self._outcomes = outcomes or Outcomes()
        self._pool_size = connection_pool_size
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        timeout = aiohttp.ClientTimeout(
            connect=self._or(pool_timeout, self._pool_timeout),
            sock_connect=self._or(connect_timeout, self._connect_timeout),
            sock_read=self._or(read_timeout, self._read_timeout),
        )
        try:
            async with session.request(
                method, url, data=self._body(request_data), timeout=timeout
            ) as response:
                status, body = response.status, await response.read()
        except TimeoutError as error:
            self._outcomes.failed("timed out")
            raise TimedOut from error
        except aiohttp.ClientError as error:
            self._outcomes.failed(f"network error ({error.__class__.__name__})")
            raise NetworkError(f"aiohttp.{error.__class__.__name__}: {error}") from error
        if 200 <= status < 300:
            self._outcomes.succeeded()
        else:
            self._outcomes.failed(_described(status, body))
        return status, body

    @staticmethod
    def _or(value: object, default: float) -> float | None:
        if value is BaseRequest.DEFAULT_NONE:
            return default
        return value if isinstance(value, int | float) else None

    @staticmethod
    def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
        """Form fields as PTB encodes them (non-strings JSON), multipart when there are files."""
        if request_data is None:
            return None
        fields = request_data.json_parameters
        files = request_data.multipart_data
        if not files:
            return fields
        form = aiohttp.FormData()
        for name, value in fields.items():
            form.add_field(name, value)
        for name, (filename, content, mime_type) in files.items():
            form.add_field(name, content, filename=filename, content_type=mime_type)
        return form
