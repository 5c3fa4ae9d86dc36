"""Logs are useful to the operator and never leak secrets or whole prompts."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from core.logs import configure_logging
from tests.fakes.openrouter import ErrorReply, FakeOpenRouter
from tests.service.conftest import API_KEY, Conversation

SECRET_PROMPT = "my bank PIN is 4931 and my password is hunter2, please remember"


async def test_no_api_key_and_no_prompt_in_the_logs(
    talk: Conversation, fake: FakeOpenRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await talk.send(SECRET_PROMPT)
    fake.enqueue(ErrorReply.unauthorized())
    await talk.send(SECRET_PROMPT + " again")
    await talk.send("/stats")
    assert API_KEY not in caplog.text
    info_and_up = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert info_and_up, "nothing was logged"
    for record in info_and_up:
        assert "4931" not in record.getMessage()
        assert "hunter2" not in json.dumps(record.__dict__, default=str)
    assert any(r.getMessage() == "answered" for r in info_and_up)
    assert any(r.getMessage() == "answer failed" for r in info_and_up)


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, put back as it was (pytest's own capture handlers included)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_logs_are_one_object_per_line_with_the_structured_fields(
    root_logger: logging.Logger,
) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    logging.getLogger("chatrelay.test").info(
        "answered", extra={"chat": "console:default", "latency_ms": 1234, "model": "a/b"}
    )
    logging.getLogger("chatrelay.test").debug("hidden at INFO")
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == "answered"
    assert record["level"] == "INFO"
    assert record["latency_ms"] == 1234
    assert record["chat"] == "console:default"


def test_text_logs_keep_the_structured_fields(root_logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", stream)
    logging.getLogger("chatrelay.test").warning("slow", extra={"latency_ms": 9})
    assert stream.getvalue().rstrip().endswith("chatrelay.test: slow latency_ms=9")
