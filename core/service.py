"""ChatService: the one use case. Any platform's message goes through ``handle``."""

from __future__ import annotations

import logging

from core.answer import Answerer, Turn
from core.commands import Command, Commands, parse_command
from core.config import ServiceConfig
from core.context import speaker_line
from core.domain import ChatState, IncomingMessage, Language, NewUserMessage
from core.i18n import Translator
from core.ports import ChatSerializer, ChatStore, Clock, LLMClient, ModelDirectory, Reply, ReplySink
from core.text import clean_text
from core.tokens import estimate_message_tokens

log = logging.getLogger("chatrelay.service")


class ChatService:
    """Handles messages: commands, or history -> LLM stream -> the platform's reply sink.

    Messages of one chat are handled one at a time in arrival order (``serializer``); different
    chats run concurrently. The user's message is stored before the model is called, and a
    second delivery of the same platform message id is answered once.
    """

    def __init__(
        self,
        *,
        store: ChatStore,
        llm: LLMClient,
        models: ModelDirectory,
        serializer: ChatSerializer,
        translator: Translator,
        clock: Clock,
        config: ServiceConfig,
    ) -> None:
        self._store = store
        self._serializer = serializer
        self._t = translator
        self._config = config
        self._answerer = Answerer(
            store=store, llm=llm, models=models, translator=translator, clock=clock, config=config
        )
        self._commands = Commands(
            store=store, llm=llm, models=models, translator=translator, config=config
        )

    async def handle(self, message: IncomingMessage, sink: ReplySink) -> None:
        async with self._serializer.hold(message.chat):
            chat = await self._store.load_chat(message.chat)
            lang = self.language_for(chat, message)
            try:
                await self._route(message, chat, lang, sink)
            except Exception:
                log.exception("message handling failed", extra={"chat": str(message.chat)})
                await sink.deliver(Reply(self._t(lang, "error.internal"), is_error=True))

    def language_for(self, chat: ChatState, message: IncomingMessage) -> Language:
        return (
            chat.settings.language
            or Language.from_code(message.author.language_code)
            or self._config.default_language
        )

    async def _route(
        self, message: IncomingMessage, chat: ChatState, lang: Language, sink: ReplySink
    ) -> None:
        text = clean_text(message.text).strip()
        command = parse_command(text)
        question = command.asks_with_reasoning() if command else None
        if command is not None and question is None:
            await self._run_command(message, chat, lang, sink, command)
            return
        text = question if question is not None else text
        await self._converse(message, chat, lang, sink, text, show=question is not None)

    async def _run_command(
        self,
        message: IncomingMessage,
        chat: ChatState,
        lang: Language,
        sink: ReplySink,
        command: Command,
    ) -> None:
        stored = await self._store_user(message, chat, clean_text(message.text), command=True)
        if stored is None:
            return
        await self._commands.run(Turn(message, chat, lang, sink, stored), command)

    async def _converse(
        self,
        message: IncomingMessage,
        chat: ChatState,
        lang: Language,
        sink: ReplySink,
        text: str,
        *,
        show: bool,
    ) -> None:
        budget = await self._answerer.prompt_budget(chat)
        rejection = self._rejection(chat, lang, text, budget)
        stored = await self._store_user(message, chat, text, in_context=rejection is None)
        if stored is None:
            log.info("duplicate delivery ignored", extra={"chat": str(message.chat)})
            return
        if rejection is not None:
            await sink.deliver(Reply(rejection, is_error=True))
            return
        turn = Turn(message, chat, lang, sink, stored)
        await self._answerer.answer(
            turn, budget=budget, show_reasoning=show or chat.settings.show_reasoning
        )

    def _rejection(self, chat: ChatState, lang: Language, text: str, budget: int) -> str | None:
        """Why this text can't go to the model (``budget``: prompt tokens it may use), in the
        user's language, or None."""
        if not text:
            return self._t(lang, "empty_message")
        if len(text) > self._config.max_input_chars:
            return self._t(
                lang, "input_too_many_chars", chars=len(text), limit=self._config.max_input_chars
            )
        system = chat.settings.system_prompt
        needed = estimate_message_tokens(text) + (estimate_message_tokens(system) if system else 0)
        if needed > budget:
            return self._t(lang, "input_too_long", tokens=needed, limit=budget)
        return None

    async def _store_user(
        self,
        message: IncomingMessage,
        chat: ChatState,
        text: str,
        *,
        command: bool = False,
        in_context: bool = True,
    ) -> int | None:
        return await self._store.add_user_message(
            NewUserMessage(
                chat_id=chat.id,
                conversation_id=chat.conversation_id,
                author_id=message.author.id,
                author_name=clean_text(message.author.name),
                content=text,
                platform_message_id=message.message_id,
                token_estimate=estimate_message_tokens(
                    speaker_line(message.author.name, text) if message.shared else text
                ),
                in_context=in_context and not command,
                is_command=command,
            )
        )
