"""OpenRouter chat completions over httpx: streaming, timeouts, fallback, rate limiting.

Figures in the final ``Completion``: ``latency_ms`` runs from the call of ``stream()`` to the end
of the answer, failed attempts and retry pauses included, time queued in the client-side rate
limiter excluded; ``ttft_ms`` runs from the same origin to the first content or reasoning delta of
the attempt that answered. ``fallback_used`` is true when any attempt failed, a later model of the
chain was tried, or OpenRouter's own ``models`` fallback served a later model of the chain (a
served id that is merely a dated or routed variant of the requested one does not count).

An answer without content (only whitespace, or only reasoning) counts as a failure while
another model can still be tried; when none can, the last empty answer is the ``Completion``.

If an attempt fails after it yielded deltas (content or reasoning), a ``Restarted`` event precedes
the next model's answer and everything shown so far must be discarded; before any delta, the
fallback is silent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass

import httpx

from core.domain import (
    Completion,
    JsonObject,
    JsonValue,
    KeyInfo,
    LLMEvent,
    LLMRequest,
    ModelInfo,
    Queued,
    Restarted,
    Usage,
)
from core.errors import BadRequestError, LLMError, LLMTimeoutError
from core.llm.config import OpenRouterConfig
from core.llm.errors import error_from_response, error_from_transport, malformed
from core.llm.fallback import FallbackPlan, Step
from core.llm.jsonvalues import load_json
from core.llm.limits import ModelLimits, is_free_model
from core.llm.listings import parse_key_info, parse_model_list
from core.llm.payload import chat_body
from core.llm.response import Delta, ResponseAssembler
from core.llm.sse import LineSplitter, SSEData, SSEDecoder
from core.ports import Clock

logger = logging.getLogger("chatrelay.llm")
DRAIN_SECONDS = 1.0  # how long to wait for the end of the body after [DONE]
KEY_CACHE_SECONDS = 60.0  # GET /key is asked at most once a minute


@dataclass(slots=True)
class _Timing:
    """One ``stream()`` call: deadlines in event-loop time, reported figures on the Clock."""

    started: float  # clock.monotonic()
    deadline: float  # loop time: the total timeout
    queued: float = 0.0  # seconds spent waiting in the rate limiter


@dataclass(slots=True)
class _Attempt:
    number: int
    model: str
    assembler: ResponseAssembler
    first_token_deadline: float  # loop time
    started: float  # clock.monotonic()
    first_delta_at: float | None = None  # clock.monotonic()
    yielded: bool = False


class OpenRouterClient:
    """Implements core.ports.LLMClient. The HTTP client is closed by its creator; ``aclose``
    ends the client's own background work (a refresh of the key's figures)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        config: OpenRouterConfig,
        limits: ModelLimits,
        clock: Clock,
    ) -> None:
        self._http = http
        self._config = config
        self._limits = limits
        self._clock = clock
        self._headers = config.headers()
        self._key: KeyInfo | None = None
        self._key_read_at = float("-inf")
        self._key_lock = asyncio.Lock()
        self._key_refresh: asyncio.Task[KeyInfo | None] | None = None

    async def aclose(self) -> None:
        task, self._key_refresh = self._key_refresh, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        if not request.models:
            raise BadRequestError("the request names no model")
        timing = _Timing(self._clock.monotonic(), _loop_time() + self._config.total_timeout)
        await self._limits.refresh()  # cool-downs and the quota other replicas learned
        plan = FallbackPlan(
            len(request.models),
            max_attempts=self._config.max_attempts,
            max_retry_wait=self._config.max_retry_wait,
            wait_for=lambda index: self._limits.wait_for(request.models[index]),
        )
        step: Step | None = plan.start()
        while step is not None:
            if step.delay > 0:
                await self._clock.sleep(step.delay)
            model = request.models[step.index]
            wait = self._limits.check(model, _token_estimate(request))
            if wait > 0:
                yield Queued(wait)
            queued_from = self._clock.monotonic()
            await self._limits.admit(model, _token_estimate(request))
            waited = self._clock.monotonic() - queued_from
            timing.queued += waited
            timing.deadline += waited
            self._refresh_key_if_stale(model)
            attempt = self._new_attempt(model, plan.attempts)
            error: LLMError | None = None
            try:
                async with aclosing(self._attempt(request, step.index, attempt, timing)) as deltas:
                    async for delta in deltas:
                        attempt.yielded = True
                        yield delta
            except LLMError as exc:
                error = exc
            empty = error is None and not attempt.assembler.content.strip()
            if empty:  # another model may answer; the last empty answer is the completion
                error = malformed("the answer is empty", model=attempt.model)
            if error is None:
                yield self._complete(request, step.index, attempt, timing, plan.attempts)
                return
            index = step.index
            step = self._after_failure(request, index, attempt, error, plan, timing)
            if step is None and empty:
                yield self._complete(request, index, attempt, timing, plan.attempts)
                return
            if step is None:
                raise error
            if attempt.yielded:
                yield Restarted(
                    failed_model=error.model or attempt.model,
                    model=request.models[step.index],
                    error_kind=error.kind.value,
                )

    async def list_models(self) -> Sequence[ModelInfo]:
        return parse_model_list(await self._get_json("/models"))

    async def key_info(self) -> KeyInfo | None:
        """The key's figures, read at most once a minute (callers in between share them); the
        free-model quota is learned from every read."""
        if self._clock.monotonic() - self._key_read_at < KEY_CACHE_SECONDS:
            return self._key
        async with self._key_lock:
            if self._clock.monotonic() - self._key_read_at >= KEY_CACHE_SECONDS:
                self._key = await self._read_key()
                self._key_read_at = self._clock.monotonic()
                if self._key is not None:
                    self._limits.quota.learn(self._key)
        return self._key

    async def _read_key(self) -> KeyInfo | None:
        try:
            info = parse_key_info(await self._get_json("/key"))
        except LLMError as error:
            logger.warning(
                "OpenRouter /key did not answer",
                extra={"status": error.status, "error_kind": error.kind.value},
            )
            return None
        if info is None:
            logger.warning("OpenRouter /key answered without a data object")
        return info

    def _refresh_key_if_stale(self, model: str) -> None:
        """Read the free quota again, in the background, when it is about an hour old."""
        running = self._key_refresh is not None and not self._key_refresh.done()
        if is_free_model(model) and self._limits.quota.stale() and not running:
            self._key_refresh = asyncio.create_task(self.key_info(), name="openrouter-key")

    # ------------------------------------------------------------------ one attempt

    def _new_attempt(self, model: str, number: int) -> _Attempt:
        return _Attempt(
            number=number,
            model=model,
            assembler=ResponseAssembler(model),
            first_token_deadline=_loop_time() + self._config.first_token_timeout,
            started=self._clock.monotonic(),
        )

    async def _attempt(
        self, request: LLMRequest, index: int, attempt: _Attempt, timing: _Timing
    ) -> AsyncGenerator[Delta, None]:
        body = chat_body(request, index, stream=self._config.stream)
        assembler = attempt.assembler
        try:
            response = await self._send(body, attempt, timing)
            try:
                if _is_event_stream(response):
                    async with aclosing(self._read_events(response, attempt, timing)) as deltas:
                        async for delta in deltas:
                            yield delta
                    if not assembler.finished:
                        raise malformed(
                            "stream ended without finish or [DONE]", model=attempt.model
                        )
                else:
                    for delta in assembler.on_body(
                        await self._read_body(response, attempt, timing)
                    ):
                        yield self._first_delta(attempt, delta)
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, model=attempt.model) from exc

    async def _send(self, body: JsonObject, attempt: _Attempt, timing: _Timing) -> httpx.Response:
        url = f"{self._config.base_url}/chat/completions"
        request = self._http.build_request("POST", url, json=body, headers=self._headers)
        try:
            async with asyncio.timeout_at(min(attempt.first_token_deadline, timing.deadline)):
                response = await self._http.send(request, stream=True)
        except TimeoutError as exc:
            raise self._timeout(attempt, timing) from exc
        attempt.assembler.generation_id = response.headers.get("x-generation-id")
        if response.is_success:
            return response
        try:
            async with asyncio.timeout_at(
                min(_loop_time() + self._config.idle_timeout, timing.deadline)
            ):
                content = await response.aread()
        except TimeoutError:
            content = b""
        finally:
            await response.aclose()
        raise error_from_response(
            response.status_code,
            content,
            response.headers,
            model=attempt.model,
            now=self._clock.now(),
        )

    async def _read_events(
        self, response: httpx.Response, attempt: _Attempt, timing: _Timing
    ) -> AsyncGenerator[Delta, None]:
        """Deltas from an SSE body until ``[DONE]`` or the end of the body."""
        assembler = attempt.assembler
        chunks = response.aiter_bytes()
        splitter, decoder = LineSplitter(), SSEDecoder()
        while True:
            chunk = await self._next_chunk(chunks, attempt, timing)
            lines = splitter.feed(chunk) if chunk is not None else splitter.flush()
            items = [decoder.feed(line) for line in lines]
            if chunk is None:
                items.append(decoder.flush())
            for item in items:
                if not isinstance(item, SSEData):
                    continue  # an unfinished event or a keep-alive comment
                if item.is_done:
                    assembler.saw_done = True
                    await self._drain(chunks)
                    break
                for delta in assembler.on_chunk(item.data):
                    yield self._first_delta(attempt, delta)
            if chunk is None or assembler.saw_done:
                break
        for delta in assembler.end():
            yield self._first_delta(attempt, delta)

    async def _next_chunk(
        self, chunks: AsyncIterator[bytes], attempt: _Attempt, timing: _Timing
    ) -> bytes | None:
        """The next piece of the body, or None at its end, within the read deadline."""
        try:
            async with asyncio.timeout_at(self._read_deadline(attempt, timing)):
                return await anext(chunks)
        except StopAsyncIteration:
            return None
        except TimeoutError as exc:
            raise self._timeout(attempt, timing) from exc

    async def _drain(self, lines: AsyncIterator[bytes]) -> None:
        """Read what follows ``[DONE]`` (normally just the end of the body) so the connection
        goes back to the pool instead of being closed; give up quickly if more keeps coming."""
        try:
            async with asyncio.timeout(DRAIN_SECONDS):
                async for _ in lines:
                    pass
        except TimeoutError:
            logger.debug("data after [DONE]; the connection is dropped")

    async def _read_body(
        self, response: httpx.Response, attempt: _Attempt, timing: _Timing
    ) -> bytes:
        """A non-streamed answer arrives whole: it only has to arrive within the total timeout."""
        try:
            async with asyncio.timeout_at(timing.deadline):
                return await response.aread()
        except TimeoutError as exc:
            raise self._timeout(attempt, timing) from exc

    def _read_deadline(self, attempt: _Attempt, timing: _Timing) -> float:
        if attempt.first_delta_at is None:
            deadline = attempt.first_token_deadline  # keep-alives do not move it
        else:
            deadline = _loop_time() + self._config.idle_timeout
        return min(deadline, timing.deadline)

    def _first_delta(self, attempt: _Attempt, delta: Delta) -> Delta:
        if attempt.first_delta_at is None:
            attempt.first_delta_at = self._clock.monotonic()
        return delta

    def _timeout(self, attempt: _Attempt, timing: _Timing) -> LLMTimeoutError:
        config = self._config
        if _loop_time() >= timing.deadline:
            what = f"no complete answer within the total timeout ({config.total_timeout}s)"
        elif attempt.first_delta_at is None:
            what = f"no first token within {config.first_token_timeout}s"
        else:
            what = f"no data for {config.idle_timeout}s"
        return LLMTimeoutError(what, model=attempt.model)

    # ------------------------------------------------------------------ outcome

    def _after_failure(
        self,
        request: LLMRequest,
        index: int,
        attempt: _Attempt,
        error: LLMError,
        plan: FallbackPlan,
        timing: _Timing,
    ) -> Step | None:
        error.model = error.model or attempt.model
        self._limits.note_failure(attempt.model, error)
        served = attempt.assembler.model_served
        if served in request.models[index + 1 :]:
            index = request.models.index(served, index + 1)
        step = plan.after_failure(index, error)
        if step is not None and _loop_time() + step.delay >= timing.deadline:
            step = None
        logger.warning(
            "LLM attempt failed",
            extra={
                "model": error.model,
                "status": error.status,
                "attempt": attempt.number,
                "error_kind": error.kind.value,
                "latency_ms": _millis(self._clock.monotonic() - attempt.started),
                "next_model": request.models[step.index] if step else None,
                "detail": error.message[:300],
            },
        )
        return step

    def _complete(
        self, request: LLMRequest, index: int, attempt: _Attempt, timing: _Timing, attempts: int
    ) -> Completion:
        answer = attempt.assembler
        self._limits.note_served(attempt.model, answer.model_served)
        origin = timing.started + timing.queued
        ttft = None if attempt.first_delta_at is None else _millis(attempt.first_delta_at - origin)
        completion = Completion(
            content=answer.content,
            reasoning=answer.reasoning,
            reasoning_details=answer.reasoning_details,
            model_requested=request.models[0],
            model_served=answer.model_served,
            provider=answer.provider,
            generation_id=answer.generation_id,
            finish_reason=answer.finish_reason,
            usage=answer.usage or Usage(),
            fallback_used=attempts > 1
            or index > 0
            or answer.model_served in request.models[index + 1 :],
            latency_ms=_millis(self._clock.monotonic() - origin),
            ttft_ms=ttft,
        )
        logger.info(
            "LLM answer",
            extra={
                "model": completion.model_requested,
                "model_served": completion.model_served,
                "provider": completion.provider,
                "attempt": attempts,
                "fallback": completion.fallback_used,
                "latency_ms": completion.latency_ms,
                "ttft_ms": completion.ttft_ms,
                "prompt_tokens": completion.usage.prompt_tokens,
                "completion_tokens": completion.usage.completion_tokens,
            },
        )
        return completion

    # ------------------------------------------------------------------ GET endpoints

    async def _get_json(self, path: str) -> JsonValue:
        seconds = self._config.connect_timeout + self._config.idle_timeout
        url = f"{self._config.base_url}{path}"
        try:
            async with asyncio.timeout(seconds):
                response = await self._http.get(url, headers=self._headers)
        except TimeoutError as exc:
            raise LLMTimeoutError(f"GET {path}: no answer within {seconds}s") from exc
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, model=None) from exc
        if not response.is_success:
            raise error_from_response(
                response.status_code,
                response.content,
                response.headers,
                model=None,
                now=self._clock.now(),
            )
        try:
            return load_json(response.content)
        except ValueError as exc:
            raise malformed(f"GET {path}: the body is not JSON", model=None) from exc


def _is_event_stream(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.startswith("text/event-stream")


def _token_estimate(request: LLMRequest) -> int:
    return request.estimated_prompt_tokens + (request.max_tokens or 0)


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


def _millis(seconds: float) -> int:
    return max(round(seconds * 1000), 0)
