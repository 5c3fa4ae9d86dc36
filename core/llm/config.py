"""Configuration of the OpenRouter client and the shared HTTP client it runs on."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from core.settings import Settings

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
SHARD_CONNECTIONS = 16  # connections per httpcore pool (see ShardedTransport)


@dataclass(frozen=True, slots=True)
class OpenRouterConfig:
    """Timeouts in seconds.

    ``connect_timeout``: TCP/TLS connect. ``first_token_timeout``: from sending the request to the
    first content or reasoning delta (keep-alive comments do not count). ``idle_timeout``: the
    longest silence between two received lines after the first token. ``total_timeout``: one
    ``stream()`` call, every attempt and retry pause included, time spent queued in the rate
    limiter excluded. Without streaming the response headers must come within
    ``first_token_timeout`` and the whole body within ``total_timeout``.
    ``max_attempts``: HTTP attempts per ``stream()`` across the fallback chain.
    ``max_retry_wait``: the longest pause before starting the chain over.
    """

    api_key: SecretStr
    base_url: str = DEFAULT_BASE_URL
    stream: bool = True
    connect_timeout: float = 10.0
    first_token_timeout: float = 120.0
    idle_timeout: float = 60.0
    total_timeout: float = 600.0
    max_attempts: int = 4
    max_retry_wait: float = 30.0
    app_url: str = "https://github.com/chatrelay/chatrelay"
    app_title: str = "chatrelay"

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenRouterConfig:
        """Raises core.errors.ConfigError when no API key is configured."""
        return cls(
            api_key=settings.require_api_key(),
            base_url=settings.openrouter_base_url.rstrip("/"),
            stream=settings.openrouter_stream,
            connect_timeout=settings.openrouter_connect_timeout,
            first_token_timeout=settings.openrouter_first_token_timeout,
            idle_timeout=settings.openrouter_idle_timeout,
            total_timeout=settings.openrouter_total_timeout,
            max_attempts=settings.openrouter_max_attempts,
            max_retry_wait=settings.openrouter_max_retry_wait,
            app_url=settings.openrouter_app_url,
            app_title=settings.openrouter_app_title,
        )

    def headers(self) -> dict[str, str]:
        """Auth and app-attribution headers (the key is only ever placed here)."""
        return {
            "Authorization": f"Bearer {self.api_key.get_secret_value()}",
            "HTTP-Referer": self.app_url,
            "X-OpenRouter-Title": self.app_title,
        }


def build_http_client(config: OpenRouterConfig, *, max_connections: int = 100) -> httpx.AsyncClient:
    """The one HTTP client for OpenRouter; the composition root owns it and closes it.

    httpx enforces the connect timeout; read deadlines (first token, idle, total) are enforced
    by the client itself around each read, so httpx's own read timeout is off. Every connection
    may stay open for reuse: a new one costs a TCP and TLS handshake per request.
    """
    timeout = httpx.Timeout(
        connect=config.connect_timeout, read=None, write=config.connect_timeout, pool=None
    )
    return httpx.AsyncClient(
        base_url=config.base_url,
        headers=config.headers(),
        timeout=timeout,
        transport=ShardedTransport(max_connections),
        follow_redirects=False,
    )


class ShardedTransport(httpx.AsyncBaseTransport):
    """Several small connection pools behind one client, taken in turn.

    httpcore's pool looks at every connection (and polls every idle socket) for each request,
    twice over for idle ones, so its cost grows with the square of the pool size: at 100
    streaming requests in flight that was most of the client's CPU. Pools of at most
    ``SHARD_CONNECTIONS`` keep that cost flat while the total stays ``max_connections``.
    """

    def __init__(self, max_connections: int) -> None:
        shards = max(1, -(-max_connections // SHARD_CONNECTIONS))
        per_shard = -(-max_connections // shards)
        limits = httpx.Limits(
            max_connections=per_shard, max_keepalive_connections=per_shard, keepalive_expiry=30.0
        )
        ssl_context = httpx.create_ssl_context()  # loading the CA bundle once is enough
        self._shards = [
            httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits) for _ in range(shards)
        ]
        self._turn = itertools.cycle(self._shards)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await next(self._turn).handle_async_request(request)

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()
