"""Structured logging: readable text by default, one JSON object per line with LOG_FORMAT=json.

Fields passed with ``extra={...}`` are kept as structured fields. Secrets never reach the output:
every handler's formatter is wrapped in a ``RedactingFormatter`` that masks them in the final text
of each record (message, arguments, ``extra`` fields, traceback and stack), written plainly or
escaped the way URLs (``%3A``, ``%253A``, ``+``), JSON and ``repr`` write them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import TextIO

REDACTED = "<redacted>"
# Shorter strings can't be masked without mangling ordinary words and numbers in the logs.
MIN_SECRET_LENGTH = 8
_BACKSLASHED = frozenset("\"'\\/")
# RFC 3986's unreserved characters: no URL, JSON or repr encoder changes them.
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+")

_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


def _hex(value: int, digits: int) -> str:
    """``value`` in hexadecimal, as a pattern that matches either case."""
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{value:0{digits}x}")


def _char_pattern(char: str) -> str:
    """Every way a log line may spell ``char``: itself, percent-encoded (once or twice), as a
    form-encoded space, or escaped by JSON or ``repr``."""
    if _UNRESERVED.fullmatch(char):
        return re.escape(char)
    forms = ["".join(f"%(?:25)?{_hex(byte, 2)}" for byte in char.encode())]
    if char == " ":
        forms.append(r"\+")
    if char in _BACKSLASHED:
        forms.append(re.escape("\\" + char))
    if not char.isascii() or not char.isprintable():
        forms.append(rf"\\u{_hex(ord(char), 4)}")
        if ord(char) < 0x100:
            forms.append(rf"\\x{_hex(ord(char), 2)}")
    forms.append(re.escape(char))  # last: an escaped spelling may begin with the character
    return "(?:" + "|".join(forms) + ")"


class SecretMask:
    """Replaces known secrets in text with ``<redacted>``, however they are encoded."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        kept = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        self.secrets: frozenset[str] = frozenset(kept)
        longest_first = sorted(kept, key=len, reverse=True)
        patterns = ("".join(_char_pattern(c) for c in secret) for secret in longest_first)
        self._pattern = re.compile("|".join(patterns)) if kept else None
        # Every spelling of a secret contains its longest unreserved run: a cheap first test.
        self._anchors = tuple(max(_UNRESERVED.findall(s), key=len, default="") for s in kept)

    def __call__(self, text: str) -> str:
        if self._pattern is None or not any(anchor in text for anchor in self._anchors):
            return text
        return self._pattern.sub(REDACTED, text)

    def including(self, secrets: Iterable[str]) -> SecretMask:
        """A mask for these secrets as well as this one's."""
        return SecretMask(self.secrets | set(secrets))


class RedactingFormatter(logging.Formatter):
    """Formats with ``inner``, then masks the secrets in the whole output."""

    def __init__(self, inner: logging.Formatter, mask: SecretMask) -> None:
        super().__init__()
        self.inner = inner
        self.mask = mask

    def format(self, record: logging.LogRecord) -> str:
        text = self.mask(self.inner.format(record))
        # logging caches the formatted traceback on the record; another handler reuses it.
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        return text


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        fields = " ".join(f"{key}={value}" for key, value in _extras(record).items())
        return f"{base} {fields}" if fields else base


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


def configure_logging(
    level: str, fmt: str, stream: TextIO = sys.stderr, mask: SecretMask | None = None
) -> None:
    """One handler on the root logger, writing ``fmt`` ("text" or "json") with ``mask``'s
    secrets redacted."""
    handler = logging.StreamHandler(stream)
    inner: logging.Formatter
    if fmt == "json":
        inner = JsonFormatter()
    else:
        inner = TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(RedactingFormatter(inner, mask or SecretMask()))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "aiosqlite", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def redact(*secrets: str) -> None:
    """Never let these strings reach the output of any handler on the root logger."""
    for handler in logging.getLogger().handlers:
        current = handler.formatter
        if isinstance(current, RedactingFormatter):
            current.mask = current.mask.including(secrets)
        else:
            handler.setFormatter(
                RedactingFormatter(current or logging.Formatter(), SecretMask(secrets))
            )


def log_uncaught_exceptions(logger: logging.Logger) -> None:
    """Send exceptions that end the program or a thread through ``logger`` (and so through the
    redacting handlers) instead of straight to stderr."""

    def on_main(
        kind: type[BaseException], error: BaseException, trace: TracebackType | None
    ) -> None:
        logger.critical("chatrelay stopped by an unexpected error", exc_info=(kind, error, trace))

    def on_thread(args: threading.ExceptHookArgs) -> None:
        if issubclass(args.exc_type, SystemExit):
            return  # as Python's own hook: a thread that exits is no error
        thread = {"thread_name": getattr(args.thread, "name", None)}
        if args.exc_value is None:
            logger.critical("a thread stopped by %s", args.exc_type.__name__, extra=thread)
            return
        error = (args.exc_type, args.exc_value, args.exc_traceback)
        logger.critical("a thread stopped by an unexpected error", exc_info=error, extra=thread)

    sys.excepthook = on_main
    threading.excepthook = on_thread
