"""What a request reads while its job runs: OpenAI chunks, Noema events, or one whole reply.

Every reader withdraws its job when it stops early: sse-starlette cancels a streaming
response the moment the client disconnects, and `collect` watches for the disconnect itself,
so a client that goes away frees the engine after the forward in progress.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from sse_starlette import ServerSentEvent
from starlette.requests import Request

from noema_core.decoding.events import BlockFinished, GenerationFinished, GenerationResult
from noema_core.engine import Engine
from noema_core.errors import NoemaError
from noema_core.remote.wire import event_to_wire
from noema_server.errors import ApiError
from noema_server.scheduler import Ended, Failed, GenerationQueue, Job, Queued, Started

FINISH_REASONS = {"eos": "stop", "length": "length", "cancelled": "stop"}
DONE = ServerSentEvent(data="[DONE]")


def failure(error: BaseException) -> ApiError:
    """The engine's exception as an API error: expected ones keep their one-line message."""
    if isinstance(error, NoemaError):
        return ApiError(400, str(error))
    return ApiError(500, f"{type(error).__name__} while decoding: this is a bug in Noema, "
                         f"please report it (the server log has the details)", type="server_error")


class ReplyText:
    """The reply's text as finished blocks arrive, cut at the first stop token, as deltas."""

    def __init__(self, engine: Engine, gen_length: int) -> None:
        self.tokenizer = engine.tokenizer
        self.room = gen_length  # the last block may reach past gen_length: the reply stops there
        self.ids: list[int] = []
        self.sent = ""
        self.stopped = False

    def add_block(self, block: BlockFinished) -> str:
        if self.stopped:
            return ""
        for token in block.token_ids[:self.room]:
            if token in self.tokenizer.stop_ids:
                self.stopped = True
                break
            self.ids.append(token)
        self.room -= len(block.token_ids)
        return self._delta(self.tokenizer.decode(self.ids))

    def finish(self, result: GenerationResult) -> str:
        return self._delta(result.text)

    def _delta(self, text: str) -> str:
        if not text.startswith(self.sent):  # a multi-byte piece settled differently: resend
            return ""
        delta, self.sent = text[len(self.sent):], text
        return delta


async def job_items(job: Job) -> AsyncIterator[Any]:
    while not isinstance(item := await job.next(), Ended):
        yield item


def usage(result: GenerationResult) -> dict[str, int]:
    stats = result.stats
    return {"prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.new_tokens,
            "total_tokens": stats.prompt_tokens + stats.new_tokens}


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


async def openai_stream(job: Job, queue: GenerationQueue, engine: Engine, model: str,
                        include_usage: bool) -> AsyncIterator[ServerSentEvent]:
    """`chat.completion.chunk`s: the role, one chunk per finished block, the finish reason."""
    ident, created = completion_id(), int(time.time())

    def chunk(delta: dict[str, str], finish: str | None = None, **extra: Any) -> ServerSentEvent:
        body = {"id": ident, "object": "chat.completion.chunk", "created": created,
                "model": model, "choices": [{"index": 0, "delta": delta,
                                             "finish_reason": finish}], **extra}
        return ServerSentEvent(data=json.dumps(body, ensure_ascii=False))

    text = ReplyText(engine, job.settings.gen_length)
    try:
        yield chunk({"role": "assistant", "content": ""})
        async for item in job_items(job):
            if isinstance(item, Queued):  # a comment: OpenAI clients skip it, curl shows it
                yield ServerSentEvent(comment=f"queued: {item.ahead} ahead")
            elif isinstance(item, BlockFinished):
                delta = text.add_block(item)
                if delta:
                    yield chunk({"content": delta})
            elif isinstance(item, GenerationFinished):
                result = item.result
                if tail := text.finish(result):
                    yield chunk({"content": tail})
                yield chunk({}, FINISH_REASONS.get(result.finish_reason, "stop"),
                            noema=result.stats.as_dict())
                if include_usage:
                    body = {"id": ident, "object": "chat.completion.chunk", "created": created,
                            "model": model, "choices": [], "usage": usage(result)}
                    yield ServerSentEvent(data=json.dumps(body))
            elif isinstance(item, Failed):
                yield ServerSentEvent(data=json.dumps(failure(item.error).body()))
                return
        yield DONE
    finally:
        queue.withdraw(job)


async def noema_stream(job: Job, queue: GenerationQueue,
                       check: Callable[[GenerationResult], Any] | None
                       ) -> AsyncIterator[ServerSentEvent]:
    """Every engine event as its wire object, queue positions first, the verdict last."""
    try:
        async for item in job_items(job):
            if isinstance(item, Queued):
                yield wire({"type": "queued", "ahead": item.ahead})
            elif isinstance(item, Started):
                yield wire({"type": "started"})
            elif isinstance(item, Failed):
                yield wire({"type": "error", **failure(item.error).body()})
                return
            else:
                yield wire(event_to_wire(item))
                if isinstance(item, GenerationFinished) and check is not None:
                    verdict = await asyncio.to_thread(check, item.result)
                    yield wire({"type": "verdict", **verdict})
        yield DONE
    finally:
        queue.withdraw(job)


def wire(obj: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(obj, ensure_ascii=False))


async def collect(job: Job, queue: GenerationQueue, request: Request) -> GenerationResult:
    """The job's final result, for `stream: false`; withdraws it if the client disconnects."""

    async def result() -> GenerationResult:
        final: GenerationResult | None = None
        async for item in job_items(job):
            if isinstance(item, Failed):
                raise failure(item.error)
            if isinstance(item, GenerationFinished):
                final = item.result
        if final is None:
            raise failure(RuntimeError("the engine stopped without a result"))
        return final

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    work, watch = asyncio.ensure_future(result()), asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            raise ApiError(499, "the client closed the connection")
        return work.result()
    finally:
        watch.cancel()
        if not work.done():
            queue.withdraw(job)
            work.cancel()
