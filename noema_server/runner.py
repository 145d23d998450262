"""`noema serve`: bind first, load the model in a thread, then serve until Ctrl-C.

The socket is bound before the model loads, so clients and load balancers get 503 "loading"
instead of "connection refused". A failed load prints the one-line reason and stops the
server with exit code 3, like every other command that cannot load its model.
"""

from __future__ import annotations

import ipaddress
import sys
import threading

from noema_core.errors import NoemaError
from noema_server.app import ServerState, create_app

EXIT_LOAD_FAILED = 3


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_host_warning(host: str) -> str:
    return (f"warning: serving on {host} without --api-key: anyone who can reach this port "
            f"can use the model; pass --api-key KEY (or bind 127.0.0.1)")


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def serve(model: str, *, host: str, port: int, api_key: str | None, device: str, dtype: str,
          quant: str, log_level: str = "warning") -> int:
    """Run the server; returns the exit code (3 when the model fails to load; after Ctrl-C
    uvicorn re-raises the signal, which ends the process with 130)."""
    import uvicorn

    from noema_core.engine import Engine

    if not is_loopback(host) and not api_key:
        say(open_host_warning(host))
    state = ServerState(model, api_key=api_key)
    config = uvicorn.Config(create_app(state), host=host, port=port, log_level=log_level,
                            timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    code = 0

    def load() -> None:
        nonlocal code
        def progress(what: str, fraction: float | None) -> None:
            state.loading = what
        try:
            engine = Engine.load(model, device=device, dtype=dtype, quant=quant,
                                 progress=progress)
        except Exception as err:  # noqa: BLE001 - any failure ends the server with one line
            reason = str(err) if isinstance(err, NoemaError) else f"{type(err).__name__}: {err}"
            state.failed(reason)  # said once uvicorn has stopped, as the last line
            code = EXIT_LOAD_FAILED
            server.should_exit = True
            return
        state.loaded(engine)
        info = engine.info
        say(f"serving {state.model_id} ({info.device}, {info.dtype}) at "
            f"http://{host}:{port}/v1 (OpenAI API; Noema stream at /v1/noema/stream); "
            f"Ctrl-C stops")

    say(f"loading {model} on {device}; the API answers 503 until it is ready")
    threading.Thread(target=load, name="noema-serve-load", daemon=True).start()
    server.run()
    if state.load_error is not None:
        say(f"error: {state.load_error}")
    elif not server.started:  # uvicorn could not bind the port (it logged why)
        code = 1
    return code
