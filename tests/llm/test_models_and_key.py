"""GET /models, GET /key and the ModelCatalog."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal

import pytest

from core.domain import KeyInfo, LLMEvent, LLMRequest, ModelInfo
from core.errors import AuthError, UpstreamUnavailableError
from core.llm import CatalogUnavailableError, ModelCatalog
from tests.fakes.openrouter import ErrorReply, FakeOpenRouter, model_entry

from .conftest import ClientFactory
from .helpers import API_KEY, CHAIN, FakeClock, collect, make_request


async def test_list_models_parses_the_catalogue(make_client: ClientFactory) -> None:
    models = {m.id: m for m in await make_client().list_models()}
    assert set(CHAIN) <= set(models)
    free = models[CHAIN[0]]
    assert free.context_length == 262144
    assert free.is_free
    assert free.supports_reasoning
    claude = models["anthropic/claude-sonnet-4.5"]
    assert claude.prompt_price == Decimal("0.000003")
    assert claude.completion_price == Decimal("0.000015")
    assert "image" in claude.input_modalities
    assert claude.max_completion_tokens == 65536
    assert not claude.is_free


async def test_list_models_tolerates_odd_entries(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    entry = model_entry("x/y", prompt="0.5", reasoning=False, max_completion_tokens=None)
    del entry["architecture"]
    fake.models = [entry, {"name": "no id"}]
    models = await make_client().list_models()
    assert models == [
        ModelInfo(
            id="x/y",
            name="x/y",
            context_length=262144,
            max_completion_tokens=None,
            prompt_price=Decimal("0.5"),
            completion_price=Decimal("0"),
            supports_reasoning=False,
            input_modalities=("text",),
        )
    ]


async def test_list_models_errors_are_typed(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.models_error = ErrorReply.unavailable()
    with pytest.raises(UpstreamUnavailableError):
        await make_client().list_models()


async def test_key_info(fake: FakeOpenRouter, make_client: ClientFactory) -> None:
    client = make_client()
    fake.key_data = {"limit": 10, "limit_remaining": 9.75, "is_free_tier": False}
    await collect(client, make_request())  # one free request is served
    info = await client.key_info()
    assert info == KeyInfo(
        label="sk-or-v1-abc...xyz",
        limit=Decimal("10"),
        limit_remaining=Decimal("9.75"),
        usage=Decimal("0.25"),
        usage_daily=Decimal("0.0125"),
        is_free_tier=False,
        free_daily_limit=50,
        free_daily_remaining=49,
    )


async def test_key_is_read_at_most_once_a_minute(
    fake: FakeOpenRouter, make_client: ClientFactory, clock: FakeClock
) -> None:
    client = make_client()
    first = await client.key_info()
    fake.key_data = {"limit_remaining": 1.5, "limit": 2}
    assert await client.key_info() == first  # within the minute: the same answer, no request
    clock.advance(60)
    later = await client.key_info()
    assert later is not None
    assert later.limit_remaining == Decimal("1.5")
    assert [r.path for r in fake.requests].count("/api/v1/key") == 2


async def test_key_info_failure_is_none_and_logged_without_secrets(
    fake: FakeOpenRouter, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="chatrelay.llm")
    fake.key_error = ErrorReply(500, "Internal Server Error")
    assert await make_client().key_info() is None
    assert any(r.levelno == logging.WARNING and r.status == 500 for r in caplog.records)
    assert API_KEY not in caplog.text


async def test_key_info_when_the_server_is_gone(make_client: ClientFactory) -> None:
    client = make_client(base_url="http://127.0.0.1:9/api/v1", connect_timeout=0.5)
    assert await client.key_info() is None


# ------------------------------------------------------------------ catalog


def info(model_id: str, context: int = 1000) -> ModelInfo:
    return ModelInfo(id=model_id, name=model_id, context_length=context)


class StubClient:
    """An LLMClient whose list_models is scripted."""

    def __init__(self, models: Sequence[ModelInfo]) -> None:
        self.models = list(models)
        self.calls = 0
        self.fail = False
        self.gate: asyncio.Event | None = None

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        raise NotImplementedError
        yield  # pragma: no cover

    async def list_models(self) -> Sequence[ModelInfo]:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise UpstreamUnavailableError("down", status=503)
        return list(self.models)

    async def key_info(self) -> KeyInfo | None:
        return None


IDS = [
    "anthropic/claude-sonnet-4.5",
    "anthropic/claude-opus-4.1",
    "openai/gpt-5",
    "openai/gpt-5-mini",
    "deepseek/deepseek-v4-flash:free",
]


@pytest.fixture
def stub() -> StubClient:
    return StubClient([info(i) for i in IDS])


async def test_catalog_caches_for_the_ttl(stub: StubClient, clock: FakeClock) -> None:
    catalog = ModelCatalog(stub, clock, ttl_seconds=60)
    assert [m.id for m in await catalog.get()] == IDS
    clock.advance(59)
    await catalog.get()
    assert stub.calls == 1
    clock.advance(2)
    stub.models.append(info("new/model"))
    assert (await catalog.find("new/model")) is not None
    assert stub.calls == 2


async def test_catalog_keeps_a_stale_list_when_refresh_fails(
    stub: StubClient, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    catalog = ModelCatalog(stub, clock, ttl_seconds=60)
    await catalog.get()
    clock.advance(61)
    stub.fail = True
    assert [m.id for m in await catalog.get()] == IDS
    assert "refresh failed" in caplog.text
    await catalog.get()
    assert stub.calls == 2  # the failed refresh is not retried on every call
    clock.advance(61)
    stub.fail = False
    await catalog.get()
    assert stub.calls == 3


async def test_catalog_that_never_loaded_raises(stub: StubClient, clock: FakeClock) -> None:
    stub.fail = True
    catalog = ModelCatalog(stub, clock, ttl_seconds=60)
    with pytest.raises(CatalogUnavailableError) as caught:
        await catalog.get()
    assert isinstance(caught.value, UpstreamUnavailableError)
    stub.fail = False
    assert len(await catalog.get()) == len(IDS)  # tried again on the next call


async def test_concurrent_callers_share_one_fetch(stub: StubClient, clock: FakeClock) -> None:
    stub.gate = asyncio.Event()
    catalog = ModelCatalog(stub, clock, ttl_seconds=60)
    waiting = [asyncio.create_task(catalog.get()) for _ in range(10)]
    await asyncio.sleep(0)
    stub.gate.set()
    results = await asyncio.gather(*waiting)
    assert stub.calls == 1
    assert all(len(r) == len(IDS) for r in results)


async def test_find_and_context_length(stub: StubClient, clock: FakeClock) -> None:
    stub.models.append(info("no/context", context=0))
    catalog = ModelCatalog(stub, clock, ttl_seconds=60)
    assert await catalog.find("openai/gpt-5") == info("openai/gpt-5")
    assert await catalog.find("openai/gpt-6") is None
    assert await catalog.context_length("openai/gpt-5") == 1000
    assert await catalog.context_length("no/context") is None
    assert await catalog.context_length("missing/model") is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("claude", ["anthropic/claude-opus-4.1", "anthropic/claude-sonnet-4.5"]),
        ("openai/gpt5", ["openai/gpt-5"]),
        ("deepseek/deepseek-v4-flsh:free", ["deepseek/deepseek-v4-flash:free"]),
        ("GPT-5-MINI", ["openai/gpt-5-mini"]),
        ("zzzzzz", []),
    ],
)
async def test_close_matches(
    stub: StubClient, clock: FakeClock, typed: str, expected: list[str]
) -> None:
    catalog = ModelCatalog(stub, clock, ttl_seconds=60)
    matches = await catalog.close_matches(typed)
    assert matches[: len(expected)] == expected
    assert len(matches) <= 5


async def test_catalog_over_the_real_client(make_client: ClientFactory, clock: FakeClock) -> None:
    catalog = ModelCatalog(make_client(), clock, ttl_seconds=3600)
    assert await catalog.context_length("openai/gpt-5") == 400000
    assert "openai/gpt-5" in await catalog.close_matches("gpt-5")


async def test_catalog_propagates_auth_errors_only_as_unavailable(
    make_client: ClientFactory, clock: FakeClock
) -> None:
    from pydantic import SecretStr

    catalog = ModelCatalog(make_client(api_key=SecretStr("nope")), clock, ttl_seconds=60)
    with pytest.raises(CatalogUnavailableError) as caught:
        await catalog.get()
    assert isinstance(caught.value.__cause__, AuthError)
    assert caught.value.status == 401
