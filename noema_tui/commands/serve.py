"""`noema serve`: the model behind an OpenAI-compatible HTTP API (see noema_server)."""

from __future__ import annotations

from typing import Annotated

import typer

from noema_tui.commands.options import DeviceOption, DtypeOption, QuantChoice, QuantOption
from noema_tui.commands.output import fail

MISSING_STACK = ("noema serve needs FastAPI, uvicorn and sse-starlette: pip install "
                 "'noema[serve]'")


def serve(
    model: Annotated[str | None, typer.Option(
        help="Bundled name, checkpoint directory or hub id. Default: noema-tiny.",
        show_default=False)] = None,
    host: Annotated[str, typer.Option(
        help="Address to bind. Anything but loopback needs --api-key to be safe.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    api_key: Annotated[str | None, typer.Option(
        envvar="NOEMA_API_KEY", help="Require Authorization: Bearer KEY on /v1 routes "
                                     "(or set NOEMA_API_KEY).", show_default=False)] = None,
    device: DeviceOption = "auto",
    dtype: DtypeOption = "auto",
    quant: QuantOption = QuantChoice.none,
    log_level: Annotated[str, typer.Option(
        help="uvicorn's log level: critical, error, warning, info, debug.")] = "info",
) -> None:
    """Serve a model over HTTP: OpenAI's /v1/chat/completions and the Noema stream.

    One generation runs at a time; other requests queue. GET /health answers
    503 until the model is loaded. Exit codes: 1 the port could not be bound,
    2 usage, 3 the model could not load, 130 stopped with Ctrl-C.
    """
    try:
        import fastapi  # noqa: F401
        import sse_starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        fail(MISSING_STACK, 1)
    from noema_core.engine import DEFAULT_MODEL
    from noema_server.runner import serve as run_server

    if log_level.lower() not in {"critical", "error", "warning", "info", "debug", "trace"}:
        fail(f"--log-level {log_level} is unknown: choose critical, error, warning, info or "
             f"debug", 2)
    code = run_server(model or DEFAULT_MODEL, host=host, port=port, api_key=api_key,
                      device=device, dtype=dtype, quant=quant.value, log_level=log_level.lower())
    if code:
        raise typer.Exit(code)
