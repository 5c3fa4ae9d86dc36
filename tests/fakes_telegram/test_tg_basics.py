"""The envelope, tokens, request encodings, getMe, files and the standalone server."""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp
import pytest
from telegram import Bot, User
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken

from tests.fakes.telegram import FakeTelegram

from .helpers import TOKEN, USERNAME, make_bot


async def test_initialize_calls_get_me_and_bot_knows_itself(tg: FakeTelegram) -> None:
    async with make_bot(tg) as bot:
        assert bot.id == 123456
        assert bot.username == USERNAME
        me = await bot.get_me()
    assert isinstance(me, User)
    assert me.is_bot is True
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is False
    assert [call.method for call in tg.calls] == ["getMe", "getMe"]


async def test_a_wrong_token_is_unauthorized(tg: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with make_bot(tg, "654321:WRONG-token"):
            pass
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{tg.base_url}/bot654321:WRONG/getMe") as response:
            assert response.status == 401
            body = await response.json()
        assert body == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        async with http.get(f"{tg.base_url}/botnot-a-token/getMe") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }


async def test_an_unknown_method_is_not_found(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendHologram", api_kwargs={"chat_id": 1})
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{tg.base_url}/bot{TOKEN}/sendHologram") as response,
    ):
        assert response.status == 404
        assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_json_form_and_query_encodings_are_accepted(tg: FakeTelegram) -> None:
    chat = tg.private_chat(42, "Alice")
    url = f"{tg.base_url}/bot{TOKEN}/sendMessage"
    async with aiohttp.ClientSession() as http:
        async with http.post(
            url, json={"chat_id": 42, "text": "<b>json</b>", "parse_mode": "HTML"}
        ) as r:
            body = await r.json()
        assert body["ok"] is True
        assert body["result"]["text"] == "json"
        assert body["result"]["entities"] == [{"offset": 0, "length": 4, "type": "bold"}]
        entities = json.dumps([{"type": "italic", "offset": 0, "length": 4}])
        async with http.post(
            url, data={"chat_id": "42", "text": "form", "entities": entities}
        ) as r:
            assert (await r.json())["result"]["entities"][0]["type"] == "italic"
        async with http.get(url, params={"chat_id": "42", "text": "query"}) as r:
            assert (await r.json())["result"]["text"] == "query"
    assert [m.text for m in tg.sent[chat]] == ["json", "form", "query"]
    assert tg.calls[1].params["entities"] == [{"type": "italic", "offset": 0, "length": 4}]
    assert tg.calls[1].params["chat_id"] == 42


async def test_a_sent_message_parses_in_ptb(tg: FakeTelegram, bot: Bot) -> None:
    chat = tg.private_chat(42, "Alice", username="alice")
    message = await bot.send_message(42, "hello")
    assert message.message_id == 1
    assert message.chat.id == 42
    assert message.chat.type == "private"
    assert message.chat.username == "alice"
    assert message.from_user is not None
    assert message.from_user.id == bot.id
    assert message.text == "hello"
    assert tg.sent[chat][0].message_id == 1
    second = await bot.send_message(42, "again", reply_to_message_id=1)
    assert second.message_id == 2
    assert second.reply_to_message is not None
    assert second.reply_to_message.text == "hello"


async def test_unknown_chats_blocked_users_and_missing_replies(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message(999, "anyone?")
    chat = tg.private_chat(42, "Alice")
    with pytest.raises(BadRequest, match=r"^Message to be replied not found$"):
        await bot.send_message(42, "re", reply_to_message_id=77)
    sent = await bot.send_message(
        42, "re", reply_to_message_id=77, allow_sending_without_reply=True
    )
    assert sent.reply_to_message is None
    tg.block(chat)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(42, "hello?")
    assert tg.calls[-1].description == "Forbidden: bot was blocked by the user"
    assert tg.calls[-1].status == 403


async def test_scripted_failures_answer_the_next_calls(tg: FakeTelegram, bot: Bot) -> None:
    tg.private_chat(42, "Alice")
    tg.fail("sendMessage", 400, "Bad Request: scripted", times=2)
    for _ in range(2):
        with pytest.raises(BadRequest, match=r"^Scripted$"):
            await bot.send_message(42, "x")
    assert (await bot.send_message(42, "x")).text == "x"


async def test_documents_upload_multipart_and_files_download(tg: FakeTelegram, bot: Bot) -> None:
    chat = tg.private_chat(42, "Alice")
    sent = await bot.send_document(
        42, document=b"report body", filename="report.txt", caption="<i>your</i> report",
        parse_mode="HTML",
    )  # fmt: skip
    assert sent.document is not None
    assert sent.document.file_name == "report.txt"
    assert sent.caption == "your report"
    assert sent.caption_entities[0].type == "italic"
    assert tg.sent[chat][0].kind == "document"
    telegram_file = await bot.get_file(sent.document.file_id)
    assert telegram_file.file_path is not None
    assert telegram_file.file_path.startswith(f"{tg.base_url}/file/bot{TOKEN}/documents/")
    assert await telegram_file.download_as_bytearray() == bytearray(b"report body")
    with pytest.raises(BadRequest, match=r"^Invalid file_id$"):
        await bot.get_file("nope")


async def test_get_chat_and_reactions(tg: FakeTelegram, bot: Bot) -> None:
    group = tg.group(-1001234567890, "Team", username="team_chat")
    info = await bot.get_chat("@team_chat")
    assert info.id == group.id
    assert info.type == "supergroup"
    assert info.title == "Team"
    await tg.user_says(group, tg.user(7, "Bob"), "/start")
    assert await bot.set_message_reaction(group.id, 1, "👀") is True
    assert tg.reactions == [
        {"chat_id": group.id, "message_id": 1, "reaction": [{"type": "emoji", "emoji": "👀"}]}
    ]


async def test_standalone_server_prints_its_url_and_stops_on_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes.telegram", "--port", "0", "--no-flood-limits",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        base_url = line.decode().strip()
        assert base_url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base_url}/_fake/user_says", json={"chat_id": 5, "text": "hi"}):
                pass
            async with http.post(f"{base_url}/bot{TOKEN}/getUpdates") as response:
                updates = (await response.json())["result"]
            assert [u["message"]["text"] for u in updates] == ["hi"]
            async with http.post(
                f"{base_url}/bot{TOKEN}/sendMessage", data={"chat_id": 5, "text": "yo"}
            ):
                pass
            async with http.get(f"{base_url}/_fake/sent") as response:
                assert [m["text"] for m in (await response.json())["result"]] == ["yo"]
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0
