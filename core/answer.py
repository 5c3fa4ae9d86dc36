"""The answering pipeline: history window -> LLM stream -> drafts -> stored, delivered reply."""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, field, replace

from core.config import ServiceConfig
from core.context import PromptWindow, build_window, prompt_budget
from core.domain import (
    ChatState,
    Completion,
    ContentDelta,
    IncomingMessage,
    Language,
    LLMRequest,
    NewAssistantMessage,
    Queued,
    ReasoningSupport,
    RequestStatus,
    Restarted,
    Usage,
    UsageRecord,
)
from core.errors import LLMError, MalformedResponseError, ModerationError
from core.i18n import Translator
from core.metrics import Metrics
from core.ports import ChatStore, Clock, LLMClient, ModelDirectory, Reply, ReplySink
from core.streaming import DraftRelay, TypingPulse
from core.tokens import estimate_message_tokens

log = logging.getLogger("chatrelay.answer")
QUEUE_SECONDS_SHOWN_UP_TO = 120  # longer queue waits are told in minutes
EMPTY_ANSWER = "empty_answer"  # the usage row's error kind when no model wrote an answer


@dataclass(frozen=True, slots=True)
class Turn:
    """One incoming message being handled, with what the pipeline needs to know about it."""

    incoming: IncomingMessage
    chat: ChatState
    lang: Language
    sink: ReplySink
    user_message_id: int


@dataclass(slots=True)
class StreamOutcome:
    completion: Completion
    notices: list[str] = field(default_factory=list)


class Answerer:
    def __init__(
        self,
        *,
        store: ChatStore,
        llm: LLMClient,
        models: ModelDirectory,
        translator: Translator,
        clock: Clock,
        config: ServiceConfig,
        metrics: Metrics,
    ) -> None:
        self._metrics = metrics
        self._store = store
        self._llm = llm
        self._models = models
        self._t = translator
        self._clock = clock
        self._config = config

    async def prompt_budget(self, chat: ChatState) -> int:
        """Tokens the prompt may use for this chat's model."""
        model = self._config.chain_for(chat.settings)[0]
        try:
            context_length = await self._models.context_length(model)
        except LLMError:
            log.warning("model list unavailable; using the configured context cap")
            context_length = None
        return prompt_budget(
            context_length, self._config.answer_max_tokens, self._config.context_max_tokens
        )

    async def answer(
        self,
        turn: Turn,
        *,
        budget: int,
        show_reasoning: bool,
        chain: tuple[str, ...] | None = None,
    ) -> None:
        """Answer ``turn`` with a prompt of at most ``budget`` tokens (see prompt_budget).

        ``chain``: the models to try, when not the chat's usual chain (e.g. only those that see
        images); the message's images go with its turn.
        """
        chain = chain or self._config.chain_for(turn.chat.settings)
        window = await self._window(turn, budget)
        request = LLMRequest(
            models=chain,
            messages=window.turns,
            reasoning=self._config.reasoning,
            max_tokens=self._config.answer_max_tokens,
            user=anonymous_user_id(turn.incoming),
            estimated_prompt_tokens=window.estimated_tokens,
            reasoning_support=await self._reasoning_support(chain),
        )
        started = self._clock.monotonic()
        try:
            outcome = await self._stream(request, turn)
        except LLMError as error:
            await self._fail(turn, chain[0], error, started)
            return
        await self._finish(turn, outcome, show_reasoning)

    async def _reasoning_support(
        self, chain: tuple[str, ...]
    ) -> tuple[tuple[str, ReasoningSupport], ...]:
        """What each model takes for ``reasoning``, from the (cached) model list."""
        try:
            infos = [await self._models.find(model) for model in chain]
        except LLMError:
            return ()  # no list: the request goes as configured
        return tuple((info.id, info.reasoning) for info in infos if info is not None)

    async def _window(self, turn: Turn, budget: int) -> PromptWindow:
        history = await self._store.recent_messages(
            turn.chat.conversation_id, limit=self._config.context_max_messages
        )
        window = build_window(
            turn.chat.settings.system_prompt,
            history,
            budget,
            shared=turn.incoming.shared,
            images=[image.data_url() for image in turn.incoming.images],
        )
        if window.dropped_turns:
            log.debug("older turns left out of the window", extra={"dropped": window.dropped_turns})
        return window

    async def _stream(self, request: LLMRequest, turn: Turn) -> StreamOutcome:
        typing = TypingPulse(turn.sink, self._clock)
        relay = DraftRelay(turn.sink, self._clock, on_shown=typing.seen)
        notices: list[str] = []
        text = ""
        queued_told = False
        try:
            async for event in self._llm.stream(request):
                if isinstance(event, ContentDelta):
                    text += event.text
                    relay.update(text)
                elif isinstance(event, Restarted):
                    text = ""
                    notice = self._t(
                        turn.lang, "restarted", failed=event.failed_model, model=event.model
                    )
                    notices.append(notice)
                    relay.update(notice)
                elif isinstance(event, Queued) and not queued_told:
                    self._metrics.queued(event.wait_seconds)
                    queued_told = await self._tell_queued(turn, event.wait_seconds)
                elif isinstance(event, Completion):
                    return StreamOutcome(event, notices)
        finally:
            await relay.close()
            await typing.stop()
        raise MalformedResponseError(
            "the stream ended without a completion", model=request.models[0]
        )

    async def _tell_queued(self, turn: Turn, wait_seconds: float) -> bool:
        """Tell the user how long their message waits for the model (when it is noticeable)."""
        if wait_seconds < self._config.queue_notice_seconds:
            return False
        seconds = max(1, math.ceil(wait_seconds))
        if seconds < QUEUE_SECONDS_SHOWN_UP_TO:
            text = self._t(turn.lang, "queued", seconds=seconds)
        else:
            text = self._t(turn.lang, "queued.minutes", minutes=math.ceil(seconds / 60))
        await turn.sink.deliver(Reply(text, transient=True))
        return True

    async def _finish(self, turn: Turn, outcome: StreamOutcome, show_reasoning: bool) -> None:
        completion = outcome.completion
        self._metrics.answered(completion)
        usage = self._usage_record(turn, completion)
        if not completion.content.strip():  # every model of the chain answered nothing
            self._metrics.failed(EMPTY_ANSWER)
            await self._store.record_usage(
                replace(usage, status=RequestStatus.ERROR, error_kind=EMPTY_ANSWER)
            )
            text = f"{self._t(turn.lang, 'answer_empty')}\n{self._t(turn.lang, 'error.kept')}"
            await turn.sink.deliver(Reply(text, is_error=True))
            return
        notices = list(outcome.notices)
        if completion.finish_reason == "length":
            notices.append(self._t(turn.lang, "answer_truncated"))
        message_id = await self._store.save_answer(self._assistant_message(turn, completion), usage)
        reply = Reply(
            text=completion.content,
            reasoning=(completion.reasoning or None) if show_reasoning else None,
            reasoning_label=self._t(turn.lang, "reasoning.label"),
            notice="\n".join(notices) or None,
            kept=True,
        )
        platform_ids = await turn.sink.deliver(reply)
        if platform_ids:
            await self._store.set_platform_reply_ids(message_id, platform_ids)
        log.info(
            "answered",
            extra={
                "chat": str(turn.chat.ref),
                "model": completion.model_served,
                "fallback": completion.fallback_used,
                "latency_ms": completion.latency_ms,
                "ttft_ms": completion.ttft_ms,
                "tokens": completion.usage.total_tokens,
            },
        )

    def _assistant_message(self, turn: Turn, completion: Completion) -> NewAssistantMessage:
        return NewAssistantMessage(
            chat_id=turn.chat.id,
            conversation_id=turn.chat.conversation_id,
            content=completion.content,
            reasoning=completion.reasoning,
            reasoning_details=completion.reasoning_details,
            model=completion.model_served,
            token_estimate=estimate_message_tokens(completion.content),
            reply_to_message_id=turn.user_message_id,
        )

    def _usage_record(self, turn: Turn, completion: Completion) -> UsageRecord:
        return UsageRecord(
            chat_id=turn.chat.id,
            user_id=user_key(turn.incoming),
            model_requested=completion.model_requested,
            model_served=completion.model_served,
            provider=completion.provider,
            generation_id=completion.generation_id,
            usage=completion.usage,
            latency_ms=completion.latency_ms,
            ttft_ms=completion.ttft_ms,
            fallback_used=completion.fallback_used,
            status=RequestStatus.OK,
            created_at=self._clock.now(),
        )

    async def _fail(self, turn: Turn, model: str, error: LLMError, started: float) -> None:
        self._metrics.failed(error.kind.value)
        log.warning(
            "answer failed",
            extra={
                "chat": str(turn.chat.ref),
                "model": error.model or model,
                "error_kind": error.kind.value,
                "status": error.status,
                "detail": error.message[:200],
            },
        )
        await self._store.record_usage(
            UsageRecord(
                chat_id=turn.chat.id,
                user_id=user_key(turn.incoming),
                model_requested=model,
                model_served=None,
                provider=None,
                generation_id=None,
                usage=Usage(),
                latency_ms=round((self._clock.monotonic() - started) * 1000),
                ttft_ms=None,
                fallback_used=False,
                status=RequestStatus.ERROR,
                error_kind=error.kind.value,
                created_at=self._clock.now(),
            )
        )
        text = f"{self.describe_error(turn.lang, error)}\n{self._t(turn.lang, 'error.kept')}"
        await turn.sink.deliver(Reply(text, is_error=True))

    def describe_error(self, lang: Language, error: LLMError) -> str:
        if isinstance(error, ModerationError):
            reasons = f": {', '.join(error.reasons)}" if error.reasons else ""
            return self._t(lang, "error.moderation", reasons=reasons)
        return self._t(lang, f"error.{error.kind.value}", **error.message_params())


def user_key(message: IncomingMessage) -> str:
    """Who asked, as usage rows name them: ``platform:id`` (the same number may be two people
    on two platforms)."""
    return f"{message.chat.platform}:{message.author.id}"


def anonymous_user_id(message: IncomingMessage) -> str:
    """A stable id for OpenRouter's abuse tracking that reveals nothing about the person."""
    raw = f"{message.chat.platform}:{message.author.id}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]
