"""Parsing of ``GET /models`` and ``GET /key`` documents into domain values."""

from __future__ import annotations

from core.domain import JsonObject, JsonValue, KeyInfo, ModelInfo, ReasoningSupport
from core.llm.jsonvalues import (
    as_object,
    get_bool,
    get_decimal,
    get_int,
    get_list,
    get_object,
    get_str,
)


def parse_model_list(document: JsonValue) -> list[ModelInfo]:
    """``{"data": [Model, ...]}`` -> ModelInfo per entry that has an id (others are skipped)."""
    entries = get_list(as_object(document), "data") or []
    models = []
    for entry in entries:
        model = parse_model(as_object(entry))
        if model is not None:
            models.append(model)
    return models


def parse_model(entry: JsonObject | None) -> ModelInfo | None:
    model_id = get_str(entry, "id")
    if entry is None or not model_id:
        return None
    top = get_object(entry, "top_provider")
    pricing = get_object(entry, "pricing")
    parameters = get_list(entry, "supported_parameters") or []
    modalities = get_list(get_object(entry, "architecture"), "input_modalities")
    return ModelInfo(
        id=model_id,
        name=get_str(entry, "name") or model_id,
        context_length=get_int(entry, "context_length") or get_int(top, "context_length") or 0,
        max_completion_tokens=get_int(top, "max_completion_tokens"),
        prompt_price=get_decimal(pricing, "prompt"),
        completion_price=get_decimal(pricing, "completion"),
        supports_reasoning="reasoning" in parameters,
        input_modalities=tuple(m for m in modalities if isinstance(m, str))
        if modalities
        else ("text",),
        reasoning=parse_reasoning_support(get_object(entry, "reasoning")),
    )


def parse_reasoning_support(reasoning: JsonObject | None) -> ReasoningSupport:
    """``{"mandatory": true, "supported_efforts": ["low", "high"], ...}`` (absent: no limits)."""
    efforts = get_list(reasoning, "supported_efforts") or []
    return ReasoningSupport(
        mandatory=bool(get_bool(reasoning, "mandatory")),
        efforts=tuple(effort for effort in efforts if isinstance(effort, str)),
    )


def parse_key_info(document: JsonValue) -> KeyInfo | None:
    """``{"data": {...}}`` of ``GET /key``; None when there is no ``data`` object."""
    data = get_object(as_object(document), "data")
    if data is None:
        return None
    free = get_object(data, "free_model_daily_requests")
    return KeyInfo(
        label=get_str(data, "label"),
        limit=get_decimal(data, "limit"),
        limit_remaining=get_decimal(data, "limit_remaining"),
        usage=get_decimal(data, "usage"),
        usage_daily=get_decimal(data, "usage_daily"),
        is_free_tier=bool(get_bool(data, "is_free_tier")),
        free_daily_limit=get_int(free, "limit"),
        free_daily_remaining=get_int(free, "remaining"),
    )
