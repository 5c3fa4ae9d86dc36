"""The shared commands, as a user sees their replies."""

from __future__ import annotations

from core.domain import Author, ChatRef
from core.settings import DEFAULT_MODELS
from tests.fakes.openrouter import Answer, ErrorReply, FakeOpenRouter
from tests.service.conftest import Conversation, CoreFactory


async def test_help_lists_every_command(talk: Conversation) -> None:
    text = await talk.say("/help")
    for command in ("/think", "/stats", "/new", "/model", "/system", "/lang", "/help"):
        assert command in text


async def test_unknown_commands_are_explained_not_sent_to_the_model(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    assert "Unknown command /frobnicate" in await talk.say("/frobnicate now")
    assert fake.chat_requests == []


async def test_think_shows_the_reasoning_behind_the_last_answer(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    assert await talk.say("/think") == "There is no answer in this conversation yet."
    fake.enqueue(Answer(content="42", reasoning="Six times seven."))
    await talk.send("meaning of life?")
    sink = await talk.send("/think")
    assert "Reasoning behind the last answer" in sink.last.text
    assert sink.last.reasoning == "Six times seven."


async def test_think_with_a_question_answers_with_reasoning(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    sink = await talk.send("/think why is the sky blue?")
    assert sink.last.text == "Echo: why is the sky blue?"
    assert sink.last.reasoning == "Thinking about: why is the sky blue?"
    assert fake.chat_requests[-1].body["messages"][-1]["content"] == "why is the sky blue?"
    plain = await talk.send("and the sea?")
    assert plain.last.reasoning is None


async def test_think_on_and_off(talk: Conversation) -> None:
    assert "shown with every answer" in await talk.say("/think on")
    assert (await talk.send("hello")).last.reasoning == "Thinking about: hello"
    assert "hidden again" in await talk.say("/think off")
    assert (await talk.send("hello again")).last.reasoning is None


async def test_think_without_reasoning_says_so(talk: Conversation, fake: FakeOpenRouter) -> None:
    fake.enqueue(Answer(content="plain", reasoning=""))
    await talk.send("q")
    assert "without visible reasoning" in await talk.say("/think")


async def test_stats_shows_the_last_request_this_chat_and_the_key(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    assert "No requests in this chat yet" in await talk.say("/stats")
    fake.enqueue(
        Answer(
            content="ok",
            model="anthropic/claude-sonnet-4.5",
            usage={
                "prompt_tokens": 120,
                "completion_tokens": 80,
                "total_tokens": 200,
                "cost": 0.00123,
                "completion_tokens_details": {"reasoning_tokens": 30},
            },
        )
    )
    await talk.send("hi")
    stats = await talk.say("/stats")
    assert "`anthropic/claude-sonnet-4.5`" in stats
    assert "120 prompt + 80 completion (30 reasoning) = 200" in stats
    assert "$0.00123" in stats
    assert "**This chat**: requests 1 (0 failed), tokens 200" in stats
    assert "Free-model requests left today" in stats


async def test_stats_counts_failures_and_survives_a_dead_key_endpoint(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    fake.key_error = ErrorReply(500, "Internal Server Error")
    fake.enqueue(ErrorReply.unauthorized())
    await talk.send("hi")
    stats = await talk.say("/stats")
    assert "failed: auth" in stats
    assert "requests 1 (1 failed)" in stats
    assert "key endpoint did not answer" in stats


async def test_new_starts_a_fresh_conversation(talk: Conversation, fake: FakeOpenRouter) -> None:
    await talk.send("old topic")
    assert "Started a new conversation" in await talk.say("/new")
    await talk.send("new topic")
    assert [m["content"] for m in fake.chat_requests[-1].body["messages"]] == ["new topic"]
    assert await talk.say("/think") != "There is no answer in this conversation yet."


async def test_model_shows_switches_and_suggests(talk: Conversation, fake: FakeOpenRouter) -> None:
    shown = await talk.say("/model")
    assert f"`{DEFAULT_MODELS[0]}`" in shown
    assert " → ".join(f"`{m}`" for m in DEFAULT_MODELS) in shown
    assert "now uses `openai/gpt-5`" in await talk.say("/model openai/gpt-5")
    await talk.send("hi")
    body = fake.chat_requests[-1].body
    assert body["model"] == "openai/gpt-5"
    assert body["models"][: len(DEFAULT_MODELS) + 1] == ["openai/gpt-5", *DEFAULT_MODELS]
    bad = await talk.say("/model openai/gtp-5")
    assert "no model `openai/gtp-5`" in bad
    assert "`openai/gpt-5`" in bad.split("Did you mean:")[1]
    assert "default model" in await talk.say("/model default")
    await talk.send("again")
    assert fake.chat_requests[-1].body["model"] == DEFAULT_MODELS[0]


async def test_model_check_fails_politely_without_the_model_list(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    fake.models_error = ErrorReply.unavailable()
    assert "can't reach OpenRouter's model list" in await talk.say("/model openai/gpt-5")


async def test_system_prompt_set_shown_used_and_reset(
    talk: Conversation, fake: FakeOpenRouter
) -> None:
    assert "No system prompt" in await talk.say("/system")
    assert "saved" in await talk.say("/system Answer like a pirate.")
    assert "Answer like a pirate." in await talk.say("/system")
    await talk.send("hello")
    assert fake.chat_requests[-1].body["messages"][0] == {
        "role": "system",
        "content": "Answer like a pirate.",
    }
    assert "removed" in await talk.say("/system reset")
    await talk.send("hello again")
    assert fake.chat_requests[-1].body["messages"][0]["role"] == "user"


async def test_language_follows_the_user_and_lang_switches_it(
    core_for: CoreFactory, talk: Conversation
) -> None:
    async with core_for() as core:
        chinese = Conversation(core, ChatRef("test", "zh"), Author("9", "小明", "zh-hans"))
        assert "命令" in await chinese.say("/help")
    assert "我会用中文" in await talk.say("/lang zh")
    assert "**命令**" in await talk.say("/help")
    assert "English" in await talk.say("/lang en")
    assert "用法" not in await talk.say("/lang fr")
