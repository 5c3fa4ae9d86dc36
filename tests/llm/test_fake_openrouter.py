"""The fake OpenRouter itself: the protocol details other tests rely on."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from core.errors import ContextTooLongError, DailyQuotaError, ModelNotFoundError
from tests.fakes.openrouter import ROUTED_FREE_MODEL, FakeOpenRouter, model_entry

from .conftest import ClientFactory
from .helpers import API_KEY, CHAIN, collect, completion_of, make_request

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": f"Bearer {API_KEY}"}
BODY = {"model": CHAIN[0], "messages": [{"role": "user", "content": "hi"}]}


def _raw_client(fake: FakeOpenRouter) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=fake.base_url, headers=AUTH)


@pytest.fixture
async def raw(fake: FakeOpenRouter) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.base_url) as http:
        yield http


async def test_missing_or_wrong_key_is_401(raw: httpx.AsyncClient) -> None:
    missing = await raw.post("/chat/completions", json=BODY)
    wrong = await raw.get("/key", headers={"Authorization": "Bearer nope"})
    assert missing.status_code == 401
    assert missing.json() == {
        "error": {"code": 401, "message": "No auth credentials found"},
        "user_id": "user_fake",
    }
    assert wrong.status_code == 401


async def test_stream_shape(raw: httpx.AsyncClient) -> None:
    response = await raw.post("/chat/completions", json={**BODY, "stream": True}, headers=AUTH)
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["x-generation-id"].startswith("gen-")
    events = [line[6:] for line in response.text.split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    assert {"prompt_tokens", "completion_tokens", "cost"} <= set(usage_chunk["usage"])
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == CHAIN[0] for c in chunks)
    detail = chunks[0]["choices"][0]["delta"]["reasoning_details"][0]
    assert detail["type"] == "reasoning.text"
    assert detail["index"] == 0


async def test_unknown_model_is_model_not_found_with_availability(
    raw: httpx.AsyncClient, make_client: ClientFactory
) -> None:
    response = await raw.post("/chat/completions", json={**BODY, "model": "no/such"}, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["error"]["availability"]["code"] == "model_not_found"
    with pytest.raises(ModelNotFoundError):
        await collect(make_client(), make_request(models=("no/such",)))


async def test_prompt_longer_than_the_context_is_rejected(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.models.append(model_entry("tiny/model", context_length=100))
    with pytest.raises(ContextTooLongError):
        await collect(make_client(), make_request("x" * 1000, models=("tiny/model",)))


async def test_free_models_per_minute_limit() -> None:
    async with FakeOpenRouter(api_key=API_KEY, free_requests_per_minute=2) as fake:
        http = _raw_client(fake)
        statuses = [(await http.post("/chat/completions", json=BODY)) for _ in range(3)]
        paid = await http.post(
            "/chat/completions", json={**BODY, "model": "anthropic/claude-sonnet-4.5"}
        )
        await http.aclose()
    assert [r.status_code for r in statuses] == [200, 200, 429]
    limited = statuses[-1]
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["x-ratelimit-limit"] == "2"
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert "free-models-per-min" in limited.json()["error"]["message"]
    assert paid.status_code == 200


async def test_free_daily_quota_and_key_counter() -> None:
    async with FakeOpenRouter(api_key=API_KEY, free_daily_limit=1) as fake:
        http = _raw_client(fake)
        first = await http.post("/chat/completions", json=BODY)
        second = await http.post("/chat/completions", json=BODY)
        key = (await http.get("/key")).json()["data"]
        await http.aclose()
    assert first.status_code == 200
    assert second.status_code == 429
    assert "free-models-per-day" in second.json()["error"]["message"]
    assert key["free_model_daily_requests"] == {"limit": 1, "remaining": 0, "used": 1}


async def test_free_limit_error_reaches_the_client(make_client: ClientFactory) -> None:
    async with FakeOpenRouter(api_key=API_KEY, free_daily_limit=1) as fake:
        client = make_client(base_url=fake.base_url)
        completion_of(await collect(client, make_request(models=(CHAIN[0],))))
        with pytest.raises(DailyQuotaError) as caught:
            await collect(client, make_request(models=(CHAIN[0],)))
    assert caught.value.retry_after is not None  # from X-RateLimit-Reset (UTC midnight)


async def test_router_reports_the_model_that_served(make_client: ClientFactory) -> None:
    done = completion_of(await collect(make_client(), make_request(models=("openrouter/free",))))
    assert done.model_served == ROUTED_FREE_MODEL
    assert not done.fallback_used


async def test_runs_standalone_and_prints_its_base_url() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.openrouter",
        "--port",
        "0",
        "--no-limits",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
        base_url = line.decode().strip()
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/api/v1")
        async with httpx.AsyncClient() as http:
            response = await http.get(f"{base_url}/models", headers=AUTH)
        assert response.status_code == 200
        assert any(m["id"] == CHAIN[0] for m in response.json()["data"])
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=10) is not None
