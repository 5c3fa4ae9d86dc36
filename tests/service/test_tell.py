"""The bot's own replies (an input it can't read, a command the user may not run): the message
is kept in the history, out of the model's context, and a second delivery gets no second reply."""

from __future__ import annotations

from core.app import Core
from tests.fakes.openrouter import FakeOpenRouter
from tests.service.conftest import Conversation
from tests.support.sinks import RecordingSink


async def test_a_told_message_is_kept_and_answered_once(
    core: Core, talk: Conversation, fake: FakeOpenRouter
) -> None:
    sticker = talk.message("", message_id="sticker-1")
    first, again = RecordingSink(), RecordingSink()
    await core.service.tell(sticker, first, "input.unsupported", what="sticker")
    await core.service.tell(sticker, again, "input.unsupported", what="sticker")  # redelivered
    assert len(first.replies) == 1
    assert "sticker" in first.last.text
    assert again.replies == []
    assert await talk.say("hello") == "Echo: hello"
    contents = [m["content"] for m in fake.chat_requests[-1].body["messages"]]
    assert contents == ["hello"]  # the sticker stays out of the model's context
