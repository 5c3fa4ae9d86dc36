"""ChatService: the one use case. Any platform's message goes through ``handle``."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from core.answer import Answerer, Turn
from core.commands import Command, Commands, parse_command
from core.config import ServiceConfig
from core.context import speaker_line, speaker_name, with_image_markers
from core.domain import (
    ChatSettings,
    ChatState,
    ImageInput,
    IncomingMessage,
    Language,
    NewUserMessage,
)
from core.errors import InfrastructureError, LLMError
from core.i18n import Translator
from core.inbox import Journal
from core.metrics import CountedSink, Metrics
from core.ports import (
    ChatSerializer,
    ChatStore,
    Clock,
    LLMClient,
    ModelDirectory,
    Reply,
    ReplySink,
    SinkWrapper,
)
from core.text import clean_text
from core.tokens import estimate_image_tokens, estimate_message_tokens
from core.user_limits import UserLimits

log = logging.getLogger("chatrelay.service")


class ChatService:
    """Handles messages: commands, or history -> LLM stream -> the platform's reply sink.

    Messages of one chat are handled one at a time in arrival order (``serializer``); different
    chats run concurrently. The user's message is stored before the model is called, and a
    second delivery of the same platform message id is answered once.

    A message with images is never a command; its caption may be empty. The images go to the
    model with that message only (history keeps the caption behind an ``[image]`` marker), and
    only to models of the chain that see images; when the chat's own model does not, or an
    image is larger than ``max_image_bytes``, the message is refused without calling a model.
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
        metrics: Metrics,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._serializer = serializer
        self._t = translator
        self._config = config
        self._models = models
        self._answerer = Answerer(
            store=store,
            llm=llm,
            models=models,
            translator=translator,
            clock=clock,
            config=config,
            metrics=metrics,
        )
        self._limits = UserLimits(store=store, clock=clock, settings=config.user_limits)
        self._commands = Commands(
            store=store,
            llm=llm,
            models=models,
            translator=translator,
            config=config,
            limits=self._limits,
        )

    async def handle(
        self, message: IncomingMessage, sink: ReplySink, journal: Journal | None = None
    ) -> None:
        """Answer ``message``. With a ``journal`` (the message came through the inbox) the
        final reply is kept in it before it is delivered, and a message whose handling was
        interrupted is taken up where it stood: its stored answer is delivered as it is."""
        self._metrics.message_received(message.chat.platform)
        sink = self._sink(sink, message, journal)
        async with self._serializer.hold(message.chat):
            chat = await self._store.load_chat(message.chat)
            lang = self.language_for(chat, message)
            try:
                await self._route(message, chat, lang, sink)
            except Exception as error:
                if journal is not None and isinstance(error, InfrastructureError):
                    raise  # the inbox takes it up again once the database is back: no error
                log.exception("message handling failed", extra={"chat": str(message.chat)})
                self._metrics.failed("internal")
                await sink.deliver(Reply(self._t(lang, "error.internal"), is_error=True))

    async def tell(
        self,
        message: IncomingMessage,
        sink: ReplySink,
        key: str,
        *,
        what: str | None = None,
        journal: Journal | None = None,
        **params: object,
    ) -> None:
        """Answer ``message`` with one of the bot's own messages instead of the model (an input
        the bot can't read, a command the user may not run), in the chat's language, in order
        with the chat's other messages. ``what`` names an input kind (``input.kind.<what>``).

        The message is stored (out of the model's context): it stays in the history, and a second
        delivery of it (a redelivery, a catch-up after a restart) gets no second reply."""
        self._metrics.message_received(message.chat.platform)
        sink = self._sink(sink, message, journal)
        async with self._serializer.hold(message.chat):
            chat = await self._store.load_chat(message.chat)
            stored = await self._store_user(
                message, chat, clean_text(message.text), in_context=False
            )
            if stored is None and not (journal and journal.resumed):
                log.info("duplicate delivery ignored", extra={"chat": str(message.chat)})
                return
            lang = self.language_for(chat, message)
            if what is not None:
                params["what"] = self._t(lang, f"input.kind.{what}")
            await sink.deliver(Reply(self._t(lang, key, **params), is_error=True))

    async def redeliver(self, journal: Journal, sink: ReplySink, platform: str) -> None:
        """Deliver the reply a message's interrupted handling had written (no model call)."""
        reply = journal.reply
        if reply is None:
            raise ValueError("the journal holds no reply")
        await CountedSink(sink, self._metrics, platform).deliver(reply)

    def _sink(
        self, sink: ReplySink, message: IncomingMessage, journal: Journal | None
    ) -> ReplySink:
        counted = CountedSink(sink, self._metrics, message.chat.platform)
        return counted if journal is None else JournaledSink(counted, journal)

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
        if message.images:  # a picture's caption is never a command
            await self._converse(message, chat, lang, sink, text, show=False)
            return
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
            stored = await self._taken_up(message, chat, sink)
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
        images = message.images
        chain = await self._image_chain(chat.settings) if images else None
        rejection = self._rejection(chat, lang, text, budget, images=images, chain=chain)
        if rejection is None:
            rejection = await self._limit_refusal(message, chat, lang)
        text = with_image_markers(text, len(images))
        stored = await self._store_user(message, chat, text, in_context=rejection is None)
        if stored is None:
            stored = await self._taken_up(message, chat, sink)
            if stored is None:
                return
        if rejection is not None:
            await sink.deliver(Reply(rejection, is_error=True))
            return
        turn = Turn(message, chat, lang, sink, stored)
        await self._answerer.answer(
            turn, budget=budget, show_reasoning=show or chat.settings.show_reasoning, chain=chain
        )

    async def _taken_up(
        self, message: IncomingMessage, chat: ChatState, sink: ReplySink
    ) -> int | None:
        """For a message stored before: its id when its handling was interrupted and it still
        needs its answer; None when there is nothing more to do (a duplicate delivery, or its
        answer was stored already and is delivered now)."""
        if not (isinstance(sink, JournaledSink) and sink.journal.resumed):
            log.info("duplicate delivery ignored", extra={"chat": str(message.chat)})
            return None
        stored = await self._store.user_message_id(chat.id, message.message_id)
        if stored is None:
            return None
        answer = await self._store.answer_to(stored)
        if answer is None:
            return stored
        log.info("delivering an answer written before a restart", extra={"chat": str(chat.ref)})
        await sink.deliver(Reply(answer.content))
        return None

    async def _image_chain(self, settings: ChatSettings) -> tuple[str, ...]:
        """The chat's chain without the models that can't see images, per the model list; empty
        when the chat's own model can't. The whole chain when the list can't be loaded."""
        chain = self._config.chain_for(settings)
        try:
            infos = [await self._models.find(model) for model in chain]
        except LLMError:
            log.warning("model list unavailable; the image goes to the chain as it is")
            return chain
        seeing = tuple(
            model
            for model, info in zip(chain, infos, strict=True)
            if info is not None and "image" in info.input_modalities
        )
        return seeing if seeing[:1] == chain[:1] else ()

    def _rejection(
        self,
        chat: ChatState,
        lang: Language,
        text: str,
        budget: int,
        *,
        images: tuple[ImageInput, ...] = (),
        chain: tuple[str, ...] | None = None,
    ) -> str | None:
        """Why this message can't go to the model (``budget``: prompt tokens it may use;
        ``chain``: the models that see its images), in the user's language, or None."""
        if not text and not images:
            return self._t(lang, "empty_message")
        if len(text) > self._config.max_input_chars:
            return self._t(
                lang, "input_too_many_chars", chars=len(text), limit=self._config.max_input_chars
            )
        if images:
            refusal = self._image_rejection(chat, lang, images, chain)
            if refusal is not None:
                return refusal
        system = chat.settings.system_prompt
        needed = (
            estimate_message_tokens(with_image_markers(text, len(images)))
            + estimate_image_tokens(len(images))
            + (estimate_message_tokens(system) if system else 0)
        )
        if needed > budget:
            return self._t(lang, "input_too_long", tokens=needed, limit=budget)
        return None

    async def _limit_refusal(
        self, message: IncomingMessage, chat: ChatState, lang: Language
    ) -> str | None:
        """The per-user limit or daily budget the message runs into, in the user's language."""
        refusal = await self._limits.refusal(message, chat)
        if refusal is None:
            return None
        self._metrics.failed(refusal.key.replace(".", "_"))
        unit = self._t(lang, "limit.unit.tokens") if refusal.tokens else ""
        params: dict[str, object] = {**refusal.params}
        if "used" in params:
            params["unit"] = unit
        return self._t(lang, refusal.key, **params)

    def _image_rejection(
        self,
        chat: ChatState,
        lang: Language,
        images: tuple[ImageInput, ...],
        chain: tuple[str, ...] | None,
    ) -> str | None:
        limit = self._config.max_image_bytes
        largest = max(len(image.data) for image in images)
        if largest > limit:
            return self._t(
                lang, "input.image_too_large", size=_megabytes(largest), limit=_megabytes(limit)
            )
        if not chain:
            model = self._config.chain_for(chat.settings)[0]
            return self._t(lang, "input.image_unsupported", model=model)
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
        name = speaker_name(clean_text(message.author.name))
        return await self._store.add_user_message(
            NewUserMessage(
                chat_id=chat.id,
                conversation_id=chat.conversation_id,
                author_id=message.author.id,
                author_name=name,
                content=text,
                platform_message_id=message.message_id,
                token_estimate=estimate_message_tokens(
                    speaker_line(name, text) if message.shared else text
                ),
                in_context=in_context and not command,
                is_command=command,
            )
        )


class JournaledSink(SinkWrapper):
    """A sink whose final replies are kept in the message's journal before they go out."""

    def __init__(self, sink: ReplySink, journal: Journal) -> None:
        super().__init__(sink)
        self.journal = journal

    async def deliver(self, reply: Reply) -> Sequence[str]:
        if not (reply.transient or reply.kept):  # a kept answer is found in the history
            await self.journal.answered(reply)
        return await self._sink.deliver(reply)


def _megabytes(size: int) -> str:
    """Bytes as MiB with one decimal at most, rounded up so that a size just over a limit never
    reads as the limit itself: ``10485760`` -> ``"10"``, ``10485761`` -> ``"10.1"``."""
    tenths = math.ceil(size * 10 / (1024 * 1024))
    return f"{tenths // 10}.{tenths % 10}".removesuffix(".0")
