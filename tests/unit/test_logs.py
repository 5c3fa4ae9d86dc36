"""Secrets are masked in the final output of every log handler, however they are spelled."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest

from core.logs import (
    REDACTED,
    SecretMask,
    configure_logging,
    log_uncaught_exceptions,
    redact,
)

TOKEN = "987654:AAH-secret_Token"
KEY = "sk-or-v1-0123456789abcdef"


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, put back as it was (pytest's own capture handlers included)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def spellings(secret: str) -> list[str]:
    """Every spelling of ``secret`` a log line may carry."""
    encoded = quote(secret, safe="")
    return [
        secret,
        encoded,
        re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), encoded),
        quote(encoded, safe=""),  # encoded twice
        quote_plus(secret),
        json.dumps(secret)[1:-1],
    ]


def fail_with_url() -> None:
    """What aiohttp raises for a URL it can't use: the message is the URL, token included."""
    url = f"https://api.telegram.org/bot{quote(TOKEN, safe='')}/getUpdates?key={KEY}"
    try:
        raise ConnectionError(f"cannot connect to {url}")
    except ConnectionError as error:
        raise RuntimeError(f"polling failed for https://api.telegram.org/bot{TOKEN}/x") from error


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_traceback_carrying_the_token_is_logged_without_it(
    root_logger: logging.Logger, fmt: str
) -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", fmt, stream, mask=SecretMask([TOKEN, KEY]))
    try:
        fail_with_url()
    except RuntimeError:
        logging.getLogger("chatrelay.test").exception(
            "update %s failed", f"/bot{TOKEN}/getMe", extra={"url": f"x?key={KEY}"}
        )
    output = stream.getvalue()
    for secret in (TOKEN, KEY):
        for spelling in spellings(secret):
            assert spelling not in output
    assert "987654" not in output  # the token's bot id is part of what is masked
    # The failure itself is still there to read.
    assert "RuntimeError: polling failed for https://api.telegram.org/bot<redacted>/x" in output
    assert "ConnectionError: cannot connect to https://api.telegram.org/bot<redacted>/" in output
    assert f"update /bot{REDACTED}/getMe failed" in output
    assert f"x?key={REDACTED}" in output
    if fmt == "json":
        [line] = output.splitlines()
        record = json.loads(line)
        assert "Traceback" in record["exception"]
        assert record["url"] == f"x?key={REDACTED}"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_stack_info_is_masked_too(root_logger: logging.Logger, fmt: str) -> None:
    stream = io.StringIO()
    configure_logging("INFO", fmt, stream, mask=SecretMask([TOKEN]))
    secret_local = f"/bot{TOKEN}/"
    logging.getLogger("chatrelay.test").warning("where %s", secret_local, stack_info=True)
    output = stream.getvalue()
    assert TOKEN not in output
    assert "Stack (most recent call last)" in output
    assert "test_stack_info_is_masked_too" in output


@pytest.mark.parametrize(
    "spelling",
    [
        TOKEN,
        quote(TOKEN, safe=""),
        quote(TOKEN, safe="").replace("%3A", "%3a"),
        quote(quote(TOKEN, safe=""), safe=""),
        repr(TOKEN.encode()),
    ],
)
def test_the_mask_finds_every_spelling(spelling: str) -> None:
    mask = SecretMask([TOKEN])
    assert mask(f"before {spelling} after") in (
        f"before {REDACTED} after",
        f"before b'{REDACTED}' after",
    )


def test_secrets_with_spaces_and_quotes_are_found_encoded() -> None:
    secret = 'pass "word" here\\'
    mask = SecretMask([secret])
    assert mask(json.dumps({"v": secret})) == json.dumps({"v": REDACTED})
    assert mask(quote_plus(secret)) == REDACTED
    assert mask(repr(secret)) == f"'{REDACTED}'"


def test_other_text_and_short_values_are_left_alone() -> None:
    mask = SecretMask([TOKEN, "short", ""])
    text = "a short answer about 987654 tokens"
    assert mask(text) == text
    assert SecretMask()(text) == text


def test_redact_adds_secrets_to_the_handlers_already_configured(
    root_logger: logging.Logger,
) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", stream, mask=SecretMask([KEY]))
    redact(TOKEN)
    logging.getLogger("chatrelay.test").info("%s and %s", KEY, TOKEN)
    assert stream.getvalue().rstrip().endswith(f"{REDACTED} and {REDACTED}")


def test_redact_wraps_a_handler_of_its_own(root_logger: logging.Logger) -> None:
    stream = io.StringIO()
    root_logger.handlers[:] = [logging.StreamHandler(stream)]
    root_logger.setLevel(logging.INFO)
    redact(TOKEN)
    logging.getLogger("chatrelay.test").info("token %s", TOKEN)
    assert stream.getvalue() == f"token {REDACTED}\n"


def test_a_second_handler_never_gets_the_unmasked_traceback(root_logger: logging.Logger) -> None:
    """logging caches a record's formatted traceback; the cache is masked too."""
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", "text", first, mask=SecretMask([TOKEN]))
    plain = logging.StreamHandler(second)
    root_logger.addHandler(plain)
    try:
        fail_with_url()
    except RuntimeError:
        logging.getLogger("chatrelay.test").exception("failed")
    assert "RuntimeError" in second.getvalue()
    assert TOKEN not in first.getvalue() + second.getvalue()


@pytest.fixture
def hooks() -> Iterator[None]:
    saved = sys.excepthook, threading.excepthook
    yield
    sys.excepthook, threading.excepthook = saved


def test_an_exception_that_ends_a_thread_is_logged_masked(
    root_logger: logging.Logger, hooks: None
) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream, mask=SecretMask([TOKEN]))
    log_uncaught_exceptions(logging.getLogger("chatrelay.test"))
    thread = threading.Thread(target=fail_with_url, name="worker")
    thread.start()
    thread.join(timeout=10)
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "CRITICAL"
    assert record["thread_name"] == "worker"
    assert "RuntimeError: polling failed" in record["exception"]
    assert TOKEN not in line


def test_an_exception_that_ends_the_program_is_logged_masked(
    root_logger: logging.Logger, hooks: None
) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", stream, mask=SecretMask([TOKEN]))
    log_uncaught_exceptions(logging.getLogger("chatrelay.test"))
    try:
        fail_with_url()
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    output = stream.getvalue()
    assert "CRITICAL chatrelay.test: chatrelay stopped by an unexpected error" in output
    assert "RuntimeError: polling failed" in output
    assert TOKEN not in output
