"""Bad requests get the right status and one line in OpenAI's error shape, never a traceback."""

from __future__ import annotations

import json

import httpx
import pytest

from noema_server.app import ServerState
from tests.serve.conftest import API_KEY, LiveServer

AUTH = {"Authorization": f"Bearer {API_KEY}"}
QUESTION = [{"role": "user", "content": "2 + 2"}]


def post(server, body=None, *, content=None, headers=AUTH, path="/v1/chat/completions"):
    response = httpx.post(server.url + path, json=body, content=content, timeout=30,
                          headers={"Content-Type": "application/json", **headers})
    assert "Traceback" not in response.text
    error = response.json().get("error") if response.status_code >= 400 else None
    if error is not None:
        assert set(error) == {"message", "type", "param", "code"}
        assert "\n" not in error["message"]
    return response


@pytest.mark.parametrize(("content", "message"), [
    (b"{not json", "the request body is not valid JSON"),
    (b"", "the request body is empty"),
    (b"[1, 2]", "Input should be a valid dictionary"),
])
def test_malformed_json_is_400(server, content, message):
    response = post(server, content=content)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


@pytest.mark.parametrize(("body", "param"), [
    ({"messages": "hello"}, "messages"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content.str"),
    ({"messages": QUESTION, "temperature": "hot"}, "temperature"),
    ({"messages": QUESTION, "max_tokens": 1.5}, "max_tokens"),
    ({"messages": QUESTION, "stream": "yes"}, "stream"),
    ({"messages": QUESTION, "seed": -1}, "seed"),
    ({"messages": QUESTION, "max_tokens": 0}, "max_tokens"),
    ({"messages": QUESTION, "gen_length": 5000}, "gen_length"),
    ({"messages": QUESTION, "temperature": float("nan")}, "temperature"),
    ({"messages": QUESTION, "attention": "causal"}, "attention"),
    ({"messages": QUESTION, "num_to_transfer": 0}, "num_to_transfer"),
    ({}, "messages"),
])
def test_wrong_types_and_values_are_400_naming_the_parameter(server, body, param):
    response = post(server, content=json.dumps(body).encode())  # json.dumps writes NaN
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert response.json()["error"]["message"].startswith(param.split(".")[0])


def test_a_huge_body_is_413_before_it_is_read(server):
    huge = {"messages": [{"role": "user", "content": "x" * (2 << 20)}]}
    response = post(server, huge)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"

    def chunks():  # no Content-Length: refused once the stream passes the limit
        yield b'{"messages": [{"role": "user", "content": "'
        for _ in range(40):
            yield b"y" * 65536
        yield b'"}]}'

    chunked = httpx.post(server.url + "/v1/chat/completions", content=chunks(), headers=AUTH)
    assert chunked.status_code == 413


def test_unknown_routes_and_methods_answer_in_the_error_shape(server):
    assert post(server, QUESTION, path="/v1/embeddings").status_code == 404
    response = httpx.get(server.url + "/v1/chat/completions", headers=AUTH)
    assert response.status_code == 405
    assert response.json()["error"]["message"] == "GET is not allowed on /v1/chat/completions"


def test_missing_key_is_checked_before_the_body(server):
    response = post(server, content=b"{not json", headers={})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_while_loading_every_model_route_is_503_with_retry_after():
    state = ServerState("noema-tiny")
    state.loading = "reading weights"
    live = LiveServer(state)
    try:
        health = httpx.get(live.url + "/health")
        assert health.status_code == 503 and health.json()["status"] == "loading"
        response = post(live, {"model": "noema-tiny", "messages": QUESTION}, headers={})
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.json()["error"]["code"] == "model_loading"
        assert "reading weights" in response.json()["error"]["message"]
        state.failed("checkpoint directory /x does not exist: pass a directory")
        failed = post(live, {"messages": QUESTION}, headers={})
        assert failed.status_code == 503 and failed.json()["error"]["code"] == "model_failed"
        assert httpx.get(live.url + "/health").json()["status"] == "failed"
    finally:
        live.stop()
