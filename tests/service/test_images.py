"""A person sends photos: the chat's model sees them once, text-only models refuse them politely."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from core.app import Core
from core.context import build_window
from core.domain import Author, ChatRef, ImageInput, Language, StoredMessage
from core.settings import DEFAULT_MODELS
from core.storage.models import Message
from core.tokens import IMAGE_TOKENS, estimate_message_tokens
from tests.fakes.openrouter import ErrorReply, FakeOpenRouter
from tests.service.conftest import Conversation, CoreFactory
from tests.support.sinks import RecordingSink

PHOTO = ImageInput(b"\xff\xd8\xff\xe0fake-jpeg-bytes\xff\xd9", "image/jpeg")
PHOTO_URL = "data:image/jpeg;base64," + base64.b64encode(PHOTO.data).decode()
VISION_CHAIN = ("openai/gpt-5", "google/gemini-2.5-pro")


async def send_photo(
    talk: Conversation,
    caption: str = "",
    images: Sequence[ImageInput] = (PHOTO,),
    message_id: str | None = None,
) -> RecordingSink:
    sink = RecordingSink()
    talk.sinks.append(sink)
    message = replace(talk.message(caption, message_id), images=tuple(images))
    await talk.core.service.handle(message, sink)
    return sink


async def stored_user_messages(core: Core) -> list[tuple[str, bool]]:
    """Every stored user message of every chat: (content, in_context), oldest first."""
    async with core.engine.connect() as connection:
        rows = await connection.execute(
            select(Message.content, Message.in_context)
            .where(Message.role == "user")
            .order_by(Message.id)
        )
        return [(content, bool(in_context)) for content, in_context in rows]


@pytest.fixture
async def vision(core_for: CoreFactory) -> AsyncIterator[Conversation]:
    """A chat whose models all see images."""
    async with core_for(openrouter_models=VISION_CHAIN) as core:
        yield Conversation(core, ChatRef("test", "pics"), Author("u1", "Ann", "en"))


# ---------------------------------------------------------------- the model sees the photo


async def test_a_photo_with_a_caption_reaches_the_model_as_content_parts(
    vision: Conversation, fake: FakeOpenRouter
) -> None:
    sink = await send_photo(vision, "What is in this picture?")
    assert sink.texts == ["Echo: [image] What is in this picture?"]
    assert not sink.last.is_error
    (request,) = fake.chat_requests
    assert request.body["model"] == "openai/gpt-5"
    assert request.body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "[image] What is in this picture?"},
                {"type": "image_url", "image_url": {"url": PHOTO_URL}},
            ],
        }
    ]
    assert request.image_urls == [PHOTO_URL]


async def test_a_photo_without_a_caption_is_answered(
    vision: Conversation, fake: FakeOpenRouter
) -> None:
    sink = await send_photo(vision)
    assert sink.texts == ["Echo: [image]"]
    (request,) = fake.chat_requests
    assert request.image_urls == [PHOTO_URL]
    assert request.body["messages"][0]["content"][0] == {"type": "text", "text": "[image]"}


async def test_several_photos_go_together_and_a_png_keeps_its_type(
    vision: Conversation, fake: FakeOpenRouter
) -> None:
    png = ImageInput(b"\x89PNG\r\n\x1a\nfake", "image/png")
    sink = await send_photo(vision, "Which is bigger?", images=(PHOTO, png))
    assert sink.texts == ["Echo: [image] [image] Which is bigger?"]
    png_url = "data:image/png;base64," + base64.b64encode(png.data).decode()
    assert fake.chat_requests[0].image_urls == [PHOTO_URL, png_url]


async def test_the_next_turn_sends_no_image_but_remembers_there_was_one(
    vision: Conversation, fake: FakeOpenRouter
) -> None:
    await send_photo(vision, "What is this?")
    assert await vision.say("And what colour is it?") == "Echo: And what colour is it?"
    later = fake.chat_requests[-1]
    assert later.image_urls == []
    assert [(m["role"], m["content"]) for m in later.body["messages"]] == [
        ("user", "[image] What is this?"),
        ("assistant", "Echo: [image] What is this?"),
        ("user", "And what colour is it?"),
    ]
    # the database holds the marker and the caption, never the picture
    stored = await stored_user_messages(vision.core)
    assert stored == [("[image] What is this?", True), ("And what colour is it?", True)]
    assert all(base64.b64encode(PHOTO.data).decode() not in text for text, _ in stored)


async def test_a_caption_that_looks_like_a_command_is_just_a_caption(
    vision: Conversation, fake: FakeOpenRouter
) -> None:
    sink = await send_photo(vision, "/help")
    assert sink.texts == ["Echo: [image] /help"]
    assert fake.chat_requests[0].image_urls == [PHOTO_URL]


async def test_in_a_shared_chat_the_photo_turn_names_its_sender(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    async with core_for(openrouter_models=VISION_CHAIN) as core:
        group = Conversation(core, ChatRef("test", "group"), Author("u1", "Ann"), shared=True)
        await send_photo(group, "look")
    content = fake.chat_requests[0].body["messages"][0]["content"]
    assert content[0] == {"type": "text", "text": "Ann: [image] look"}
    assert content[1]["image_url"]["url"] == PHOTO_URL


async def test_a_duplicate_delivery_of_a_photo_is_answered_once(
    vision: Conversation, fake: FakeOpenRouter
) -> None:
    await send_photo(vision, "once", message_id="p1")
    again = await send_photo(vision, "once", message_id="p1")
    assert again.replies == []
    assert len(fake.chat_requests) == 1


# ---------------------------------------------------------------- which models get it


async def test_a_text_only_model_refuses_without_calling_it_and_the_chat_goes_on(
    core: Core, talk: Conversation, fake: FakeOpenRouter
) -> None:
    sink = await send_photo(talk, "What is this?")
    model = DEFAULT_MODELS[0]  # tencent/hy3-preview:free sees text only
    assert sink.texts == [core.translator(Language.EN, "input.image_unsupported", model=model)]
    assert sink.last.is_error
    assert f"`{model}`" in sink.last.text
    assert fake.chat_requests == []
    assert await stored_user_messages(core) == [("[image] What is this?", False)]
    # the next text message is answered, without the refused photo in its context
    assert await talk.say("hello") == "Echo: hello"
    assert fake.chat_requests[-1].body["messages"] == [{"role": "user", "content": "hello"}]


async def test_the_refusal_speaks_chinese_to_a_chinese_user(
    core: Core, fake: FakeOpenRouter
) -> None:
    talk = Conversation(core, ChatRef("test", "zh"), Author("u2", "李雷", "zh-hans"))
    sink = await send_photo(talk, "这是什么？")
    expected = core.translator(Language.ZH, "input.image_unsupported", model=DEFAULT_MODELS[0])
    assert sink.texts == [expected]
    assert "无法识别图片" in sink.last.text
    assert fake.chat_requests == []


async def test_switching_to_a_model_that_sees_images_makes_photos_work(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    assert "openai/gpt-5" in await talk.say("/model openai/gpt-5")
    sink = await send_photo(talk, "now?")
    assert sink.texts == ["Echo: [image] now?"]
    request = fake.chat_requests[-1]
    assert request.body["model"] == "openai/gpt-5"
    # the default chain's text-only models are not fallbacks for a photo
    assert request.body.get("models") is None
    assert request.image_urls == [PHOTO_URL]


async def test_fallback_for_a_photo_only_uses_models_that_see_images(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    chain = (
        "openai/gpt-5",
        "tencent/hy3-preview:free",
        "google/gemini-2.5-pro",
        "deepseek/deepseek-v4-flash:free",
    )
    fake.set_model_behaviour("openai/gpt-5", ErrorReply.unavailable())
    async with core_for(openrouter_models=chain) as core:
        talk = Conversation(core, ChatRef("test", "fallback"), Author("u1", "Ann", "en"))
        sink = await send_photo(talk, "What is it?")
        assert sink.texts == ["Echo: [image] What is it?"]
        assert sink.last.notice is None
        text_sink = await talk.send("and text?")  # a text message keeps the whole chain
    sent = [request.body for request in fake.chat_requests]
    assert all(
        body.get("models") == ["openai/gpt-5", "google/gemini-2.5-pro"] for body in sent[:-1]
    )
    assert all(request.image_urls == [PHOTO_URL] for request in fake.chat_requests[:-1])
    assert sent[-1]["models"] == list(chain)
    assert text_sink.texts == ["Echo: and text?"]


async def test_without_the_model_list_the_photo_is_tried_on_the_whole_chain(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    fake.models_error = ErrorReply.unavailable()
    async with core_for(openrouter_models=("openai/gpt-5", "tencent/hy3-preview:free")) as core:
        talk = Conversation(core, ChatRef("test", "blind"), Author("u1", "Ann", "en"))
        sink = await send_photo(talk, "try")
    assert sink.texts == ["Echo: [image] try"]
    body = fake.chat_requests[0].body
    assert body["models"] == ["openai/gpt-5", "tencent/hy3-preview:free"]


async def test_without_the_model_list_a_text_only_chain_fails_upstream_and_is_explained(
    core: Core, talk: Conversation, fake: FakeOpenRouter
) -> None:
    fake.models_error = ErrorReply.unavailable()
    sink = await send_photo(talk, "try")
    assert fake.chat_requests  # the model was tried, and OpenRouter refused the image (404)
    assert all(request.image_urls == [PHOTO_URL] for request in fake.chat_requests)
    assert sink.last.is_error
    assert sink.last.text.startswith(core.translator(Language.EN, "error.model_not_found"))
    # the message stays in the history, like any message whose answer failed
    assert await stored_user_messages(core) == [("[image] try", True)]


# ---------------------------------------------------------------- limits


async def test_an_oversized_photo_is_refused_without_calling_the_model(
    vision: Conversation, fake: FakeOpenRouter
) -> None:
    limit = vision.core.config.max_image_bytes
    assert limit == 10 * 1024 * 1024
    huge = ImageInput(b"\0" * (limit + 1), "image/jpeg")
    sink = await send_photo(vision, "big one", images=(PHOTO, huge))
    expected = vision.core.translator(Language.EN, "input.image_too_large", size="10.1", limit="10")
    assert sink.texts == [expected]
    assert sink.last.is_error
    assert fake.chat_requests == []
    assert await stored_user_messages(vision.core) == [("[image] [image] big one", False)]
    # a photo right at the limit is fine
    at_limit = ImageInput(b"\0" * limit, "image/jpeg")
    assert (await send_photo(vision, "ok", images=(at_limit,))).texts == ["Echo: [image] ok"]


async def test_each_photo_counts_toward_the_prompt_budget(
    core_for: CoreFactory, fake: FakeOpenRouter
) -> None:
    async with core_for(openrouter_models=VISION_CHAIN, context_max_tokens=1024) as core:
        talk = Conversation(core, ChatRef("test", "budget"), Author("u1", "Ann", "en"))
        assert (await send_photo(talk, "fits")).texts == ["Echo: [image] fits"]
        sink = await send_photo(talk, "two images do not fit", images=(PHOTO, PHOTO))
    needed = 2 * IMAGE_TOKENS + estimate_message_tokens("[image] [image] two images do not fit")
    expected = core.translator(Language.EN, "input_too_long", tokens=needed, limit=1024)
    assert sink.texts == [expected]
    assert len(fake.chat_requests) == 1


def test_the_window_gives_the_images_to_the_newest_user_turn_and_counts_them() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)

    def stored(number: int, role: str, content: str, tokens: int) -> StoredMessage:
        return StoredMessage(number, 1, role, "Ann", content, None, None, None, tokens, now)  # type: ignore[arg-type]

    newest_first = [
        stored(4, "user", "[image] and this?", 10),
        stored(3, "assistant", "Echo", 10),
        stored(2, "user", "[image] first", 10),
        stored(1, "assistant", "old", 10),
    ]
    window = build_window(
        None, newest_first, IMAGE_TOKENS + 30, images=["data:image/png;base64,AA"]
    )
    assert [turn.content for turn in window.turns] == ["[image] first", "Echo", "[image] and this?"]
    assert [turn.images for turn in window.turns] == [(), (), ("data:image/png;base64,AA",)]
    assert window.estimated_tokens == IMAGE_TOKENS + 30
    assert window.dropped_turns == 1
    # no images: nothing attached, nothing counted
    plain = build_window(None, newest_first, IMAGE_TOKENS + 30)
    assert all(turn.images == () for turn in plain.turns)
    assert plain.estimated_tokens == 30
