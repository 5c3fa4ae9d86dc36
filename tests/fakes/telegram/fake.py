"""``FakeTelegram``: the Bot API methods plus what users do (send text, stickers, photos, voice,
documents, press buttons), and a small control API for the standalone server."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from tests.fakes.standalone import serve_until_signalled

from . import text as tx
from .flood import FloodLimits
from .methods import BotApiMethods, stored_json
from .model import Chat, SentMessage, User

Json = dict[str, Any]

# smallest valid-looking payloads (the fake never decodes them)
OGG = b"OggS\x00\x02" + bytes(22)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(16) + b"\xff\xd9"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8 " + bytes(14)


class FakeTelegram(BotApiMethods):
    """A Telegram Bot API server on 127.0.0.1 for python-telegram-bot and friends.

    ``FakeTelegram(token, bot_username=..., flood=FloodLimits(...) | FloodLimits.off(),
    clock=time.monotonic, privacy_mode=True)``; point PTB at ``f"{tg.base_url}/bot"`` and
    ``f"{tg.base_url}/file/bot"``.
    """

    def __init__(self, token: str = "123456:TEST-token", **options: Any) -> None:  # noqa: S107
        super().__init__(token, **options)
        self._register_methods()

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def reset(self) -> None:
        """Forget what was recorded and the flood counters; keep chats, users and messages."""
        self.calls.clear()
        self.sent.clear()
        self.drafts.clear()
        self.actions.clear()
        self.deliveries.clear()
        self.reactions.clear()
        self.callback_answers.clear()
        self.withheld.clear()
        self._scripted.clear()
        self.flood.reset()

    def set_flood_limits(self, limits: FloodLimits) -> None:
        self.flood_limits = self.flood.limits = limits
        self.flood.reset()

    # ---- chats and users

    def user(
        self,
        user_id: int,
        first_name: str,
        username: str | None = None,
        language_code: str | None = "en",
        last_name: str | None = None,
    ) -> User:
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user = User(user_id, first_name, username, last_name, language_code)
        self.users[user_id] = user
        return user

    def private_chat(
        self,
        user_id: int,
        first_name: str,
        username: str | None = None,
        language_code: str | None = "en",
        last_name: str | None = None,
    ) -> Chat:
        """The private chat with a user (``chat.user``); its id is the user's id."""
        user = self.user(user_id, first_name, username, language_code, last_name)
        chat = self.chats.get(user_id)
        if chat is None:
            chat = self.chats[user_id] = Chat(user_id, "private", user=user)
        elif chat.user != user:
            chat.user = user  # same chat (message ids go on), new profile
            chat.forget_json()
        return chat

    def group(
        self,
        chat_id: int,
        title: str,
        supergroup: bool = True,
        forum: bool = False,
        *,
        username: str | None = None,
        bot_is_admin: bool = False,
    ) -> Chat:
        """A group the bot is in; supergroup ids look like -100xxxxxxxxxx."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        if forum and not supergroup:
            raise ValueError("only supergroups can be forums")
        kind = "supergroup" if supergroup else "group"
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = self.chats[chat_id] = Chat(chat_id, kind, title)
        chat.type, chat.title, chat.username, chat.is_forum = kind, title, username, forum
        chat.bot_is_admin = bot_is_admin
        chat.forget_json()
        return chat

    def block(self, chat: Chat, blocked: bool = True) -> None:
        """The user blocks the bot: sends answer 403 "Forbidden: bot was blocked by the user"."""
        chat.blocked = blocked

    # ---- what users do

    def _sender(self, chat: Chat, user: User | None) -> User:
        if user is None:
            if chat.user is None:
                raise ValueError("say which user writes in a group")
            return chat.user
        self.users.setdefault(user.id, user)
        return user

    def _user_message(
        self,
        chat: Chat,
        user: User | None,
        content: Json,
        reply_to: int | SentMessage | None,
        message_thread_id: int | None,
    ) -> Json:
        if self.chats.get(chat.id) is not chat:
            self.chats[chat.id] = chat
        sender = self._sender(chat, user)
        message_id = chat.new_message_id()
        message: Json = {
            "message_id": message_id,
            "from": sender.to_json(),
            "chat": chat.to_json(),
            "date": int(self.wall_clock()),
        }
        if message_thread_id is not None:
            message["message_thread_id"] = message_thread_id
            if chat.is_forum:
                message["is_topic_message"] = True
        if reply_to is not None:
            target_id = reply_to.message_id if isinstance(reply_to, SentMessage) else reply_to
            target = self.messages.get((chat.id, target_id))
            if target is None:
                raise ValueError(f"no message {target_id} in chat {chat.id} to reply to")
            message["reply_to_message"] = {
                k: v for k, v in target.items() if k != "reply_to_message"
            }
        message.update(content)
        self.messages[(chat.id, message_id)] = message
        return message

    def _for_bot(self, chat: Chat, message: Json) -> bool:
        """Privacy mode: in groups the bot sees commands for it and replies to its messages."""
        if chat.is_private or chat.bot_is_admin or not self.privacy_mode:
            return True
        replied = message.get("reply_to_message") or {}
        if (replied.get("from") or {}).get("id") == self.bot.id:
            return True
        text = message.get("text") or message.get("caption") or ""
        entities = message.get("entities") or message.get("caption_entities") or []
        first = entities[0] if entities else {}
        if first.get("type") != "bot_command" or first.get("offset") != 0:
            return False
        command = text[: first.get("length", 0)]
        _, _, addressee = command.partition("@")
        return not addressee or addressee.lower() == (self.bot.username or "").lower()

    def _deliver_message(self, chat: Chat, message: Json, kind: str = "message") -> Json | None:
        if not self._for_bot(chat, message):
            self.withheld.append(message)
            self._changed()
            return None
        return self._push_update(kind, dict(message))  # later edits must not change it

    async def user_says(
        self,
        chat: Chat,
        user: User | None,
        text: str,
        reply_to: int | SentMessage | None = None,
        message_thread_id: int | None = None,
        entities: Sequence[Json] | None = None,
    ) -> Json | None:
        """A user writes ``text``; returns the Update (None if privacy mode withholds it).

        Bot commands, mentions, hashtags and links get their entities as Telegram gives them;
        ``entities`` adds formatting (bold …) the user applied. ``user=None`` in a private chat
        is the chat's user."""
        found = tx.find_entities(text)
        extra = tx.parse_entity_list(list(entities)) if entities else []
        merged = [*extra, *found]
        tx.sort_entities(merged)
        content: Json = {"text": text}
        if merged:
            content["entities"] = [entity.to_json() for entity in merged]
        message = self._user_message(chat, user, content, reply_to, message_thread_id)
        return self._deliver_message(chat, message)

    async def user_edits(self, chat: Chat, message_id: int, text: str) -> Json | None:
        """The user edits one of their messages: an ``edited_message`` update."""
        message = self.messages.get((chat.id, message_id))
        if message is None or "text" not in message:
            raise ValueError(f"no text message {message_id} in chat {chat.id}")
        message["text"] = text
        message["edit_date"] = int(self.wall_clock())
        found = tx.find_entities(text)
        message.pop("entities", None)
        if found:
            message["entities"] = [entity.to_json() for entity in found]
        return self._deliver_message(chat, message, "edited_message")

    def _caption(self, caption: str | None) -> Json:
        if not caption:
            return {}
        content: Json = {"caption": caption}
        found = tx.find_entities(caption)
        if found:
            content["caption_entities"] = [entity.to_json() for entity in found]
        return content

    async def user_sends_sticker(
        self,
        chat: Chat,
        user: User | None = None,
        emoji: str = "😀",
        *,
        set_name: str = "FakeStickers",
        animated: bool = False,
        video: bool = False,
        reply_to: int | SentMessage | None = None,
    ) -> Json | None:
        stored = self.store_file(WEBP, "stickers", "sticker.webp", "image/webp")
        sticker = {
            **stored_json(stored),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": animated,
            "is_video": video,
            "emoji": emoji,
            "set_name": set_name,
        }
        message = self._user_message(chat, user, {"sticker": sticker}, reply_to, None)
        return self._deliver_message(chat, message)

    async def user_sends_photo(
        self,
        chat: Chat,
        user: User | None = None,
        caption: str | None = None,
        *,
        data: bytes = JPEG,
        width: int = 1280,
        height: int = 960,
        reply_to: int | SentMessage | None = None,
        reported_size: int | None = -1,
        chunked: bool = False,
    ) -> Json | None:
        """A photo in three sizes (the largest last, as Telegram sends them). ``reported_size``
        is the ``file_size`` Telegram reports for each (-1: the real one, None: none; a wrong
        one is a lie), ``chunked`` serves the bytes without a Content-Length."""
        sizes = []
        for scale in (8, 4, 1):
            stored = self.store_file(
                data,
                "photos",
                "photo.jpg",
                "image/jpeg",
                reported_size=reported_size,
                chunked=chunked,
            )
            sizes.append(
                {**stored_json(stored), "width": width // scale, "height": height // scale}
            )
        content = {"photo": sizes, **self._caption(caption)}
        message = self._user_message(chat, user, content, reply_to, None)
        return self._deliver_message(chat, message)

    async def user_sends_voice(
        self,
        chat: Chat,
        user: User | None = None,
        duration: int = 3,
        *,
        data: bytes = OGG,
        mime_type: str = "audio/ogg",
        reply_to: int | SentMessage | None = None,
    ) -> Json | None:
        stored = self.store_file(data, "voice", "voice.oga", mime_type)
        voice = {**stored_json(stored), "duration": duration, "mime_type": mime_type}
        message = self._user_message(chat, user, {"voice": voice}, reply_to, None)
        return self._deliver_message(chat, message)

    async def user_sends_document(
        self,
        chat: Chat,
        user: User | None = None,
        file_name: str = "notes.txt",
        data: bytes = b"hello from a document\n",
        mime_type: str = "text/plain",
        caption: str | None = None,
        *,
        reply_to: int | SentMessage | None = None,
    ) -> Json | None:
        stored = self.store_file(data, "documents", file_name, mime_type)
        document = {**stored_json(stored), "file_name": file_name, "mime_type": mime_type}
        content = {"document": document, **self._caption(caption)}
        message = self._user_message(chat, user, content, reply_to, None)
        return self._deliver_message(chat, message)

    async def user_presses(
        self, chat: Chat, user: User | None, message: int | SentMessage, data: str
    ) -> Json:
        """The user presses an inline button (``callback_data=data``) under a bot message."""
        message_id = message.message_id if isinstance(message, SentMessage) else message
        target = self.messages.get((chat.id, message_id))
        if target is None:
            raise ValueError(f"no message {message_id} in chat {chat.id}")
        query_id = str(next(self._ids) * 1000003)
        query = {
            "id": query_id,
            "from": self._sender(chat, user).to_json(),
            "message": dict(target),
            "chat_instance": str(abs(chat.id) * 31 + 7),
            "data": data,
        }
        self._callbacks[query_id] = query
        return self._push_update("callback_query", query)

    # ---- control API for the standalone server (no token: it is not Telegram's)

    def _routes(self, app: web.Application) -> None:
        super()._routes(app)
        app.router.add_post("/_fake/user_says", self._control_says)
        app.router.add_get("/_fake/sent", self._control_sent)
        app.router.add_get("/_fake/stats", self._control_stats)
        app.router.add_post("/_fake/reset", self._control_reset)

    async def _control_says(self, request: web.Request) -> web.StreamResponse:
        """``{"chat_id", "text", "user_id"?, "first_name"?, "username"?, "title"?}``; a private
        chat (positive id) or supergroup (negative id) is created on first use."""
        body = await request.json()
        chat_id = int(body["chat_id"])
        user_id = int(body.get("user_id") or chat_id)
        name = str(body.get("first_name") or f"User{user_id}")
        chat = self.chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                chat = self.private_chat(chat_id, name, body.get("username"))
            else:
                chat = self.group(chat_id, str(body.get("title") or f"Group {chat_id}"))
        user = self.users.get(user_id) or self.user(user_id, name, body.get("username"))
        update = await self.user_says(chat, user, str(body["text"]), reply_to=body.get("reply_to"))
        return self._response({"ok": True, "result": update})

    async def _control_sent(self, request: web.Request) -> web.StreamResponse:
        chat_id = request.query.get("chat_id")
        messages = self.sent[int(chat_id)] if chat_id else self.sent.all()
        result = [
            {
                "chat_id": m.chat_id,
                "message_id": m.message_id,
                "text": m.text,
                "entities": m.entities,
                "edits": len(m.edits),
                "deleted": m.deleted,
            }
            for m in messages
        ]
        return self._response({"ok": True, "result": result})

    async def _control_stats(self, request: web.Request) -> web.StreamResponse:
        by_method: dict[str, int] = {}
        for call in self.calls:
            by_method[call.method] = by_method.get(call.method, 0) + 1
        result = {
            "calls": by_method,
            "sent": self.sent.total(),
            "drafts": self.drafts.total(),
            "flood_rejections": self.flood.rejected,
            "pending_updates": self.pending_updates,
        }
        return self._response({"ok": True, "result": result})

    async def _control_reset(self, request: web.Request) -> web.StreamResponse:
        self.reset()
        return self._response({"ok": True, "result": True})


# --------------------------------------------------------------------------- standalone


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeTelegram(
        args.token,
        bot_username=args.username,
        host=args.host,
        port=args.port,
        flood=FloodLimits.off() if args.no_flood_limits else FloodLimits(),
        record=not args.no_record,
    )
    await serve_until_signalled(fake, lambda f: f.base_url)  # the one line callers read


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake Telegram Bot API on 127.0.0.1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--token", default="123456:TEST-token")
    parser.add_argument("--username", default="chatrelay_bot")
    parser.add_argument("--no-flood-limits", action="store_true")
    parser.add_argument("--no-record", action="store_true", help="do not keep tg.calls")
    asyncio.run(_serve(parser.parse_args(argv)))
