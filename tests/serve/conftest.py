"""A real `noema serve` app under uvicorn on loopback (a free port), over the tiny model."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from noema_core.engine import Engine  # noqa: E402
from noema_server.app import ServerState, create_app  # noqa: E402
from tests.tui.conftest import tiny_chat_checkpoint  # noqa: E402, F401, F811 (a fixture)

API_KEY = "test-key-123"
# Small and greedy: a reply is a few 16-slot blocks of 4 forwards at most.
FAST = {"max_tokens": 32, "temperature": 0, "extra_body": {"block_length": 16, "steps": 4}}


class LiveServer:
    """uvicorn running `create_app(state)` in a thread, bound before it starts."""

    def __init__(self, state: ServerState, *, wrap: Any = None, **app_options: Any) -> None:
        import uvicorn

        self.state = state
        app = create_app(state, **app_options)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(wrap(app) if wrap else app, log_level="critical",
                                timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def tiny_dir(tiny_chat_checkpoint: Path) -> Path:  # noqa: F811
    """The engine tests' tiny random model with a character tokenizer, as a directory."""
    return tiny_chat_checkpoint


@pytest.fixture(scope="session")
def tiny_engine(tiny_dir: Path) -> Engine:
    return Engine.load(str(tiny_dir), device="cpu")


@pytest.fixture(scope="session")
def local_engine(tiny_dir: Path) -> Engine:
    """A second engine on the same checkpoint: what local `noema ask` would decode with."""
    return Engine.load(str(tiny_dir), device="cpu")


@pytest.fixture(scope="session")
def server(tiny_engine: Engine, tiny_dir: Path) -> Iterator[LiveServer]:
    """The loaded tiny model behind an API key."""
    state = ServerState(str(tiny_dir), api_key=API_KEY)
    state.loaded(tiny_engine)
    live = LiveServer(state)
    yield live
    live.stop()


@pytest.fixture
def client(server: LiveServer) -> Any:
    import openai

    return openai.OpenAI(base_url=server.url + "/v1", api_key=API_KEY, max_retries=0,
                         timeout=60)


@pytest.fixture
def fixed_checker(monkeypatch: pytest.MonkeyPatch) -> None:
    """`noema ask` with a checker that decides nothing, so only decoding is compared."""
    import sys
    import types

    from tests.tui.cli_with_fake_checker import Verdict, check

    module = types.ModuleType("noema_core.verify")
    module.check, module.Verdict = check, Verdict
    monkeypatch.setitem(sys.modules, "noema_core.verify", module)


class OpenAIOnly:
    """The server as SGLang would look to a client: no /v1/noema/* routes."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/noema"):
            from starlette.responses import JSONResponse

            await JSONResponse({"detail": "Not Found"}, status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def openai_only(tiny_engine: Engine, tiny_dir: Path) -> Iterator[LiveServer]:
    """The tiny model behind a server that speaks only the OpenAI API."""
    state = ServerState(str(tiny_dir))
    state.loaded(tiny_engine)
    live = LiveServer(state, wrap=OpenAIOnly)
    yield live
    live.stop()
