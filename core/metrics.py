"""What an operator watches: messages in, replies out, errors by kind, LLM latency and time to
first token, tokens and cost by model, fallbacks, waits in the free-model queue.

Prometheus metrics in a registry owned by this object (built in the composition root, never a
module-level global), exposed by the health server's ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from core.domain import Completion
from core.ports import Reply, ReplySink, SinkWrapper

LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)
QUEUE_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self, replica: str = "") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        if replica:
            info = Gauge(
                "chatrelay_replica_info", "This process among the replicas (REPLICA_NAME)",
                ["replica"], registry=r,
            )  # fmt: skip
            info.labels(replica).set(1)
        self._received = Counter(
            "chatrelay_messages_received", "Messages received", ["platform"], registry=r
        )
        self._replies = Counter(
            "chatrelay_replies_sent", "Replies delivered (answers, command results, errors)",
            ["platform"], registry=r,
        )  # fmt: skip
        self._errors = Counter(
            "chatrelay_errors", "Failures met while answering, by kind", ["kind"], registry=r
        )
        self._latency = Histogram(
            "chatrelay_llm_latency_seconds", "Time for a whole LLM answer", ["model"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self._ttft = Histogram(
            "chatrelay_llm_time_to_first_token_seconds", "Time to the LLM's first token",
            ["model"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self._tokens = Counter("chatrelay_llm_tokens", "Tokens used", ["model", "type"], registry=r)
        self._cost = Counter(
            "chatrelay_llm_cost_usd", "Cost in USD as OpenRouter reports it", ["model"],
            registry=r,
        )  # fmt: skip
        self._fallbacks = Counter(
            "chatrelay_llm_fallbacks", "Answers given by a model other than the one asked for",
            ["requested", "served"], registry=r,
        )  # fmt: skip
        self._undelivered = Counter(
            "chatrelay_deliveries_failed",
            "Answer parts given up: the platform stayed unreachable for the whole retry bound, "
            "or a new message's outcome was unknown and it was not re-sent", ["platform"],
            registry=r,
        )  # fmt: skip
        self._queue = Histogram(
            "chatrelay_llm_queue_wait_seconds",
            "Expected waits in the client-side rate-limit queue (free-model limits)",
            buckets=QUEUE_BUCKETS, registry=r,
        )  # fmt: skip

        self._unfinished = Gauge(
            "chatrelay_inbox_unfinished",
            "Messages received and not yet answered and delivered (this process's view)",
            registry=r,
        )
        self._resumed = Counter(
            "chatrelay_inbox_resumed",
            "Messages whose handling was interrupted (a crash, a deploy) and taken up again",
            registry=r,
        )
        self._abandoned = Counter(
            "chatrelay_inbox_abandoned",
            "Messages given up after their handling failed again and again", registry=r,
        )  # fmt: skip

    def inbox_unfinished(self, count: int) -> None:
        self._unfinished.set(count)

    def inbox_resumed(self) -> None:
        self._resumed.inc()

    def inbox_abandoned(self) -> None:
        self._abandoned.inc()

    def message_received(self, platform: str) -> None:
        self._received.labels(platform).inc()

    def reply_sent(self, platform: str) -> None:
        self._replies.labels(platform).inc()

    def failed(self, kind: str) -> None:
        self._errors.labels(kind).inc()

    def delivery_failed(self, platform: str) -> None:
        self._undelivered.labels(platform).inc()

    def queued(self, seconds: float) -> None:
        self._queue.observe(seconds)

    def answered(self, completion: Completion) -> None:
        model = completion.model_served
        self._latency.labels(model).observe(completion.latency_ms / 1000)
        if completion.ttft_ms is not None:
            self._ttft.labels(model).observe(completion.ttft_ms / 1000)
        usage = completion.usage
        for kind, count in (
            ("prompt", usage.prompt_tokens),
            ("completion", usage.completion_tokens),
            ("reasoning", usage.reasoning_tokens),
        ):
            if count:
                self._tokens.labels(model, kind).inc(count)
        if usage.cost:
            self._cost.labels(model).inc(float(usage.cost))
        if completion.fallback_used:
            self._fallbacks.labels(completion.model_requested, model).inc()

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)


class CountedSink(SinkWrapper):
    """A ReplySink that counts the replies it delivers."""

    def __init__(self, sink: ReplySink, metrics: Metrics, platform: str) -> None:
        super().__init__(sink)
        self._metrics = metrics
        self._platform = platform

    async def deliver(self, reply: Reply) -> Sequence[str]:
        ids = await self._sink.deliver(reply)
        self._metrics.reply_sent(self._platform)
        return ids
