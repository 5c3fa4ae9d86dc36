"""The bot's own words, in every language it speaks."""

from core.i18n.translator import Translator

__all__ = ["Translator"]
