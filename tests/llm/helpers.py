"""Shared helpers of the OpenRouter client tests."""

from __future__ import annotations

from core.domain import Completion, LLMEvent, LLMRequest, PromptTurn
from core.ports import LLMClient
from tests.support.clock import FakeClock

API_KEY = "test-key"
__all__ = ["API_KEY", "CHAIN", "FakeClock", "collect", "completion_of", "make_request"]

CHAIN = ("tencent/hy3-preview:free", "deepseek/deepseek-v4-flash:free", "openrouter/free")


def make_request(
    text: str = "hello there", models: tuple[str, ...] = CHAIN, **fields: object
) -> LLMRequest:
    messages = fields.pop("messages", (PromptTurn("user", text),))
    return LLMRequest(models=models, messages=messages, **fields)  # type: ignore[arg-type]


async def collect(client: LLMClient, request: LLMRequest) -> list[LLMEvent]:
    return [event async for event in client.stream(request)]


def completion_of(events: list[LLMEvent]) -> Completion:
    assert isinstance(events[-1], Completion), events
    assert sum(isinstance(event, Completion) for event in events) == 1
    return events[-1]
