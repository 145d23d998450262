"""The HTTP routes: health, the model list, OpenAI chat completions and the Noema stream."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from noema_core.decoding.events import GenerationResult
from noema_core.decoding.sampler import canvas_length
from noema_core.decoding.settings import DecodingSettings
from noema_core.engine import Engine
from noema_core.errors import PromptTooLongError
from noema_server.app import ServerState
from noema_server.errors import ApiError
from noema_server.schemas import ChatRequest
from noema_server.streaming import (
    FINISH_REASONS,
    collect,
    completion_id,
    noema_stream,
    openai_stream,
    usage,
)

router = APIRouter()
STARTED = int(time.time())
PING_SECONDS = 15  # keeps queued clients' connections alive through proxies


def state_of(request: Request) -> ServerState:
    return request.app.state.noema


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """200 once the model is loaded (with how busy it is), 503 before or after a failure."""
    state = state_of(request)
    if state.queue is not None:
        return JSONResponse({"status": "ok", "model": state.model_id, "busy": state.queue.busy,
                             "waiting": state.queue.waiting})
    if state.load_error is not None:
        return JSONResponse({"status": "failed", "model": state.model_id,
                             "error": state.load_error}, status_code=503)
    return JSONResponse({"status": "loading", "model": state.model_id,
                         "loading": state.loading}, status_code=503,
                        headers={"Retry-After": "5"})


def model_card(state: ServerState) -> dict[str, Any]:
    return {"id": state.model_id, "object": "model", "created": STARTED, "owned_by": "noema"}


@router.get("/v1/models")
async def list_models(request: Request) -> dict[str, Any]:
    return {"object": "list", "data": [model_card(state_of(request))]}


@router.get("/v1/models/{model:path}")
async def get_model(model: str, request: Request) -> dict[str, Any]:
    state = state_of(request)
    require_known(state, model)
    return model_card(state)


@router.get("/v1/noema/info")
async def noema_info(request: Request) -> dict[str, Any]:
    """What `noema chat --server` shows about the model, and the presets it decodes with."""
    state = state_of(request)
    engine, _ = state.ready()
    info = dataclasses.asdict(engine.info)
    info["decoding_presets"] = {mode.value: dict(values)
                                for mode, values in engine.info.decoding_presets.items()}
    return {"id": state.model_id, "info": info}


def require_known(state: ServerState, model: str | None) -> None:
    if not state.knows(model):
        raise ApiError(404, f"model {model!r} is not served here: this server serves "
                            f"{state.model_id!r} (GET /v1/models)", param="model",
                       code="model_not_found", type="not_found_error")


async def admit(request: Request, body: ChatRequest
                ) -> tuple[ServerState, Engine, DecodingSettings, list[dict[str, str]]]:
    """Everything a request must pass before it queues: model, load, settings, context."""
    state = state_of(request)
    require_known(state, body.model)
    engine, _ = state.ready()
    settings = body.settings(engine.info.decoding_presets)
    messages = body.engine_messages()

    def fits() -> None:  # tokenizing a long prompt takes a while: off the event loop
        prompt = len(engine.tokenizer.encode_chat(messages))
        canvas_length(prompt, settings, engine.info.max_context)

    try:
        await run_in_threadpool(fits)
    except PromptTooLongError as err:
        raise ApiError(400, str(err), param="messages", code="context_length_exceeded") from None
    return state, engine, settings, messages


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(body: ChatRequest, request: Request
                           ) -> EventSourceResponse | dict[str, Any]:
    state, engine, settings, messages = await admit(request, body)
    assert state.queue is not None
    job = state.queue.submit(messages, settings)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return EventSourceResponse(
            openai_stream(job, state.queue, engine, state.model_id, include_usage),
            ping=PING_SECONDS, sep="\n")
    result = await collect(job, state.queue, request)
    return {"id": completion_id(), "object": "chat.completion", "created": int(time.time()),
            "model": state.model_id,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result.text},
                         "finish_reason": FINISH_REASONS.get(result.finish_reason, "stop")}],
            "usage": usage(result), "noema": result.stats.as_dict()}


@router.post("/v1/noema/stream", response_model=None)
async def noema_events(body: ChatRequest, request: Request) -> EventSourceResponse:
    """Server-sent events: queue position, every per-forward snapshot, each finished block,
    the final result with its stats, and (with `"check": true`) the checker's verdict."""
    state, _, settings, messages = await admit(request, body)
    assert state.queue is not None
    question = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    check = None
    if body.check:
        def check(result: GenerationResult) -> dict[str, Any]:
            return verdict_of(state, result.text, question)
    job = state.queue.submit(messages, settings)
    return EventSourceResponse(noema_stream(job, state.queue, check), ping=PING_SECONDS,
                               sep="\n")


def verdict_of(state: ServerState, reply: str, question: str) -> dict[str, Any]:
    """The checker's verdict as a plain object; a checker failure is a verdict, not an error."""
    try:
        if state.checker is None:
            from noema_core.verify import check as checker
        else:
            checker = state.checker
        verdict = checker(reply, question=question)
        fields = dataclasses.asdict(verdict) if dataclasses.is_dataclass(verdict) else {}
    except Exception as error:  # noqa: BLE001 - the reply stands without its verdict
        return {"status": "unverifiable",
                "reason": f"the checker failed ({type(error).__name__}: {error})"}
    return {key: value for key, value in fields.items()
            if isinstance(value, str | int | float | bool) or value is None}
