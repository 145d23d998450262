"""The FastAPI application and the state it serves: one model, loading or loaded.

The app answers at once, even while the model loads (503 with Retry-After, so load balancers
and clients wait instead of failing). Every `/v1` route needs the API key when the server has
one; `/health` stays open for load balancers' probes.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from noema_core.engine import Engine
from noema_server.errors import MAX_BODY_BYTES, ApiError, BodyLimit, install_error_handlers
from noema_server.scheduler import GenerationQueue

LOADING_RETRY_SECONDS = "5"
Checker = Callable[..., Any]  # noema_core.verify.check(response, question=...) -> Verdict


def served_name(model: str) -> str:
    """The model's id in `/v1/models`: a checkpoint directory's name, else the reference."""
    path = Path(model)
    return path.name if path.is_dir() else model


class ServerState:
    """The model being served: its reference and id, and once loaded its engine and queue."""

    def __init__(self, model: str, *, api_key: str | None = None,
                 checker: Checker | None = None) -> None:
        self.model = model
        self.model_id = served_name(model)
        self.api_key = api_key or None
        self.checker = checker
        self.engine: Engine | None = None
        self.queue: GenerationQueue | None = None
        self.load_error: str | None = None
        self.loading = "starting"  # what the loader last reported

    def loaded(self, engine: Engine) -> None:
        self.engine, self.queue = engine, GenerationQueue(engine)

    def failed(self, reason: str) -> None:
        self.load_error = reason

    def knows(self, model: str | None) -> bool:
        """Whether a request's `model` names the served model (None: the only one)."""
        return model is None or model in {self.model_id, self.model}

    def ready(self) -> tuple[Engine, GenerationQueue]:
        """The engine and its queue; `ApiError` 503 while loading or after a failed load."""
        if self.engine is not None and self.queue is not None:
            return self.engine, self.queue
        if self.load_error is not None:
            raise ApiError(503, f"{self.model} failed to load ({self.load_error}): fix it and "
                                f"restart noema serve", type="server_error", code="model_failed")
        raise ApiError(503, f"{self.model} is still loading ({self.loading}): retry in a few "
                            f"seconds", type="server_error", code="model_loading",
                       headers={"Retry-After": LOADING_RETRY_SECONDS})


class ApiKeyGuard:
    """ASGI middleware: `/v1/*` needs `Authorization: Bearer <key>` when a key is set.

    Checked before the body is read, so a client without the key learns that first (and a
    stranger cannot make the server parse megabytes)."""

    def __init__(self, app: ASGIApp, key: str | None) -> None:
        self.app, self.key = app, key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.key is None or scope["type"] != "http" or not scope["path"].startswith("/v1"):
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers", ())).get(b"authorization", b"").decode("latin-1")
        scheme, _, given = header.partition(" ")
        if not header:
            error = ApiError(401, "no API key: send Authorization: Bearer <key>, the key noema "
                                  "serve was started with (--api-key)")
        elif scheme.lower() != "bearer" or not secrets.compare_digest(
                given.strip().encode(), self.key.encode()):
            error = ApiError(401, "wrong API key: send Authorization: Bearer <key> with the key "
                                  "noema serve was started with (--api-key)")
        else:
            await self.app(scope, receive, send)
            return
        error.type, error.code = "authentication_error", "invalid_api_key"
        error.headers = {"WWW-Authenticate": "Bearer"}
        await error.response()(scope, receive, send)


def create_app(state: ServerState, *, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The ASGI app over `state` (which the caller loads, usually in a thread)."""
    from noema_server import routes

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if state.queue is not None:  # shutting down: stop the generation in progress
            state.queue.close()

    app = FastAPI(title="Noema", summary="Masked-diffusion LMs over an OpenAI-compatible API",
                  lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.noema = state
    install_error_handlers(app)
    app.include_router(routes.router)
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    app.add_middleware(ApiKeyGuard, key=state.api_key)
    return app
