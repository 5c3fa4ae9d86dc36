"""The JSON body of ``POST /chat/completions`` for one attempt of a request.

Reasoning: enabled -> ``{"enabled": true}`` plus ``effort`` and ``exclude`` when set; disabled (or
effort ``"none"``) -> ``{"effort": "none"}``, the documented way to switch it off. A model whose
reasoning is mandatory rejects that with a 400: it gets its lowest supported effort instead, or
no ``reasoning`` field at all when its efforts are unknown. An effort the model does not list is
replaced by the nearest one it does. Assistant turns carry their ``reasoning_details``
exactly as stored, as OpenRouter requires for multi-turn reasoning. A turn with images is sent
as OpenAI-style content parts (the text part first, left out when empty, then one ``image_url``
part per image); every other turn keeps a plain string ``content``.
"""

from __future__ import annotations

from core.domain import (
    JsonObject,
    JsonValue,
    LLMRequest,
    PromptTurn,
    ReasoningConfig,
    ReasoningSupport,
)

EFFORTS = ("max", "xhigh", "high", "medium", "low", "minimal")  # strongest first


def chat_body(request: LLMRequest, index: int, *, stream: bool) -> JsonObject:
    """The body for trying ``request.models[index]``, with the rest of the chain as ``models``."""
    chain = request.models[index:]
    body: JsonObject = {
        "model": chain[0],
        "messages": [_message(turn) for turn in request.messages],
    }
    reasoning = reasoning_field(request.reasoning, request.support_for(chain[0]))
    if reasoning is not None:
        body["reasoning"] = reasoning
    if len(chain) > 1:
        body["models"] = list(chain)
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.user:
        body["user"] = request.user
    if stream:
        body["stream"] = True
    return body


def reasoning_field(
    config: ReasoningConfig, support: ReasoningSupport | None = None
) -> JsonObject | None:
    """The ``reasoning`` object for a model, or None to leave it out."""
    support = support or ReasoningSupport()
    if not config.enabled or config.effort == "none":
        if not support.mandatory:
            return {"effort": "none"}
        lowest = _lowest(support.efforts)
        return {"effort": lowest} if lowest else None
    field: JsonObject = {"enabled": True}
    if config.effort:
        field["effort"] = _nearest(config.effort, support.efforts)
    if config.exclude:
        field["exclude"] = True
    return field


def _lowest(efforts: tuple[str, ...]) -> str | None:
    known = [effort for effort in EFFORTS if effort in efforts]
    return known[-1] if known else None


def _nearest(effort: str, efforts: tuple[str, ...]) -> str:
    """``effort`` when the model takes it (or lists nothing), else the closest it lists."""
    known = [e for e in EFFORTS if e in efforts]
    if not known or effort in known or effort not in EFFORTS:
        return effort
    rank = EFFORTS.index(effort)
    return min(known, key=lambda e: (abs(EFFORTS.index(e) - rank), EFFORTS.index(e)))


def _message(turn: PromptTurn) -> JsonValue:
    message: JsonObject = {"role": turn.role, "content": _content(turn)}
    if turn.role == "assistant" and turn.reasoning_details:
        message["reasoning_details"] = turn.reasoning_details
    return message


def _content(turn: PromptTurn) -> JsonValue:
    if not turn.images:
        return turn.content
    parts: list[JsonValue] = []
    if turn.content:
        parts.append({"type": "text", "text": turn.content})
    parts.extend({"type": "image_url", "image_url": {"url": url}} for url in turn.images)
    return parts
