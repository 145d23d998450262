"""`noema serve` through the official openai client: models, completions, streams, errors."""

from __future__ import annotations

import pytest

from tests.serve.conftest import API_KEY, FAST

openai = pytest.importorskip("openai")

QUESTION = [{"role": "user", "content": "solve 3x + 5 = 20"}]


def local_reply(engine, max_tokens=32, **overrides):
    settings = engine.settings_for("q", **{"gen_length": max_tokens, "temperature": 0.0,
                                           "block_length": 16, "steps": 4, **overrides})
    return engine.generate(QUESTION, settings)


def test_model_list_names_the_served_checkpoint(client, server):
    models = client.models.list()
    assert [m.id for m in models.data] == [server.state.model_id]
    assert client.models.retrieve(server.state.model_id).owned_by == "noema"


def test_completion_is_the_engines_greedy_reply_with_usage(client, server, local_engine):
    reply = client.chat.completions.create(model=server.state.model_id, messages=QUESTION,
                                           **FAST)
    expected = local_reply(local_engine)
    assert reply.choices[0].message.content == expected.text
    assert reply.choices[0].finish_reason == ("length" if expected.finish_reason == "length"
                                              else "stop")
    assert reply.usage.completion_tokens == expected.stats.new_tokens
    assert reply.usage.prompt_tokens == expected.stats.prompt_tokens
    assert reply.model_extra["noema"]["forwards"] == expected.stats.forwards


def test_stream_sends_one_chunk_per_finished_block_and_the_same_text(client, server,
                                                                      local_engine):
    sampled = {**FAST, "temperature": 1.0, "seed": 3, "max_tokens": 40}  # varied text
    chunks = list(client.chat.completions.create(
        model=server.state.model_id, messages=QUESTION, stream=True,
        stream_options={"include_usage": True}, **sampled))
    content = [c.choices[0].delta.content for c in chunks if c.choices
               and c.choices[0].delta.content]
    expected = local_reply(local_engine, 40, temperature=1.0, seed=3)
    assert "".join(content) == expected.text
    assert 1 <= len(content) <= expected.stats.blocks  # whole blocks, not tokens
    assert chunks[0].choices[0].delta.role == "assistant"
    finish = [c.choices[0].finish_reason for c in chunks if c.choices
              and c.choices[0].finish_reason]
    assert len(finish) == 1
    assert chunks[-1].usage.completion_tokens == expected.stats.new_tokens


def test_openai_sampling_fields_map_to_decoding_settings(client, server, local_engine):
    reply = client.chat.completions.create(
        model=server.state.model_id, messages=QUESTION, max_tokens=16, temperature=0.8,
        top_p=0.9, seed=7, extra_body={"block_length": 16, "steps": 4, "mode": "s"})
    settings = local_engine.settings_for("s", gen_length=16, temperature=0.8, top_p=0.9, seed=7,
                                         block_length=16, steps=4)
    assert reply.choices[0].message.content == local_engine.generate(QUESTION, settings).text


@pytest.mark.parametrize(("extra", "message"), [
    ({"temperature": 3}, "temperature=3.0 is out of range: choose a value in [0, 2]"),
    ({"extra_body": {"threshold": 1.5}},
     "threshold=1.5 is out of range: choose a value in [0, 1]"),
    ({"extra_body": {"block_length": 8}},
     "block_length=8 is out of range: choose a value in [16, 128]"),
    ({"extra_body": {"mode": "fast"}}, "mode='fast' is unknown: choose q, s or ar"),
    ({"extra_body": {"treshold": 0.9}}, "unknown field 'treshold'"),
    ({"extra_body": {"attention": "full"}}, "attention='full' is unknown"),
    ({"n": 2}, "n=2 is not supported"),
])
def test_bad_parameters_are_400_with_the_clis_message(client, server, extra, message):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=server.state.model_id, messages=QUESTION,
                                       **{"max_tokens": 16, **extra})
    assert caught.value.status_code == 400
    assert caught.value.body["message"].startswith(message)


def test_a_prompt_longer_than_the_context_is_400_context_length_exceeded(client, server):
    context = server.state.engine.info.max_context
    long = [{"role": "user", "content": "1 + " * (context // 4)}]  # a character tokenizer
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=server.state.model_id, messages=long, max_tokens=16)
    assert caught.value.code == "context_length_exceeded"
    assert "shorten the prompt or lower gen_length" in caught.value.body["message"]


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=QUESTION, max_tokens=16)
    assert caught.value.code == "model_not_found"
    assert "'gpt-4o' is not served here" in caught.value.body["message"]


def test_a_wrong_or_missing_key_is_401(server):
    wrong = openai.OpenAI(base_url=server.url + "/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.models.list()
    assert caught.value.body["message"].startswith("wrong API key")
    import httpx

    missing = httpx.get(server.url + "/v1/models")
    assert missing.status_code == 401
    assert missing.json()["error"]["message"].startswith("no API key")
    assert httpx.get(server.url + "/health").json()["status"] == "ok"  # probes need no key
    assert API_KEY not in missing.text
