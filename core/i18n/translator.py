"""Looks up catalogue messages and fills in their fields."""

from __future__ import annotations

import string
from collections.abc import Mapping

from core.domain import Language
from core.i18n.catalog import MESSAGES


class Translator:
    """Translates catalogue keys; a missing key is a programming error and raises KeyError."""

    def __init__(self, messages: Mapping[str, Mapping[Language, str]] = MESSAGES) -> None:
        self._messages = messages

    def __call__(self, lang: Language, key: str, **params: object) -> str:
        template = self._messages[key][lang]
        return template.format(**params) if params else template

    def known_keys(self) -> frozenset[str]:
        return frozenset(self._messages)

    def fields(self, key: str, lang: Language) -> frozenset[str]:
        fields = string.Formatter().parse(self._messages[key][lang])
        return frozenset(name for _, name, _, _ in fields if name)
