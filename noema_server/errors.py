"""Every failure as OpenAI's error object, `{"error": {"message", "type", "param", "code"}}`.

OpenAI clients read `error.message` and raise by status code, so the status codes follow
OpenAI's: 400 bad parameters, 401 a missing or wrong key, 404 an unknown model or route, 413 a
body too large, 503 while the model loads. The messages are the CLI's one-line causes with
their fix; an unexpected exception is logged and answered with its type only, never a
traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("noema.serve")

MAX_BODY_BYTES = 1 << 20  # 1 MiB: far more text than any model's context holds


class ApiError(Exception):
    """An expected failure, answered as OpenAI's error JSON with `status`."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type = status, message, type
        self.param, self.code, self.headers = param, code, headers

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


STATUS_TYPES = {401: "authentication_error", 404: "not_found_error", 405: "invalid_request_error",
                413: "invalid_request_error"}


def describe_validation(error: RequestValidationError) -> tuple[str, str | None]:
    """Pydantic's first complaint as one line ('temperature: Input should be a valid
    number'), and the parameter it names."""
    problems = error.errors()
    if not problems:
        return "the request body is not valid", None
    first = problems[0]
    if first.get("type") == "json_invalid":
        return ("the request body is not valid JSON: send a JSON object with Content-Type: "
                "application/json"), None
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = ".".join(location) or None
    message = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
    if first.get("type") == "missing":
        if param is None:
            return ("the request body is empty: send a JSON object such as "
                    '{"messages": [{"role": "user", "content": "..."}]}'), None
        return f"{param} is required", param
    if param is None:
        return message, None
    return f"{param}: {message}", param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return error.response()

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        message, param = describe_validation(error)
        return ApiError(400, message, param=param).response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        message = str(error.detail)
        if error.status_code == 404:
            message = f"no route {request.method} {request.url.path}: see GET /v1/models"
        elif error.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return ApiError(error.status_code, message,
                        type=STATUS_TYPES.get(error.status_code, "invalid_request_error"),
                        headers=getattr(error, "headers", None)).response()

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return ApiError(500, f"{type(error).__name__} inside the server: this is a bug in "
                             f"Noema, please report it (the server log has the details)",
                        type="server_error").response()


def body_too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request body is over {limit // 1024} KiB: send a shorter prompt "
                         f"(no model's context holds that much text)", code="body_too_large")


class BodyLimit:
    """ASGI middleware refusing bodies over `limit` bytes: at once from Content-Length, or
    as soon as a chunked body passes it."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await body_too_large(self.limit).response()(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise StarletteHTTPException(413, body_too_large(self.limit).message)
            return message

        await self.app(scope, counted, send)
