"""Narrowing helpers for parsed JSON (``core.domain.JsonValue``), so no ``Any`` leaks out."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from core.domain import JsonObject, JsonValue


def load_json(text: str | bytes) -> JsonValue:
    """Parse JSON text; raises ValueError (json.JSONDecodeError) when it is not JSON."""
    value: JsonValue = json.loads(text)
    return value


def as_object(value: JsonValue | None) -> JsonObject | None:
    return value if isinstance(value, dict) else None


def get_object(obj: JsonObject | None, key: str) -> JsonObject | None:
    return as_object(obj.get(key)) if obj is not None else None


def get_list(obj: JsonObject | None, key: str) -> list[JsonValue] | None:
    if obj is None:
        return None
    value = obj.get(key)
    return value if isinstance(value, list) else None


def get_str(obj: JsonObject | None, key: str) -> str | None:
    if obj is None:
        return None
    value = obj.get(key)
    return value if isinstance(value, str) else None


def get_int(obj: JsonObject | None, key: str) -> int | None:
    if obj is None:
        return None
    value = obj.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def get_bool(obj: JsonObject | None, key: str) -> bool | None:
    if obj is None:
        return None
    value = obj.get(key)
    return value if isinstance(value, bool) else None


def to_decimal(value: object) -> Decimal | None:
    """A JSON number or numeric string as an exact Decimal (floats via their shortest repr)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float | str):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            return None
        return result if result.is_finite() else None
    return None


def get_decimal(obj: JsonObject | None, key: str) -> Decimal | None:
    return to_decimal(obj.get(key)) if obj is not None else None
