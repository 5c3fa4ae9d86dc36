"""Downloads of what users send (photos, attachments), capped while they stream: a size the
platform reports can be wrong or missing, so the body is read in chunks and the download stops
as soon as it passes the limit."""

from __future__ import annotations

import math

import aiohttp

CHUNK_BYTES = 64 * 1024


class DownloadError(Exception):
    """The file could not be downloaded (HTTP error, network error, timeout)."""


class TooLarge(Exception):
    """The file is larger than ``limit`` bytes; ``size`` is what is known of its size (the
    declared size, or the bytes received when the download was stopped)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes, more than the limit of {limit}")
        self.size = size
        self.limit = limit


def check_declared(size: int | None, limit: int) -> None:
    """Refuse before downloading when the platform says the file is too large."""
    if size is not None and size > limit:
        raise TooLarge(size, limit)


def mebibytes(size: int) -> str:
    """Bytes as MiB with one decimal at most, rounded up so that a size just over a limit never
    reads as the limit itself: ``10485760`` -> ``"10"``, ``10485761`` -> ``"10.1"``."""
    tenths = math.ceil(size * 10 / (1024 * 1024))
    return f"{tenths // 10}.{tenths % 10}".removesuffix(".0")


class Downloader:
    """One aiohttp session for an adapter's downloads: ``open()`` on start, ``aclose()`` on
    stop. URLs may carry secrets (Telegram's file URLs hold the bot token): they never appear
    in errors."""

    def __init__(
        self,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        total_timeout: float = 120.0,
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(
            total=total_timeout, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._session: aiohttp.ClientSession | None = None

    def open(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, raise_for_status=False)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def fetch(self, url: str, limit: int) -> bytes:
        """The body at ``url``; TooLarge past ``limit`` bytes, DownloadError on failure."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("Downloader.open() was not called")
        try:
            async with session.get(url) as response:
                if response.status != 200:
                    raise DownloadError(f"HTTP {response.status}")
                check_declared(response.content_length, limit)
                return await _read_capped(response, limit)
        except TimeoutError:
            raise DownloadError("timed out") from None
        except aiohttp.ClientError as error:
            raise DownloadError(type(error).__name__) from None


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    body = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK_BYTES):
        body += chunk
        if len(body) > limit:
            raise TooLarge(len(body), limit)
    return bytes(body)
