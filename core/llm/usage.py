"""Token counts and cost, as OpenRouter reports them for the model that served the request."""

from __future__ import annotations

import json
from decimal import Decimal

from core.domain import JsonObject, Usage
from core.llm.jsonvalues import get_int, get_object, to_decimal


def parse_usage(usage: JsonObject, *, cost: Decimal | None = None) -> Usage:
    """``usage`` of a response; ``cost`` overrides ``usage.cost`` (pass the exact value)."""
    prompt = get_int(usage, "prompt_tokens") or 0
    completion = get_int(usage, "completion_tokens") or 0
    total = get_int(usage, "total_tokens")
    completion_details = get_object(usage, "completion_tokens_details")
    prompt_details = get_object(usage, "prompt_tokens_details")
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        reasoning_tokens=get_int(completion_details, "reasoning_tokens") or 0,
        cached_tokens=get_int(prompt_details, "cached_tokens") or 0,
        total_tokens=total if total is not None else prompt + completion,
        cost=cost if cost is not None else to_decimal(usage.get("cost")),
    )


def exact_cost(text: str | bytes) -> Decimal | None:
    """``usage.cost`` read straight from the JSON text, without a trip through binary floats."""
    try:
        document: object = json.loads(text, parse_float=Decimal)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    usage = document.get("usage")
    return to_decimal(usage.get("cost")) if isinstance(usage, dict) else None
