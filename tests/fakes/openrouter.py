"""A fake OpenRouter served over real HTTP (aiohttp) on 127.0.0.1, for tests and benchmarks.

    async with FakeOpenRouter(api_key="test-key") as fake:
        fake.enqueue(ErrorReply.rate_limited(retry_after=2), Answer(content="hi"))
        fake.set_model_behaviour("a/b:free", ErrorReply.unavailable())
        ...  # point a client at fake.base_url; inspect fake.requests afterwards

Queued scenarios (FIFO) answer the next chat request whole, whatever it asks for. Without one the
server routes like OpenRouter: ``model`` then the rest of ``models``; a model fails when it is
unknown, its prompt is too long, a free-model limit is hit or its standing behaviour is an
ErrorReply; any failure tries the next model; the last error is returned when all fail. The model
that serves is reported in ``model``. A message's ``content`` may be a string or an array of
OpenAI-style parts (``text`` and ``image_url``); a request with images is refused by a model whose
``architecture.input_modalities`` lacks "image", as OpenRouter does (404 "No endpoints found that
support image input"). ``RecordedRequest.image_urls`` lists the images a request carried.

Standalone (prints its base URL, serves until stopped):

    python -m tests.fakes.openrouter --port 8765 [--delay 0.01] [--chunks 8] [--no-limits]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeGuard

from aiohttp import web
from multidict import CIMultiDict

from tests.fakes.standalone import serve_until_signalled

Json = dict[str, Any]
ROUTERS = frozenset({"openrouter/free", "openrouter/auto"})
ROUTED_FREE_MODEL = "meta-llama/llama-3.3-70b-instruct:free"
DEFAULT_CONTEXT = 262144
KEEPALIVE = b": OPENROUTER PROCESSING\n\n"
DONE = b"data: [DONE]\n\n"
MAX_BODY_BYTES = 64 * 1024 * 1024  # inline base64 images make big bodies (aiohttp's default: 1 MiB)


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Answer:
    """A successful answer. ``None`` fields take the server defaults ("Echo: <last user text>",
    "Thinking about: <last user text>"); ``""`` reasoning sends none. A list/tuple of strings is
    sent as exactly those chunks. Explicit ``reasoning_details`` are sent one per delta, as given.
    """

    content: str | Sequence[str] | None = None
    reasoning: str | Sequence[str] | None = None
    reasoning_details: Sequence[Json] | None = None
    chunks: int | None = None
    chunk_delay: float | None = None
    first_token_delay: float | None = None
    keepalives: int = 0
    think_tags: bool = False  # put the reasoning in the content as <think>...</think>
    usage: Json | None = None  # merged over the computed usage
    model: str | None = None
    provider: str = "FakeProvider"
    finish_reason: str = "stop"
    signature: str | None = None  # on the last reasoning.text detail
    detail_format: str = "unknown"
    send_done: bool = True
    send_usage: bool = True
    send_finish: bool = True


@dataclass(frozen=True)
class ErrorReply:
    status: int
    message: str
    error_type: str | None = None
    metadata: Json | None = None
    availability: Json | None = None
    retry_after: float | str | None = None
    headers: Mapping[str, str] | None = None
    code: int | str | None = None  # default: the status

    def body(self) -> Json:
        error: Json = {"code": self.status if self.code is None else self.code}
        error["message"] = self.message
        metadata = dict(self.metadata or {})
        if self.error_type:
            metadata["error_type"] = self.error_type
        if metadata:
            error["metadata"] = metadata
        if self.availability is not None:
            error["availability"] = self.availability
        return {"error": error, "user_id": "user_fake"}

    @classmethod
    def unauthorized(cls) -> ErrorReply:
        return cls(401, "No auth credentials found")

    @classmethod
    def no_credits(cls) -> ErrorReply:
        return cls(
            402,
            "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
            error_type="payment_required",
        )

    @classmethod
    def moderation(
        cls, reasons: Sequence[str] = ("harassment",), flagged_input: str = "…flagged…"
    ) -> ErrorReply:
        metadata = {
            "reasons": list(reasons),
            "flagged_input": flagged_input,
            "provider_name": "OpenAI",
            "model_slug": "openai/gpt-5",
        }
        return cls(403, "Input was flagged by moderation", "content_policy_violation", metadata)

    @classmethod
    def context_length(cls, limit: int = DEFAULT_CONTEXT, requested: int = 300000) -> ErrorReply:
        message = (
            f"This endpoint's maximum context length is {limit} tokens. However, you requested "
            f"about {requested} tokens. Please reduce the length of either one, or use the "
            '"middle-out" transform to compress your prompt automatically.'
        )
        return cls(400, message, error_type="context_length_exceeded")

    @classmethod
    def model_not_found(cls, model: str) -> ErrorReply:
        return cls(
            400,
            f"{model} is not a valid model ID",
            error_type="invalid_request",
            availability=_availability("model_not_found", model, retryable=False),
        )

    @classmethod
    def free_variant_ended(cls, model: str) -> ErrorReply:
        paid = model.removesuffix(":free")
        return cls(
            404,
            f"The free variant of {paid} has ended. Use {paid} instead.",
            availability=_availability("free_variant_ended", model, False, fallback=[paid]),
        )

    @classmethod
    def rate_limited(cls, retry_after: float | str | None = 3, message: str = "") -> ErrorReply:
        text = message or "Provider returned error: rate-limited upstream. Please retry shortly."
        return cls(429, text, error_type="rate_limit_exceeded", retry_after=retry_after)

    @classmethod
    def no_image_input(cls) -> ErrorReply:
        """What OpenRouter answers when the model's endpoints can't take image input."""
        return cls(404, "No endpoints found that support image input")

    @classmethod
    def bad_gateway(cls) -> ErrorReply:
        return cls(502, "Provider returned error", error_type="provider_unavailable")

    @classmethod
    def unavailable(cls, retry_after: float | None = None) -> ErrorReply:
        return cls(
            503,
            "No endpoints found that can handle the request",
            error_type="provider_overloaded",
            retry_after=retry_after,
        )


@dataclass(frozen=True)
class MidStreamError:
    """Stream ``after_chunks`` content chunks, then an error chunk, then end (no [DONE]).
    Non-streaming: a 200 with the partial content, ``finish_reason: "error"`` and ``error``."""

    after_chunks: int = 1
    code: int | str = 502
    message: str = "Provider disconnected"
    error_type: str | None = "provider_unavailable"
    answer: Answer = field(default_factory=Answer)


@dataclass(frozen=True)
class Hang:
    """Go silent for ``seconds``, then answer normally. ``after_chunks=None``: before the response
    headers (unless ``keepalive_every`` is set: then headers and keep-alive comments only)."""

    seconds: float = 3600.0
    after_chunks: int | None = None
    keepalive_every: float | None = None
    answer: Answer = field(default_factory=Answer)


@dataclass(frozen=True)
class Disconnect:
    """Stream ``after_chunks`` content chunks, then drop the connection. ``before_headers``:
    drop it before sending anything (a reset by the edge or a proxy in between)."""

    after_chunks: int = 1
    answer: Answer = field(default_factory=Answer)
    before_headers: bool = False


@dataclass(frozen=True)
class RawReply:
    """Exactly this body (for garbled or truncated responses)."""

    body: str
    status: int = 200
    content_type: str = "text/event-stream"


Scenario = Answer | ErrorReply | MidStreamError | Hang | Disconnect | RawReply


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: CIMultiDict[str]
    body: Any
    at: float = 0.0  # when it arrived, on the fake's clock

    @property
    def image_urls(self) -> list[str]:
        """The ``image_url`` URLs of every message, in order."""
        messages = self.body.get("messages") if isinstance(self.body, dict) else None
        return _image_urls(messages if isinstance(messages, list) else [])


def _availability(
    code: str, model: str, retryable: bool, fallback: list[str] | None = None
) -> Json:
    result: Json = {
        "code": code,
        "retryable": retryable,
        "requested_models": [model],
        "docs_url": "https://openrouter.ai/docs/api-reference/errors-and-debugging",
    }
    if fallback is not None:
        result["fallback_models"] = fallback
    return result


def model_entry(
    model_id: str,
    name: str | None = None,
    *,
    context_length: int = DEFAULT_CONTEXT,
    prompt: str = "0",
    completion: str = "0",
    reasoning: bool = True,
    input_modalities: Sequence[str] = ("text",),
    max_completion_tokens: int | None = 65536,
    reasoning_mandatory: bool = False,
    efforts: Sequence[str] | None = None,
) -> Json:
    """One ``GET /models`` item (prices are strings, USD per token). A model with reasoning has
    a ``reasoning`` object; ``reasoning_mandatory`` models refuse to switch it off (400)."""
    parameters = ["max_tokens", "temperature", "stop", "tools"]
    if reasoning:
        parameters += ["reasoning", "include_reasoning"]
    return {
        "id": model_id,
        "canonical_slug": model_id.removesuffix(":free"),
        "name": name or model_id,
        "created": 1760000000,
        "description": f"Fake catalogue entry for {model_id}",
        "context_length": context_length,
        "architecture": {
            "modality": "+".join(input_modalities) + "->text",
            "input_modalities": list(input_modalities),
            "output_modalities": ["text"],
            "tokenizer": "Other",
        },
        "pricing": {"prompt": prompt, "completion": completion, "request": "0", "image": "0"},
        "top_provider": {
            "context_length": context_length,
            "max_completion_tokens": max_completion_tokens,
            "is_moderated": False,
        },
        "supported_parameters": parameters,
        **(
            {
                "reasoning": {
                    "supported_efforts": list(efforts) if efforts is not None else None,
                    "default_effort": "medium",
                    "default_enabled": True,
                    "supports_max_tokens": False,
                    "mandatory": reasoning_mandatory,
                }
            }
            if reasoning
            else {}
        ),
    }


def default_models() -> list[Json]:
    return [
        model_entry("tencent/hy3-preview:free", "Tencent: Hy3 Preview (free)"),
        model_entry("deepseek/deepseek-v4-flash:free", "DeepSeek: V4 Flash (free)"),
        model_entry("openrouter/free", "Free Models Router"),
        model_entry(ROUTED_FREE_MODEL, "Meta: Llama 3.3 70B (free)", reasoning=False),
        model_entry(
            "anthropic/claude-sonnet-4.5",
            "Anthropic: Claude Sonnet 4.5",
            context_length=1000000,
            prompt="0.000003",
            completion="0.000015",
            input_modalities=("text", "image", "file"),
        ),
        model_entry(
            "openai/gpt-5", "OpenAI: GPT-5", context_length=400000, prompt="0.00000125",
            completion="0.00001", input_modalities=("text", "image"),
        ),
        model_entry(
            "google/gemini-2.5-pro", "Google: Gemini 2.5 Pro", context_length=1048576,
            prompt="0.00000125", completion="0.00001", input_modalities=("text", "image"),
        ),
    ]  # fmt: skip


# --------------------------------------------------------------------------- the server


@dataclass
class _Context:
    """What one answer needs to know about its request."""

    gen_id: str
    model: str
    last_user: str
    prompt_tokens: int
    prompt_price: Decimal
    completion_price: Decimal


class FakeOpenRouter:
    def __init__(
        self,
        api_key: str | None = "test-key",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        models: list[Json] | None = None,
        free_requests_per_minute: int = 20,
        free_daily_limit: int = 50,
        chunks: int = 3,
        chunk_delay: float = 0.0,
        first_token_delay: float = 0.0,
        record: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_key = api_key
        self.clock = clock  # seconds, for the free-model minute window (tests may speed it up)
        self.models = models if models is not None else default_models()
        self.free_requests_per_minute = free_requests_per_minute  # 0 = no limit
        self.free_daily_limit = free_daily_limit  # 0 = no limit
        self.chunks = chunks
        self.chunk_delay = chunk_delay
        self.first_token_delay = first_token_delay
        self.record = record
        self.requests: list[RecordedRequest] = []
        self.key_data: Json = {}  # merged over the default GET /key data
        self.models_error: ErrorReply | None = None
        self.key_error: ErrorReply | None = None
        self.free_used_today = 0
        self._host, self._port = host, port
        self._queue: deque[Scenario] = deque()
        self._behaviours: dict[str, Scenario] = {}
        self._free_minute: deque[float] = deque()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # ---- scripting

    def enqueue(self, *scenarios: Scenario) -> None:
        self._queue.extend(scenarios)

    def set_model_behaviour(self, model: str, behaviour: Scenario | None) -> None:
        if behaviour is None:
            self._behaviours.pop(model, None)
        else:
            self._behaviours[model] = behaviour

    def reset(self) -> None:
        self._queue.clear()
        self._behaviours.clear()
        self.requests.clear()
        self._free_minute.clear()
        self.free_used_today = 0

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def pending(self) -> int:
        return len(self._queue)

    # ---- lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post("/api/v1/chat/completions", self._chat)
        app.router.add_get("/api/v1/models", self._models)
        app.router.add_get("/api/v1/key", self._key)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.2
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.base_url = f"http://{self._host}:{sock.getsockname()[1]}/api/v1"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOpenRouter:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---- endpoints

    async def _models(self, request: web.Request) -> web.StreamResponse:
        denied = self._admit(request, None)
        if denied is not None:
            return denied
        if self.models_error is not None:
            return _error_response(self.models_error)
        return web.json_response({"data": self.models, "total_count": len(self.models)})

    async def _key(self, request: web.Request) -> web.StreamResponse:
        denied = self._admit(request, None)
        if denied is not None:
            return denied
        if self.key_error is not None:
            return _error_response(self.key_error)
        limit = self.free_daily_limit
        data: Json = {
            "label": "sk-or-v1-abc...xyz",
            "limit": None,
            "limit_remaining": None,
            "limit_reset": None,
            "include_byok_in_limit": False,
            "usage": 0.25,
            "usage_daily": 0.0125,
            "usage_weekly": 0.05,
            "usage_monthly": 0.25,
            "byok_usage": 0,
            "is_free_tier": True,
            "is_management_key": False,
            "free_model_daily_requests": {
                "limit": limit,
                "remaining": max(limit - self.free_used_today, 0),
                "used": self.free_used_today,
            },
            "rate_limit": {"requests": -1, "interval": "10s", "note": "deprecated"},
            "expires_at": None,
        }
        data.update(self.key_data)
        return web.json_response({"data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        denied = self._admit(request, body)
        if denied is not None:
            return denied
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error_response(ErrorReply(400, "Invalid request: messages is required"))
        malformed = _content_problem(body["messages"])
        if malformed is not None:
            return _error_response(ErrorReply(400, f"Invalid request: {malformed}"))
        candidates = _candidates(body)
        if not candidates:
            return _error_response(ErrorReply(400, "No models provided"))
        prompt_text, last_user = _prompt_text(body["messages"])
        if self._queue:
            scenario = self._queue.popleft()
            model = getattr(scenario, "model", None) or candidates[0]
        else:
            routed = self._route(candidates, body, prompt_text)
            if isinstance(routed, ErrorReply):
                return _error_response(routed)
            model, scenario = routed
        ctx = self._context(model, prompt_text, last_user)
        return await self._perform(request, body, scenario, ctx)

    def _admit(self, request: web.Request, body: Any) -> web.StreamResponse | None:
        if self.record:
            headers = CIMultiDict(request.headers)
            recorded = RecordedRequest(request.method, request.path, headers, body, self.clock())
            self.requests.append(recorded)
        if self.api_key is None:
            return None
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return _error_response(ErrorReply.unauthorized())
        if auth[7:].strip() != self.api_key:
            return _error_response(ErrorReply(401, "User not found."))
        return None

    # ---- routing (OpenRouter's `models` fallback)

    def _route(self, candidates: list[str], body: Json, prompt_text: str) -> Any:
        error: ErrorReply | None = None
        for candidate in candidates:
            error = self._refusal(candidate, body, prompt_text)
            if error is None:
                behaviour = self._behaviours.get(candidate, Answer())
                if candidate in ROUTERS and isinstance(behaviour, Answer):
                    behaviour = replace(behaviour, model=behaviour.model or ROUTED_FREE_MODEL)
                self._count_free(candidate)
                return getattr(behaviour, "model", None) or candidate, behaviour
        return error

    def _refusal(self, model: str, body: Json, prompt_text: str) -> ErrorReply | None:
        entry = self._entry(model)
        if entry is None:
            return ErrorReply.model_not_found(model)
        behaviour = self._behaviours.get(model)
        if isinstance(behaviour, ErrorReply):
            return behaviour
        if _image_urls(body["messages"]) and "image" not in _input_modalities(entry):
            return ErrorReply.no_image_input()
        refused = _reasoning_refusal(entry, body.get("reasoning"))
        if refused is not None:
            return refused
        wanted = _estimate_tokens(prompt_text) + int(body.get("max_tokens") or 0)
        if wanted > int(entry.get("context_length") or DEFAULT_CONTEXT):
            return ErrorReply.context_length(entry["context_length"], wanted)
        return self._free_limit(model) if _is_free(entry) else None

    def _free_limit(self, model: str) -> ErrorReply | None:
        now = self.clock()
        while self._free_minute and self._free_minute[0] <= now - 60:
            self._free_minute.popleft()
        rpm = self.free_requests_per_minute
        if rpm and len(self._free_minute) >= rpm:
            wait = max(math.ceil(self._free_minute[0] + 60 - now), 1)
            reset = int((time.time() + wait) * 1000)
            return _platform_limit("free-models-per-min. ", rpm, reset, retry_after=wait)
        limit = self.free_daily_limit
        if limit and self.free_used_today >= limit:
            midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            reset = int((midnight + timedelta(days=1)).timestamp() * 1000)
            text = "free-models-per-day. Add 10 credits to unlock 1000 free model requests per day"
            return _platform_limit(text, limit, reset, retry_after=None)
        return None

    def _count_free(self, model: str) -> None:
        entry = self._entry(model)
        if entry is not None and _is_free(entry):
            self._free_minute.append(self.clock())
            self.free_used_today += 1

    def _entry(self, model: str) -> Json | None:
        return next((entry for entry in self.models if entry.get("id") == model), None)

    def _context(self, model: str, prompt_text: str, last_user: str) -> _Context:
        entry = self._entry(model) or {}
        pricing = entry.get("pricing") or {}
        return _Context(
            gen_id=f"gen-{int(time.time())}-fake{next(self._ids):08d}",
            model=model,
            last_user=last_user,
            prompt_tokens=max(_estimate_tokens(prompt_text), 1),
            prompt_price=Decimal(str(pricing.get("prompt", "0"))),
            completion_price=Decimal(str(pricing.get("completion", "0"))),
        )

    # ---- answering

    async def _perform(
        self, request: web.Request, body: Json, scenario: Scenario, ctx: _Context
    ) -> web.StreamResponse:
        if isinstance(scenario, ErrorReply):
            return _error_response(scenario)
        if isinstance(scenario, RawReply):
            headers = {"Content-Type": scenario.content_type}
            return web.Response(status=scenario.status, text=scenario.body, headers=headers)
        if isinstance(scenario, Disconnect) and scenario.before_headers:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=502)  # never sent: the connection is gone
        streaming = bool(body.get("stream"))
        if _silent_before_headers(scenario, streaming):
            await asyncio.sleep(scenario.seconds)
        answer = scenario if isinstance(scenario, Answer) else scenario.answer
        text = self._texts(answer, ctx)
        if streaming:
            return await self._stream(request, scenario, answer, text, ctx)
        await asyncio.sleep(self._delay(answer.first_token_delay, self.first_token_delay))
        return web.json_response(_whole_response(scenario, answer, text, ctx))

    async def _stream(
        self,
        request: web.Request,
        scenario: Scenario,
        answer: Answer,
        text: _Texts,
        ctx: _Context,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Generation-Id": ctx.gen_id,
            }
        )
        await response.prepare(request)
        if (
            isinstance(scenario, Hang)
            and scenario.after_chunks is None
            and scenario.keepalive_every
        ):
            await _keepalives_for(response, scenario.seconds, scenario.keepalive_every)
        for _ in range(answer.keepalives):
            await response.write(KEEPALIVE)
        await asyncio.sleep(self._delay(answer.first_token_delay, self.first_token_delay))
        chunk_delay = self._delay(answer.chunk_delay, self.chunk_delay)
        stop_after = _stop_after(scenario)
        for number, chunk in enumerate(_stream_chunks(answer, text, ctx)):
            if number == stop_after and await self._interrupt(request, response, scenario, ctx):
                return response
            if number and chunk_delay:
                await asyncio.sleep(chunk_delay)
            await response.write(_sse(chunk))
        if answer.send_done:
            await response.write(DONE)
        await response.write_eof()
        return response

    async def _interrupt(
        self, request: web.Request, response: web.StreamResponse, scenario: Scenario, ctx: _Context
    ) -> bool:
        """Break the stream as the scenario says; True = the response is over."""
        if isinstance(scenario, Hang):
            await asyncio.sleep(scenario.seconds)
            return False
        if isinstance(scenario, MidStreamError):
            await response.write(_sse(_error_chunk(scenario, ctx)))
            await response.write_eof()
            return True
        if request.transport is not None:  # Disconnect
            request.transport.abort()
        return True

    def _delay(self, own: float | None, default: float) -> float:
        return default if own is None else own

    def _texts(self, answer: Answer, ctx: _Context) -> _Texts:
        last = ctx.last_user
        content = answer.content if answer.content is not None else f"Echo: {last}"
        reasoning = answer.reasoning if answer.reasoning is not None else f"Thinking about: {last}"
        count = answer.chunks or self.chunks
        reasoning_parts = _pieces(reasoning, count)
        content_parts = _pieces(content, count)
        if answer.think_tags:
            joined = f"<think>{''.join(reasoning_parts)}</think>\n\n{''.join(content_parts)}"
            content_parts, reasoning_parts = _pieces(joined, count + 2), []
        return _Texts(reasoning_parts, content_parts)


@dataclass
class _Texts:
    reasoning: list[str]
    content: list[str]


def _silent_before_headers(scenario: Scenario, streaming: bool) -> TypeGuard[Hang]:
    """A Hang before any byte (a streamed Hang with keep-alives sends headers first)."""
    return (
        isinstance(scenario, Hang)
        and scenario.after_chunks is None
        and not (streaming and scenario.keepalive_every)
    )


def _stop_after(scenario: Scenario) -> int | None:
    """Index of the first chunk not sent before the scenario's interruption."""
    if isinstance(scenario, MidStreamError | Disconnect):
        return scenario.after_chunks
    if isinstance(scenario, Hang) and scenario.after_chunks is not None:
        return scenario.after_chunks
    return None


async def _keepalives_for(response: web.StreamResponse, seconds: float, every: float) -> None:
    if every <= 0:
        await asyncio.sleep(seconds)
        return
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(every, left))
        await response.write(KEEPALIVE)


# --------------------------------------------------------------------------- wire shapes


def _candidates(body: Json) -> list[str]:
    first = body.get("model")
    listed = body.get("models")
    rest = listed if isinstance(listed, list) else []
    ordered = ([first] if isinstance(first, str) and first else []) + [
        m for m in rest if isinstance(m, str)
    ]
    return list(dict.fromkeys(ordered))


def _prompt_text(messages: list[Any]) -> tuple[str, str]:
    """All contents joined with newlines, and the last user message's text."""
    texts: list[str] = []
    last_user = ""
    for message in messages:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(
                p["text"]
                for p in content
                if isinstance(p, dict)
                and p.get("type") == "text"
                and isinstance(p.get("text"), str)
            )
        text = content if isinstance(content, str) else ""
        texts.append(text)
        if message.get("role") == "user":
            last_user = text
    return "\n".join(texts), last_user


def _content_problem(messages: list[Any]) -> str | None:
    """What is wrong with the messages' ``content`` values, or None (strings or part arrays)."""
    for number, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if content is None or isinstance(content, str):  # None: an assistant turn with tool calls
            continue
        if not isinstance(content, list) or not content:
            return f"messages[{number}].content must be a string or a non-empty array"
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                continue
            image = part.get("image_url") if kind == "image_url" else None
            url = image.get("url") if isinstance(image, dict) else None
            if isinstance(url, str) and url.startswith(("data:image/", "https://", "http://")):
                continue
            return f"messages[{number}].content has an invalid part: {str(part)[:80]}"
    return None


def _image_urls(messages: list[Any]) -> list[str]:
    urls: list[str] = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            image = part.get("image_url") if isinstance(part, dict) else None
            if isinstance(image, dict) and isinstance(image.get("url"), str):
                urls.append(image["url"])
    return urls


def _reasoning_refusal(entry: Json, reasoning: Any) -> ErrorReply | None:
    """OpenRouter's 400s for a ``reasoning`` object the model can't take."""
    support = entry.get("reasoning") or {}
    if not isinstance(reasoning, dict):
        return None
    off = reasoning.get("effort") == "none" or reasoning.get("enabled") is False
    if off and support.get("mandatory"):
        return ErrorReply(
            400, "Reasoning is mandatory for this endpoint and cannot be disabled",
            error_type="invalid_request",
        )  # fmt: skip
    efforts = support.get("supported_efforts")
    effort = reasoning.get("effort")
    if efforts and effort and effort != "none" and effort not in efforts:
        return ErrorReply(400, f"Unsupported reasoning effort: {effort}", "invalid_request")
    return None


def _input_modalities(entry: Json) -> list[str]:
    architecture = entry.get("architecture") or {}
    return list(architecture.get("input_modalities") or ["text"])


def _estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _is_free(entry: Json) -> bool:
    pricing = entry.get("pricing") or {}
    return str(entry.get("id", "")).endswith(":free") or (
        Decimal(str(pricing.get("prompt", "0"))) == 0
        and Decimal(str(pricing.get("completion", "0"))) == 0
    )


def _pieces(text: str | Sequence[str], count: int) -> list[str]:
    if not isinstance(text, str):
        return list(text)
    if not text:
        return []
    size = max(math.ceil(len(text) / max(count, 1)), 1)
    return [text[i : i + size] for i in range(0, len(text), size)]


def _chunk(ctx: _Context, answer: Answer, delta: Json, finish: str | None = None) -> Json:
    return {
        "id": ctx.gen_id,
        "provider": answer.provider,
        "model": ctx.model,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "choices": [
            {
                "index": 0,
                "delta": delta,
                "finish_reason": finish,
                "native_finish_reason": finish,
                "logprobs": None,
            }
        ],
    }


def _details_for(answer: Answer, parts: list[str]) -> list[Json]:
    if answer.reasoning_details is not None:
        return [dict(detail) for detail in answer.reasoning_details]
    details = []
    for number, part in enumerate(parts):
        last = number == len(parts) - 1
        details.append(
            {
                "type": "reasoning.text",
                "text": part,
                "signature": answer.signature if last else None,
                "format": answer.detail_format,
                "index": 0,
            }
        )
    return details


def _stream_chunks(answer: Answer, text: _Texts, ctx: _Context) -> list[Json]:
    chunks = []
    for detail in _details_for(answer, text.reasoning):
        reasoning = detail.get("text") or detail.get("summary") or ""
        delta = {"role": "assistant", "content": "", "reasoning": reasoning}
        chunks.append(_chunk(ctx, answer, {**delta, "reasoning_details": [detail]}))
    for part in text.content:
        chunks.append(_chunk(ctx, answer, {"role": "assistant", "content": part}))
    if answer.send_finish:
        finish = {"role": "assistant", "content": ""}
        chunks.append(_chunk(ctx, answer, finish, answer.finish_reason))
    if answer.send_usage:
        usage_chunk = _chunk(ctx, answer, {})
        usage_chunk["choices"] = []
        usage_chunk["usage"] = _usage(answer, text, ctx)
        chunks.append(usage_chunk)
    return chunks


def _usage(answer: Answer, text: _Texts, ctx: _Context) -> Json:
    reasoning_tokens = _estimate_tokens("".join(text.reasoning))
    completion = reasoning_tokens + _estimate_tokens("".join(text.content))
    cost = ctx.prompt_tokens * ctx.prompt_price + completion * ctx.completion_price
    usage: Json = {
        "prompt_tokens": ctx.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": ctx.prompt_tokens + completion,
        "cost": float(cost),
        "is_byok": False,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "cost_details": {"upstream_inference_cost": None},
        "completion_tokens_details": {"reasoning_tokens": reasoning_tokens, "image_tokens": 0},
    }
    usage.update(answer.usage or {})
    return usage


def _error_chunk(scenario: MidStreamError, ctx: _Context) -> Json:
    chunk = _chunk(ctx, scenario.answer, {"content": ""}, "error")
    error: Json = {"code": scenario.code, "message": scenario.message}
    if scenario.error_type:
        error["metadata"] = {"error_type": scenario.error_type}
    chunk["error"] = error
    return chunk


def _whole_response(scenario: Scenario, answer: Answer, text: _Texts, ctx: _Context) -> Json:
    details = _details_for(answer, text.reasoning)
    if answer.reasoning_details is None and details:
        details = [{**details[-1], "text": "".join(text.reasoning)}]
    content = "".join(text.content)
    choice: Json = {
        "logprobs": None,
        "finish_reason": answer.finish_reason,
        "native_finish_reason": answer.finish_reason,
        "index": 0,
        "message": {
            "role": "assistant",
            "content": content,
            "refusal": None,
            "reasoning": "".join(text.reasoning) or None,
            "reasoning_details": details,
        },
    }
    if isinstance(scenario, MidStreamError):
        choice["message"]["content"] = "".join(text.content[: scenario.after_chunks])
        choice["finish_reason"] = "error"
        choice["error"] = {"code": scenario.code, "message": scenario.message}
    return {
        "id": ctx.gen_id,
        "provider": answer.provider,
        "model": ctx.model,
        "object": "chat.completion",
        "created": int(time.time()),
        "choices": [choice],
        "usage": _usage(answer, text, ctx),
    }


def _sse(chunk: Json) -> bytes:
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


def _platform_limit(what: str, limit: int, reset_ms: int, *, retry_after: int | None) -> ErrorReply:
    headers = {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(reset_ms),
    }
    metadata = {"headers": headers, "provider_name": None}
    message = f"Rate limit exceeded: {what}"
    return ErrorReply(429, message, metadata=metadata, retry_after=retry_after, headers=headers)


def _error_response(reply: ErrorReply) -> web.Response:
    headers = dict(reply.headers or {})
    if reply.retry_after is not None:
        headers["Retry-After"] = str(reply.retry_after)
    return web.json_response(reply.body(), status=reply.status, headers=headers)


# --------------------------------------------------------------------------- standalone


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeOpenRouter(
        api_key=args.api_key or None,
        host=args.host,
        port=args.port,
        chunks=args.chunks,
        chunk_delay=args.delay,
        first_token_delay=args.first_token_delay,
        free_requests_per_minute=0 if args.no_limits else args.free_rpm,
        free_daily_limit=0 if args.no_limits else args.free_daily,
        record=False,
    )
    await serve_until_signalled(fake, lambda f: f.base_url)  # the one line callers read


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake OpenRouter API on 127.0.0.1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between chunks")
    parser.add_argument("--first-token-delay", type=float, default=0.0)
    parser.add_argument("--chunks", type=int, default=3, help="chunks per answer part")
    parser.add_argument("--api-key", default="test-key", help="empty = accept any key")
    parser.add_argument("--free-rpm", type=int, default=20)
    parser.add_argument("--free-daily", type=int, default=50)
    parser.add_argument("--no-limits", action="store_true", help="no free-model limits")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
