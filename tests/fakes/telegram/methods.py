"""The Bot API methods the fake answers, with Telegram's checks and error descriptions."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlsplit

from . import text as tx
from .model import ApiError, Chat, ChatAction, Draft, SentMessage, StoredFile, Upload, Version
from .server import CONFLICT_WEBHOOK, UPDATE_KINDS, Described, Params, ServerCore

GET_FILE_MAX_BYTES = 20 * 1024 * 1024  # getFile refuses larger files ("file is too big")

Json = dict[str, Any]

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
CHAT_ACTIONS = frozenset(
    {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
     "upload_document", "choose_sticker", "find_location", "record_video_note",
     "upload_video_note"}
)  # fmt: skip
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_SCOPES = {
    "default": (), "all_private_chats": (), "all_group_chats": (),
    "all_chat_administrators": (), "chat": ("chat_id",), "chat_administrators": ("chat_id",),
    "chat_member": ("chat_id", "user_id"),
}  # fmt: skip
_TRUE_METHODS = (
    "logOut", "close", "setMyDescription", "setMyShortDescription", "setMyName",
    "setChatMenuButton", "setMyDefaultAdministratorRights",
)  # fmt: skip


class BotApiMethods(ServerCore):
    def _register_methods(self) -> None:
        table = {
            "getMe": self.get_me,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message,
            "editMessageText": self.edit_message_text,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "deleteMessages": self.delete_messages,
            "sendChatAction": self.send_chat_action,
            "sendMessageDraft": self.send_message_draft,
            "sendDocument": self.send_document,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "answerCallbackQuery": self.answer_callback_query,
            "getFile": self.get_file,
            "getChat": self.get_chat,
            "setMessageReaction": self.set_message_reaction,
        }
        for name in _TRUE_METHODS:
            table[name] = self._accept
        self._methods = {name.lower(): (name, handler) for name, handler in table.items()}

    # ---- helpers

    def _chat(self, p: Params) -> Chat:
        raw = p.get("chat_id")
        if raw is None or raw == "":
            raise ApiError.bad_request("chat_id is empty")
        chat: Chat | None = None
        if isinstance(raw, str) and raw.strip().startswith("@"):
            name = raw.strip()[1:].lower()
            chat = next(
                (c for c in self.chats.values() if (c.username or "").lower() == name), None
            )
        else:
            try:
                chat = self.chats.get(p.get_int("chat_id") or 0)
            except ApiError:
                chat = None
        if chat is None:
            raise ApiError.bad_request("chat not found")
        return chat

    def _writable(self, chat: Chat) -> None:
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")

    def _admit(self, chat: Chat) -> None:
        retry_after = self.flood.admit(chat.id)
        if retry_after is not None:
            raise ApiError.flood(retry_after)

    def _format(self, p: Params, text: str, **options: Any) -> tx.FormattedText:
        entities_key = options.pop("entities_key", "entities")
        parse_mode = p.get_str("parse_mode")
        entities = (
            None if parse_mode else p.get_json(entities_key, "can't parse entities JSON object")
        )
        try:
            return tx.format_text(text, parse_mode, entities, users=self.users, **options)
        except tx.TextError as exc:
            raise ApiError.bad_request(exc.description) from None

    def _markup(self, p: Params) -> Json | None:
        markup = p.get_json("reply_markup", "can't parse reply keyboard markup JSON object")
        if markup is not None and not isinstance(markup, dict):
            raise ApiError.bad_request("can't parse reply keyboard markup JSON object")
        return markup

    def _reply_target(self, chat: Chat, p: Params) -> Json | None:
        reply = p.get_json("reply_parameters", "can't parse reply parameters JSON object")
        message_id = p.get_int("reply_to_message_id")
        allow_missing = p.get_bool("allow_sending_without_reply")
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply"))
        if not message_id:
            return None
        target = self.messages.get((chat.id, int(message_id)))
        if target is None and not allow_missing:
            raise ApiError.bad_request("message to be replied not found")
        return target

    def _new_bot_message(
        self, chat: Chat, p: Params, content: Json, version: Version, kind: str = "text"
    ) -> Json:
        thread_id = p.get_int("message_thread_id")
        reply = self._reply_target(chat, p)
        self._writable(chat)
        self._admit(chat)
        message_id = chat.new_message_id()
        message: Json = {
            "message_id": message_id,
            "from": self.bot.to_json(),
            "chat": chat.to_json(),
            "date": version.date,
        }
        if thread_id and chat.type != "private":
            message["message_thread_id"] = thread_id
            if chat.is_forum:
                message["is_topic_message"] = True
        if reply is not None:
            message["reply_to_message"] = _shallow(reply)
        message.update(content)
        _set_markup(message, version.reply_markup)
        self.messages[(chat.id, message_id)] = message
        sent = SentMessage(
            chat.id,
            message_id,
            [version],
            kind=kind,
            reply_to=reply["message_id"] if reply else None,
            thread_id=thread_id,
            json=message,
        )
        if kind != "text":
            sent.file = message.get(kind)
        self._sent_index[(chat.id, message_id)] = sent
        self.sent.add(chat.id, sent)
        return message

    def _bot_message(self, chat: Chat, p: Params, action: str) -> SentMessage:
        message_id = p.get_int("message_id", empty="message identifier is not specified")
        assert message_id is not None
        sent = self._sent_index.get((chat.id, message_id))
        if sent is None or sent.deleted:
            if (chat.id, message_id) in self.messages:
                raise ApiError.bad_request(f"message can't be {action}ed")
            raise ApiError.bad_request(f"message to {action} not found")
        return sent

    async def _accept(self, p: Params) -> bool:
        return True

    # ---- bot and updates

    async def get_me(self, p: Params) -> Json:
        return {
            **self.bot.to_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def get_updates(self, p: Params) -> list[Json]:
        if self.webhook_url:
            raise ApiError(409, CONFLICT_WEBHOOK)
        limit = p.get_int("limit")
        if limit is None or not 1 <= limit <= 100:
            limit = 100
        timeout = max(p.get_int("timeout") or 0, 0)
        allowed = p.get_json("allowed_updates", "can't parse allowed_updates JSON object")
        if isinstance(allowed, list):
            kinds = frozenset(str(kind) for kind in allowed if kind in UPDATE_KINDS)
            self._allowed = kinds or None
        return await self._long_poll(p.get_int("offset") or 0, limit, timeout)

    async def set_webhook(self, p: Params) -> Described:
        url = (p.get_str("url") or "").strip()
        if not url:
            return await self.delete_webhook(p)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError.bad_request("bad webhook: invalid webhook URL specified")
        secret = p.get_str("secret_token") or ""
        if len(secret) > 256:
            raise ApiError.bad_request("secret token is too long")
        if secret and not _SECRET.fullmatch(secret):
            raise ApiError.bad_request("secret token contains unallowed characters")
        max_connections = p.get_int("max_connections") or 40
        if not 1 <= max_connections <= 100:
            max_connections = 40
        allowed = p.get_json("allowed_updates", "can't parse allowed_updates JSON object")
        if isinstance(allowed, list):
            self._allowed = frozenset(str(k) for k in allowed if k in UPDATE_KINDS) or None
        if p.get_bool("drop_pending_updates"):
            self._updates.clear()
        was_set = self.webhook_url == url
        self.webhook_url = url
        self.webhook_secret = secret or None
        if self.webhook_max_connections != max_connections or self._wh_slots is None:
            self.webhook_max_connections = max_connections
            self._wh_slots = asyncio.Semaphore(max_connections)
        waiter = self._poll_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result("webhook")
        while self._updates:
            update = self._updates.popleft()
            if self._is_allowed(update):
                self._webhook_enqueue(update)
        return Described(True, "Webhook is already set" if was_set else "Webhook was set")

    async def delete_webhook(self, p: Params) -> Described:
        was_set = bool(self.webhook_url)
        self._stop_webhook()
        if p.get_bool("drop_pending_updates"):
            self._updates.clear()
        return Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    async def get_webhook_info(self, p: Params) -> Json:
        info: Json = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": self.pending_updates,
        }
        if self.webhook_url:
            info["max_connections"] = self.webhook_max_connections
            info["ip_address"] = "127.0.0.1"
            if self._allowed is not None:
                info["allowed_updates"] = sorted(self._allowed)
        if self.webhook_last_error is not None:
            info["last_error_date"], info["last_error_message"] = self.webhook_last_error
        return info

    # ---- messages

    async def send_message(self, p: Params) -> Json:
        chat = self._chat(p)
        raw = p.get_str("text") or ""
        if not raw:
            raise ApiError.bad_request("message text is empty")
        formatted = self._format(p, raw)
        version = Version(
            formatted.text,
            formatted.entities,
            raw,
            p.get_str("parse_mode"),
            self._markup(p),
            int(self.wall_clock()),
        )
        content: Json = {"text": formatted.text}
        if formatted.entities:
            content["entities"] = formatted.entities
        link_preview = p.get_json("link_preview_options", "can't parse link preview options")
        if isinstance(link_preview, dict) and link_preview.get("is_disabled"):
            content["link_preview_options"] = {"is_disabled": True}
        return self._new_bot_message(chat, p, content, version)

    async def edit_message_text(self, p: Params) -> Json:
        if p.has("inline_message_id") and not p.has("chat_id"):
            raise ApiError.bad_request("MESSAGE_ID_INVALID")
        chat = self._chat(p)
        sent = self._bot_message(chat, p, "edit")
        if sent.kind != "text":
            raise ApiError.bad_request("there is no text in the message to edit")
        raw = p.get_str("text") or ""
        if not raw:
            raise ApiError.bad_request("message text is empty")
        formatted = self._format(p, raw)
        markup = self._markup(p)
        current = sent.versions[-1]
        if (formatted.text, formatted.entities, markup) == (
            current.text,
            current.entities,
            current.reply_markup,
        ):
            raise ApiError.bad_request(NOT_MODIFIED)
        self._writable(chat)
        self._admit(chat)
        now = int(self.wall_clock())
        sent.versions.append(
            Version(formatted.text, formatted.entities, raw, p.get_str("parse_mode"), markup, now)
        )
        message = sent.json
        message["text"] = formatted.text
        message.pop("entities", None)
        if formatted.entities:
            message["entities"] = formatted.entities
        message["edit_date"] = now
        _set_markup(message, markup)
        return message

    async def edit_message_reply_markup(self, p: Params) -> Json:
        chat = self._chat(p)
        sent = self._bot_message(chat, p, "edit")
        markup = self._markup(p)
        current = sent.versions[-1]
        if markup == current.reply_markup:
            raise ApiError.bad_request(NOT_MODIFIED)
        self._admit(chat)
        now = int(self.wall_clock())
        sent.versions.append(
            Version(current.text, current.entities, current.raw, current.parse_mode, markup, now)
        )
        sent.json["edit_date"] = now
        _set_markup(sent.json, markup)
        return sent.json

    async def delete_message(self, p: Params) -> bool:
        chat = self._chat(p)
        message_id = p.get_int("message_id", empty="message identifier is not specified")
        assert message_id is not None
        self._delete(chat, message_id, strict=True)
        return True

    async def delete_messages(self, p: Params) -> bool:
        chat = self._chat(p)
        ids = p.get_json("message_ids", "can't parse message identifiers JSON object")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise ApiError.bad_request("message identifiers are not specified")
        for message_id in ids:
            self._delete(chat, int(message_id), strict=False)
        return True

    def _delete(self, chat: Chat, message_id: int, *, strict: bool) -> None:
        message = self.messages.get((chat.id, message_id))
        if message is None:
            if strict:
                raise ApiError.bad_request("message to delete not found")
            return
        sender = message.get("from") or {}
        if not chat.is_private and sender.get("id") != self.bot.id and not chat.bot_is_admin:
            if strict:
                raise ApiError.bad_request("message can't be deleted")
            return
        del self.messages[(chat.id, message_id)]
        sent = self._sent_index.get((chat.id, message_id))
        if sent is not None:
            sent.deleted = True

    async def send_chat_action(self, p: Params) -> bool:
        chat = self._chat(p)
        action = p.get_str("action") or ""
        if action not in CHAT_ACTIONS:
            raise ApiError.bad_request("wrong parameter action in request")
        self._writable(chat)
        record = ChatAction(chat.id, action, p.get_int("message_thread_id"), self.clock())
        self.actions.add(chat.id, record)
        return True

    async def send_message_draft(self, p: Params) -> bool:
        chat = self._chat(p)
        if not chat.is_private:
            raise ApiError.bad_request("TEXTDRAFT_PEER_INVALID")
        draft_id = p.get_int("draft_id", empty="draft_id is empty")
        if not draft_id:
            raise ApiError.bad_request("draft_id must be non-zero")
        formatted = self._format(p, p.get_str("text") or "", allow_empty=True, find_new=False)
        self._writable(chat)
        if self.flood_limits.drafts_count:
            self._admit(chat)
        thread_id = p.get_int("message_thread_id")
        draft = Draft(
            chat.id, draft_id, formatted.text, formatted.entities, thread_id, self.clock()
        )
        self.drafts.add(chat.id, draft)
        return True

    async def send_document(self, p: Params) -> Json:
        chat = self._chat(p)
        document = p.get("document")
        if isinstance(document, Upload):
            stored = self.store_file(
                document.data, "documents", document.filename or "file", document.content_type
            )
            info: Json = {"file_name": document.filename or "file"}
            if document.content_type:
                info["mime_type"] = document.content_type
        elif isinstance(document, str) and document in self.files:
            stored = self.files[document]
            info = {}
        else:
            raise ApiError.bad_request("wrong remote file identifier specified")
        info.update(stored_json(stored))
        caption = p.get_str("caption") or ""
        formatted = self._format(
            p,
            caption,
            entities_key="caption_entities",
            limit=tx.MAX_CAPTION,
            allow_empty=True,
            too_long="message caption is too long",
        )
        version = Version(
            formatted.text,
            formatted.entities,
            caption,
            p.get_str("parse_mode"),
            self._markup(p),
            int(self.wall_clock()),
        )
        content: Json = {"document": info}
        if formatted.text:
            content["caption"] = formatted.text
        if formatted.entities:
            content["caption_entities"] = formatted.entities
        return self._new_bot_message(chat, p, content, version, kind="document")

    async def set_message_reaction(self, p: Params) -> bool:
        chat = self._chat(p)
        message_id = p.get_int("message_id", empty="message identifier is not specified")
        if (chat.id, message_id) not in self.messages:
            raise ApiError.bad_request("message to react not found")
        reaction = p.get_json("reaction", "can't parse reaction types JSON object") or []
        self.reactions.append({"chat_id": chat.id, "message_id": message_id, "reaction": reaction})
        return True

    # ---- commands

    def _scope(self, p: Params) -> tuple[Any, ...]:
        scope = p.get_json("scope", "can't parse BotCommandScope JSON object") or {
            "type": "default"
        }
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPES:
            raise ApiError.bad_request("unsupported bot command scope type specified")
        kind = str(scope["type"])
        values: list[Any] = [kind]
        for field_name in _SCOPES[kind]:
            value = scope.get(field_name)
            if value in (None, ""):
                raise ApiError.bad_request(f"{field_name} is empty")
            if field_name == "chat_id":
                value = self._chat(Params({"chat_id": value})).id
            values.append(int(value))
        return tuple(values)

    def _language(self, p: Params) -> str:
        code = p.get_str("language_code") or ""
        if code and not re.fullmatch(r"[a-z]{2}", code):
            raise ApiError.bad_request("LANG_CODE_INVALID")
        return code

    async def set_my_commands(self, p: Params) -> bool:
        commands = p.get_json("commands", "can't parse commands JSON object")
        if not isinstance(commands, list):
            raise ApiError.bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise ApiError.bad_request("BOT_COMMANDS_TOO_MUCH")
        cleaned = []
        for item in commands:
            if not isinstance(item, dict):
                raise ApiError.bad_request("can't parse BotCommand: expected an Object")
            command = item.get("command")
            description = item.get("description")
            if not isinstance(command, str) or not isinstance(description, str):
                raise ApiError.bad_request('can\'t parse BotCommand: field "command" is missing')
            command = command.strip().removeprefix("/")
            if not _COMMAND.fullmatch(command):
                raise ApiError.bad_request("BOT_COMMAND_INVALID")
            if not description.strip():
                raise ApiError.bad_request("command description must be non-empty")
            if len(description) > 256:
                raise ApiError.bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        key = (self._scope(p), self._language(p))
        if cleaned:
            self.commands[key] = cleaned
        else:
            self.commands.pop(key, None)
        return True

    async def get_my_commands(self, p: Params) -> list[Json]:
        return list(self.commands.get((self._scope(p), self._language(p)), []))

    async def delete_my_commands(self, p: Params) -> bool:
        self.commands.pop((self._scope(p), self._language(p)), None)
        return True

    def commands_for(
        self, scope: str = "default", language_code: str = "", *ids: int
    ) -> list[Json]:
        """The commands set for a scope (``"chat", chat_id`` …) and language."""
        return list(self.commands.get(((scope, *ids), language_code), []))

    # ---- callbacks, files, chats

    async def answer_callback_query(self, p: Params) -> bool:
        query_id = p.get_str("callback_query_id") or ""
        if query_id not in self._callbacks:
            raise ApiError.bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        del self._callbacks[query_id]
        self.callback_answers.append(
            {"id": query_id, "text": p.get_str("text"), "show_alert": p.get_bool("show_alert")}
        )
        return True

    async def get_file(self, p: Params) -> Json:
        stored = self.files.get(p.get_str("file_id") or "")
        if stored is None:
            raise ApiError.bad_request("invalid file_id")
        if len(stored.data) > GET_FILE_MAX_BYTES:
            raise ApiError.bad_request("file is too big")
        return {**stored_json(stored), "file_path": stored.file_path}

    async def get_chat(self, p: Params) -> Json:
        chat = self._chat(p)
        return {**chat.to_json(), "accent_color_id": 0, "max_reaction_count": 11}

    def store_file(
        self,
        data: bytes,
        folder: str,
        name: str = "file",
        mime_type: str | None = None,
        *,
        reported_size: int | None = -1,
        chunked: bool = False,
    ) -> StoredFile:
        """A file users sent; ``reported_size`` is the ``file_size`` Telegram reports (-1: the
        real size, None: none), ``chunked`` serves it without a Content-Length."""
        number = next(self._ids)
        suffix = name.rsplit(".", 1)[-1] if "." in name else "bin"
        stored = StoredFile(
            file_id=f"BQACAgIAAxkBAAIB{number:08d}{folder[:4]}",
            file_unique_id=f"AgAD{number:06d}",
            file_path=f"{folder}/file_{number}.{suffix}",
            data=data,
            mime_type=mime_type,
            reported_size=reported_size,
            chunked=chunked,
        )
        self.files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored


def stored_json(stored: StoredFile) -> Json:
    data: Json = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    if stored.file_size is not None:
        data["file_size"] = stored.file_size
    return data


def _shallow(message: Json) -> Json:
    """A message as it appears in ``reply_to_message`` (no nested reply)."""
    return {key: value for key, value in message.items() if key != "reply_to_message"}


def _set_markup(message: Json, markup: Json | None) -> None:
    """Only inline keyboards are part of a message."""
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        message["reply_markup"] = markup
    else:
        message.pop("reply_markup", None)
