"""Configuration of the OpenRouter client and the shared HTTP client it runs on."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from pydantic import SecretStr

from core.settings import Settings

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"


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
    by the client itself around each read, so httpx's own read timeout is off.
    """
    timeout = httpx.Timeout(
        connect=config.connect_timeout, read=None, write=config.connect_timeout, pool=None
    )
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=min(max_connections, 20)
    )
    return httpx.AsyncClient(
        base_url=config.base_url,
        headers=config.headers(),
        timeout=timeout,
        limits=limits,
        follow_redirects=False,
    )
