"""Discord's checks on message bodies and application commands (errors as Discord words them)."""

from __future__ import annotations

import re
from typing import Any

from .model import DiscordError, Json, field_error

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
_EMBED_LIMITS = {"title": 256, "description": 4096}
_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


def _too_long(limit: int) -> Json:
    return field_error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _embed_errors(embed: Json) -> tuple[Json, int]:
    errors: Json = {}
    total = 0
    for key, limit in _EMBED_LIMITS.items():
        value = embed.get(key) or ""
        total += len(value)
        if len(value) > limit:
            errors[key] = _too_long(limit)
    fields = embed.get("fields") or []
    if len(fields) > 25:
        errors["fields"] = _too_long(25)
    for i, fld in enumerate(fields):
        name, value = fld.get("name") or "", fld.get("value") or ""
        total += len(name) + len(value)
        sub: Json = {}
        if len(name) > 256:
            sub["name"] = _too_long(256)
        if len(value) > 1024:
            sub["value"] = _too_long(1024)
        if sub:
            errors.setdefault("fields", {})[str(i)] = sub
    for key, inner, limit in (("footer", "text", 2048), ("author", "name", 256)):
        value = (embed.get(key) or {}).get(inner) or ""
        total += len(value)
        if len(value) > limit:
            errors[key] = {inner: _too_long(limit)}
    return errors, total


def check_message(payload: Json, *, files: int = 0, edit: bool = False) -> None:
    """Raise ``DiscordError`` for what Discord refuses: lengths, embed limits, emptiness."""
    errors: Json = {}
    content = payload.get("content")
    if content is not None and not isinstance(content, str):
        errors["content"] = field_error("STRING_TYPE_CONVERT", "Could not interpret as string.")
    elif content is not None and len(content) > MAX_CONTENT:
        errors["content"] = _too_long(MAX_CONTENT)
    embeds = payload.get("embeds")
    if embeds is not None:
        if len(embeds) > MAX_EMBEDS:
            errors["embeds"] = _too_long(MAX_EMBEDS)
        else:
            total = 0
            for i, embed in enumerate(embeds):
                sub, size = _embed_errors(embed)
                total += size
                if sub:
                    errors.setdefault("embeds", {})[str(i)] = sub
            if total > MAX_EMBED_TOTAL and "embeds" not in errors:
                errors["embeds"] = field_error(
                    "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
                )
    if errors:
        raise DiscordError.invalid_form(errors)
    if not edit and not (
        content or embeds or files or payload.get("sticker_ids") or payload.get("poll")
    ):
        raise DiscordError(400, 50006, "Cannot send an empty message")


def check_commands(commands: Any) -> list[Json]:
    """Bulk-overwrite validation: names 1-32 lowercase, descriptions 1-100, at most 100."""
    if not isinstance(commands, list):
        raise DiscordError.invalid_form(
            field_error("ARRAY_TYPE_CONVERT", "Only iterables may be used in a ListType")
        )
    if len(commands) > 100:
        raise DiscordError.invalid_form(_too_long(100))
    errors: Json = {}
    seen: set[tuple[int, str]] = set()
    for i, command in enumerate(commands):
        sub: Json = {}
        name = command.get("name") or ""
        kind = command.get("type", 1)
        if kind == 1 and (not _COMMAND_NAME.fullmatch(name) or name != name.lower()):
            sub["name"] = field_error("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        elif not 1 <= len(name) <= 32:
            sub["name"] = field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
        description = command.get("description") or ""
        if kind == 1 and not 1 <= len(description) <= 100:
            sub["description"] = field_error(
                "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        if len(command.get("options") or []) > 25:
            sub["options"] = _too_long(25)
        if (kind, name) in seen:
            sub["name"] = field_error(
                "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"
            )
        seen.add((kind, name))
        if sub:
            errors[str(i)] = sub
    if errors:
        raise DiscordError.invalid_form(errors)
    return commands
