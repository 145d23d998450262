"""The Noema stream: every engine event over HTTP, queue positions, cancellation by
disconnecting."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

import httpx
import pytest

from noema_core.decoding.events import BlockFinished, BlockUpdated, GenerationFinished
from noema_core.engine import Engine
from noema_core.remote.client import RemoteEngine, sse_data
from noema_server.app import ServerState
from tests.serve.conftest import API_KEY, LiveServer

QUESTION = [{"role": "user", "content": "what is 7 * 6?"}]
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def settings_of(engine, **overrides):
    return engine.settings_for("q", **{"gen_length": 40, "block_length": 16, "steps": 4,
                                       "temperature": 1.0, "seed": 5, **overrides})


def test_remote_engine_yields_the_events_the_local_engine_yields(server, local_engine):
    remote = RemoteEngine.connect(server.url, api_key=API_KEY)
    assert remote.per_forward and remote.model_id == server.state.model_id
    assert remote.info.max_context == local_engine.info.max_context
    assert remote.info.parameters == local_engine.info.parameters
    settings = settings_of(remote)
    got = list(remote.stream(QUESTION, settings))
    want = list(local_engine.stream(QUESTION, settings))
    assert [type(e) for e in got] == [type(e) for e in want]
    assert sum(isinstance(e, BlockUpdated) for e in got) >= 3  # one per forward
    for mine, theirs in zip(got, want, strict=True):
        if isinstance(mine, BlockUpdated):
            assert (mine.block_index, mine.forward, mine.token_ids, mine.states, mine.pieces,
                    mine.edits) == (theirs.block_index, theirs.forward, theirs.token_ids,
                                    theirs.states, theirs.pieces, theirs.edits)
            assert mine.confidences == pytest.approx(theirs.confidences, abs=1e-4)
        elif isinstance(mine, BlockFinished):
            assert mine == theirs
        else:
            assert mine.result.text == theirs.result.text
            assert mine.result.token_ids == theirs.result.token_ids
            assert mine.result.stats.forwards == theirs.result.stats.forwards


def noema_events(url, body, headers=AUTH):
    with httpx.stream("POST", url + "/v1/noema/stream", json=body, headers=headers,
                      timeout=60) as response:
        assert response.status_code == 200, response.read()
        for data in sse_data(response.iter_lines()):
            yield data if data == "[DONE]" else json.loads(data)


def test_stream_starts_ends_with_done_and_carries_the_verdict_when_asked(server):
    server.state.checker = lambda reply, question: _Verdict("unverifiable", reason=question)
    try:
        items = list(noema_events(server.url, {"messages": QUESTION, "max_tokens": 16,
                                               "block_length": 16, "check": True}))
    finally:
        server.state.checker = None
    kinds = [item if item == "[DONE]" else item["type"] for item in items]
    assert kinds[0] == "started" and kinds[-3:] == ["generation_finished", "verdict", "[DONE]"]
    assert items[-2] == {"type": "verdict", "status": "unverifiable",
                         "reason": "what is 7 * 6?"}
    assert items[-3]["stats"]["forwards"] == kinds.count("block_updated")


@dataclass(frozen=True)
class _Verdict:  # the checker's Verdict is a dataclass too
    status: str
    reason: str = ""


# -- queueing and cancellation, on an engine slowed to 20 ms a forward ----------------------
class SlowEngine:
    """The tiny engine, sleeping after each forward; records what runs after a cancel."""

    def __init__(self, engine: Engine, delay: float = 0.02) -> None:
        self.engine, self.delay = engine, delay
        self.info, self.tokenizer = engine.info, engine.tokenizer
        self.forwards_after_cancel: list[int] = []
        self.ended = threading.Event()

    def stream(self, messages, settings, cancel=None):
        self.ended.clear()
        after = 0
        try:
            for event in self.engine.stream(messages, settings, cancel):
                if isinstance(event, BlockUpdated):
                    if cancel is not None and cancel.is_set():
                        after += 1
                    time.sleep(self.delay)
                yield event
        finally:
            self.forwards_after_cancel.append(after)
            self.ended.set()


@pytest.fixture(scope="module")
def slow(tiny_dir):
    engine = SlowEngine(Engine.load(str(tiny_dir), device="cpu"))
    state = ServerState(str(tiny_dir))
    state.loaded(engine)
    live = LiveServer(state)
    yield live, engine
    live.stop()


LONG = {"messages": QUESTION, "max_tokens": 2048, "block_length": 16,
        "eos_early_stop": False}  # hundreds of forwards: seconds at 20 ms each


def test_a_second_request_is_queued_with_its_position_then_served(slow):
    live, engine = slow
    first = noema_events(live.url, LONG)
    assert next(first)["type"] == "started"
    second = noema_events(live.url, {"messages": QUESTION, "max_tokens": 16,
                                     "block_length": 16})
    assert next(second) == {"type": "queued", "ahead": 1}
    first.close()  # disconnecting frees the engine for the second
    kinds = [item if item == "[DONE]" else item["type"] for item in second]
    assert kinds[0] == "started" and kinds[-2:] == ["generation_finished", "[DONE]"]
    assert httpx.get(live.url + "/health").json()["waiting"] == 0


def test_disconnecting_mid_stream_frees_the_engine_within_one_forward(slow):
    live, engine = slow
    events = noema_events(live.url, LONG)
    seen = [next(events) for _ in range(5)]
    assert "block_updated" in [item["type"] for item in seen]
    engine.ended.clear()
    events.close()
    assert engine.ended.wait(5), "the generation kept running after the client left"
    assert engine.forwards_after_cancel[-1] <= 1
    assert not httpx.get(live.url + "/health").json()["busy"]


@pytest.mark.parametrize(("sent", "read"), [
    ({"history_exchanges": 0, "max_turns_trained": 9}, (0, 9)),
    ({"history_exchanges": "all", "max_turns_trained": -2}, (None, 0)),
    ({"history_exchanges": True, "max_turns_trained": None}, (None, 0)),
    ({}, (None, 0)),  # an older server
])
def test_the_servers_conversation_counts_reach_the_app_or_are_dropped(sent, read):
    body = {"id": "m", "info": {"name": "m", "device": "cpu", "dtype": "float32", "quant": "none",
                                "parameters": 1, "resident_bytes": 1, **sent}}
    info = RemoteEngine._from_noema("http://127.0.0.1:1", body, None, 5.0).info
    assert (info.history_exchanges, info.max_turns_trained) == read


def test_a_non_streaming_client_that_disconnects_is_cancelled_too(slow):
    live, engine = slow
    engine.ended.clear()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(live.url + "/v1/chat/completions", json=LONG, timeout=0.5)
    assert engine.ended.wait(5)
    assert engine.forwards_after_cancel[-1] <= 1


def test_remote_cancel_stops_the_server_and_keeps_the_partial_reply(slow):
    live, engine = slow
    remote = RemoteEngine.connect(live.url)
    cancel = threading.Event()
    events = []
    engine.ended.clear()
    for event in remote.stream(QUESTION, remote.settings_for("q", gen_length=2048,
                                                             eos_early_stop=False), cancel):
        events.append(event)
        if sum(isinstance(e, BlockFinished) for e in events) == 2:
            cancel.set()
    final = events[-1]
    assert isinstance(final, GenerationFinished) and final.result.cancelled
    finished = [e for e in events if isinstance(e, BlockFinished)]
    assert final.result.text.startswith("".join(b.text for b in finished))
    assert engine.ended.wait(5) and engine.forwards_after_cancel[-1] <= 1
