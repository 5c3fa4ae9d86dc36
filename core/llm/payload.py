"""The JSON body of ``POST /chat/completions`` for one attempt of a request.

Reasoning: enabled -> ``{"enabled": true}`` plus ``effort`` and ``exclude`` when set; disabled (or
effort ``"none"``) -> ``{"effort": "none"}``, the documented way to switch it off. (Models whose
reasoning is mandatory reject that with a 400.) Assistant turns carry their ``reasoning_details``
exactly as stored, as OpenRouter requires for multi-turn reasoning. A turn with images is sent
as OpenAI-style content parts (the text part first, left out when empty, then one ``image_url``
part per image); every other turn keeps a plain string ``content``.
"""

from __future__ import annotations

from core.domain import JsonObject, JsonValue, LLMRequest, PromptTurn, ReasoningConfig


def chat_body(request: LLMRequest, index: int, *, stream: bool) -> JsonObject:
    """The body for trying ``request.models[index]``, with the rest of the chain as ``models``."""
    chain = request.models[index:]
    body: JsonObject = {
        "model": chain[0],
        "messages": [_message(turn) for turn in request.messages],
        "reasoning": reasoning_field(request.reasoning),
    }
    if len(chain) > 1:
        body["models"] = list(chain)
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.user:
        body["user"] = request.user
    if stream:
        body["stream"] = True
    return body


def reasoning_field(config: ReasoningConfig) -> JsonObject:
    if not config.enabled or config.effort == "none":
        return {"effort": "none"}
    field: JsonObject = {"enabled": True}
    if config.effort:
        field["effort"] = config.effort
    if config.exclude:
        field["exclude"] = True
    return field


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
