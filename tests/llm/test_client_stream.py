"""The client against the fake OpenRouter over real HTTP: successful answers."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from core.domain import (
    ContentDelta,
    JsonValue,
    PromptTurn,
    ReasoningConfig,
    ReasoningDelta,
)
from core.llm import (
    LimitSettings,
    ModelLimits,
    OpenRouterClient,
    OpenRouterConfig,
    build_http_client,
)
from tests.fakes.openrouter import Answer, FakeOpenRouter, RawReply

from .conftest import ClientFactory
from .helpers import API_KEY, CHAIN, FakeClock, collect, completion_of, make_request


def texts(events: list[object], kind: type[ContentDelta | ReasoningDelta]) -> str:
    return "".join(event.text for event in events if isinstance(event, kind))


async def test_streams_reasoning_then_content_and_ends_with_completion(
    make_client: ClientFactory,
) -> None:
    events = await collect(make_client(), make_request("what is 2+2?"))
    done = completion_of(events)
    assert texts(events, ReasoningDelta) == "Thinking about: what is 2+2?"
    assert texts(events, ContentDelta) == "Echo: what is 2+2?"
    assert sum(isinstance(e, ContentDelta) for e in events) == 3  # streamed, not at once
    assert done.content == "Echo: what is 2+2?"
    assert done.reasoning == "Thinking about: what is 2+2?"
    assert done.model_requested == CHAIN[0]
    assert done.model_served == CHAIN[0]
    assert done.provider == "FakeProvider"
    assert done.generation_id is not None
    assert done.generation_id.startswith("gen-")
    assert done.finish_reason == "stop"
    assert not done.fallback_used
    assert done.ttft_ms is not None
    assert done.ttft_ms <= done.latency_ms


async def test_reasoning_details_accumulate_into_one_signed_entry(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.enqueue(
        Answer(
            reasoning=["Step one. ", "Step two. ", "Done."],
            signature="sig-xyz",
            detail_format="anthropic-claude-v1",
        )
    )
    done = completion_of(await collect(make_client(), make_request()))
    assert done.reasoning_details == [
        {
            "type": "reasoning.text",
            "text": "Step one. Step two. Done.",
            "signature": "sig-xyz",
            "format": "anthropic-claude-v1",
            "index": 0,
        }
    ]


async def test_mixed_reasoning_details_keep_their_order(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    encrypted: dict[str, JsonValue] = {
        "type": "reasoning.encrypted",
        "data": "opaque==",
        "id": "rs_1",
        "format": "openai-responses-v1",
        "index": 1,
    }
    fake.enqueue(
        Answer(
            reasoning_details=[
                {"type": "reasoning.text", "text": "A", "format": "unknown", "index": 0},
                {"type": "reasoning.text", "text": "B", "format": "unknown", "index": 0},
                encrypted,
            ]
        )
    )
    done = completion_of(await collect(make_client(), make_request()))
    assert done.reasoning == "AB"
    assert done.reasoning_details == [
        {"type": "reasoning.text", "text": "AB", "format": "unknown", "index": 0},
        encrypted,
    ]


async def test_reasoning_details_are_sent_back_unchanged(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    client = make_client()
    fake.enqueue(Answer(reasoning=["x", "y"], signature="sig", detail_format="anthropic-claude-v1"))
    first = completion_of(await collect(client, make_request("first")))
    assert first.reasoning_details is not None
    history = (
        PromptTurn("user", "first"),
        PromptTurn("assistant", first.content, reasoning_details=first.reasoning_details),
        PromptTurn("user", "second"),
    )
    await collect(client, make_request(messages=history))
    sent = fake.chat_requests[-1].body["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": first.content,
        "reasoning_details": first.reasoning_details,
    }
    assert json.dumps(sent[1]["reasoning_details"]) == json.dumps(first.reasoning_details)
    assert "reasoning_details" not in sent[0]
    assert "reasoning_details" not in sent[2]


async def test_keepalive_comments_are_skipped(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.enqueue(Answer(content="fine", reasoning="", keepalives=5))
    events = await collect(make_client(), make_request())
    assert completion_of(events).content == "fine"
    assert texts(events, ReasoningDelta) == ""


async def test_usage_cost_and_token_details(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    usage = {
        "prompt_tokens": 120,
        "completion_tokens": 80,
        "total_tokens": 200,
        "cost": 0.000123456789,
        "prompt_tokens_details": {"cached_tokens": 64},
        "completion_tokens_details": {"reasoning_tokens": 30},
    }
    fake.enqueue(Answer(usage=usage))
    done = completion_of(await collect(make_client(), make_request()))
    assert done.usage.prompt_tokens == 120
    assert done.usage.completion_tokens == 80
    assert done.usage.total_tokens == 200
    assert done.usage.cached_tokens == 64
    assert done.usage.reasoning_tokens == 30
    assert done.usage.cost == Decimal("0.000123456789")


async def test_cost_is_read_exactly_from_the_json_text(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    chunk = {
        "id": "gen-1",
        "model": CHAIN[0],
        "provider": "P",
        "choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}],
    }
    usage = '{"id":"gen-1","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,'
    usage += '"total_tokens":2,"cost":0.00001234567890123456789}}'
    fake.enqueue(RawReply(f"data: {json.dumps(chunk)}\n\ndata: {usage}\n\ndata: [DONE]\n\n"))
    done = completion_of(await collect(make_client(), make_request()))
    assert done.usage.cost == Decimal("0.00001234567890123456789")
    assert done.content == "ok"


async def test_paid_model_cost_comes_from_the_response(make_client: ClientFactory) -> None:
    done = completion_of(
        await collect(make_client(), make_request(models=("anthropic/claude-sonnet-4.5",)))
    )
    usage = done.usage
    expected = usage.prompt_tokens * Decimal("0.000003") + usage.completion_tokens * Decimal(
        "0.000015"
    )
    assert usage.cost is not None
    assert usage.cost == pytest.approx(expected)
    assert usage.cost > 0


async def test_non_streaming_mode(fake: FakeOpenRouter, make_client: ClientFactory) -> None:
    fake.enqueue(Answer(reasoning=["a", "b"], content="whole answer", signature="s"))
    events = await collect(make_client(stream=False), make_request())
    assert events[:2] == [ReasoningDelta("ab"), ContentDelta("whole answer")]
    done = completion_of(events)
    assert done.content == "whole answer"
    assert done.reasoning == "ab"
    assert done.reasoning_details == [
        {"type": "reasoning.text", "text": "ab", "signature": "s", "format": "unknown", "index": 0}
    ]
    assert done.usage.total_tokens > 0
    assert "stream" not in fake.chat_requests[-1].body


async def test_think_tags_split_across_chunks_become_reasoning(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    pieces = ["<th", "ink>Let me", " think</thi", "nk>\n\nThe answer", " is 4."]
    fake.enqueue(Answer(content=pieces, reasoning=""))
    events = await collect(make_client(), make_request())
    done = completion_of(events)
    assert done.content == "The answer is 4."
    assert done.reasoning == "Let me think"
    assert "<" not in texts(events, ContentDelta)
    assert texts(events, ReasoningDelta) == "Let me think"


async def test_think_tags_generated_by_the_fake(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    fake.enqueue(Answer(content="Four.", reasoning="Two plus two.", think_tags=True, chunks=7))
    done = completion_of(await collect(make_client(), make_request()))
    assert (done.content, done.reasoning) == ("Four.", "Two plus two.")


async def test_auth_and_attribution_headers(
    fake: FakeOpenRouter, make_client: ClientFactory
) -> None:
    await collect(make_client(app_url="https://example.org/bot", app_title="Relay"), make_request())
    headers = fake.chat_requests[-1].headers
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["HTTP-Referer"] == "https://example.org/bot"
    assert headers["X-OpenRouter-Title"] == "Relay"


async def test_request_body_fields(fake: FakeOpenRouter, make_client: ClientFactory) -> None:
    request = make_request(
        "hi",
        reasoning=ReasoningConfig(enabled=True, effort="high", exclude=True),
        max_tokens=512,
        user="chat-42",
        messages=(PromptTurn("system", "Be brief."), PromptTurn("user", "hi")),
    )
    await collect(make_client(), request)
    body = fake.chat_requests[-1].body
    assert body["model"] == CHAIN[0]
    assert body["models"] == list(CHAIN)
    assert body["reasoning"] == {"enabled": True, "effort": "high", "exclude": True}
    assert body["max_tokens"] == 512
    assert body["user"] == "chat-42"
    assert body["stream"] is True
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]


@pytest.mark.parametrize(
    ("config", "sent"),
    [
        (ReasoningConfig(), {"enabled": True}),
        (ReasoningConfig(effort="low"), {"enabled": True, "effort": "low"}),
        (ReasoningConfig(enabled=False), {"effort": "none"}),
        (ReasoningConfig(effort="none"), {"effort": "none"}),
    ],
)
async def test_reasoning_config(
    fake: FakeOpenRouter, make_client: ClientFactory, config: ReasoningConfig, sent: object
) -> None:
    await collect(make_client(), make_request(models=(CHAIN[0],), reasoning=config))
    body = fake.chat_requests[-1].body
    assert body["reasoning"] == sent
    assert "models" not in body
    assert "max_tokens" not in body
    assert "user" not in body


async def test_early_exit_closes_the_response_at_once(
    fake: FakeOpenRouter, clock: FakeClock
) -> None:
    config = OpenRouterConfig(api_key=SecretStr(API_KEY), base_url=fake.base_url)
    responses: list[httpx.Response] = []

    async def remember(response: httpx.Response) -> None:
        responses.append(response)

    async with build_http_client(config, max_connections=1) as http:
        http.event_hooks = {"request": [], "response": [remember]}
        client = OpenRouterClient(http, config, ModelLimits(LimitSettings(), clock), clock)
        fake.enqueue(Answer(content=["a", "b", "c"], chunk_delay=0.05))
        stream = client.stream(make_request())
        async for event in stream:
            if isinstance(event, ContentDelta):
                break
        await stream.aclose()  # type: ignore[attr-defined]
        assert len(responses) == 1
        assert responses[0].is_closed  # closed by aclose itself, not later by the GC
        # With one connection in the pool, a leaked response would block this request.
        done = completion_of(await collect(client, make_request("again")))
        assert done.content == "Echo: again"
