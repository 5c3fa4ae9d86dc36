"""Fixtures for the OpenRouter client tests: a fake OpenRouter over HTTP and a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from pydantic import SecretStr

from core.llm import (
    LimitSettings,
    ModelLimits,
    OpenRouterClient,
    OpenRouterConfig,
    build_http_client,
)
from tests.fakes.openrouter import FakeOpenRouter

from .helpers import API_KEY, FakeClock

ClientFactory = Callable[..., OpenRouterClient]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeOpenRouter]:
    """Its free-model minute window runs on the test's clock, like the client's."""
    async with FakeOpenRouter(api_key=API_KEY, clock=clock.monotonic) as server:
        yield server


@pytest.fixture
async def make_client(fake: FakeOpenRouter, clock: FakeClock) -> AsyncIterator[ClientFactory]:
    """``make_client(rpm=0, tpm=0, free_rpm=20, max_connections=100, **OpenRouterConfig
    fields)``: the limits default to a deployment's (free models 20 a minute, paid unlimited)."""
    opened = []
    clients: list[OpenRouterClient] = []

    def make(
        *,
        rpm: int = 0,
        tpm: int = 0,
        free_rpm: int = 20,
        limits: LimitSettings | None = None,
        max_connections: int = 100,
        **fields: object,
    ) -> OpenRouterClient:
        settings: dict[str, object] = {
            "api_key": SecretStr(API_KEY),
            "base_url": fake.base_url,
            "first_token_timeout": 5.0,
            "idle_timeout": 5.0,
            "total_timeout": 20.0,
        }
        settings.update(fields)
        config = OpenRouterConfig(**settings)  # type: ignore[arg-type]
        http = build_http_client(config, max_connections=max_connections)
        opened.append(http)
        limits = limits or LimitSettings(
            free_requests_per_minute=free_rpm, requests_per_minute=rpm, tokens_per_minute=tpm
        )
        client = OpenRouterClient(http, config, ModelLimits(limits, clock), clock)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
    for http in opened:
        await http.aclose()


@pytest.fixture
def client(make_client: ClientFactory) -> OpenRouterClient:
    return make_client()
