"""`noema ask --server`: the same answer as a local `noema ask`, from noema serve and from a
server that speaks only the OpenAI API."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from noema_tui.cli import app
from tests.serve.conftest import API_KEY

FAST = ["--gen-length", "48", "--block-length", "16", "--steps", "4", "--json"]
# The random test model's greedy reply is all spaces, which ask reports as empty (exit 1);
# seeded sampling gives text, and must match token for token as well.
SAMPLED = ["--temperature", "1", "--seed", "5"]
QUESTION = "Solve 3x + 5 = 20"


def ask(*args: str):
    result = CliRunner().invoke(app, ["ask", *args])
    return result


@pytest.mark.parametrize("sampling", [[], SAMPLED], ids=["greedy", "seeded"])
def test_ask_over_the_server_gives_the_local_answer_token_for_token(server, tiny_dir,
                                                                     fixed_checker, sampling):
    local = ask("--model", str(tiny_dir), "--device", "cpu", *FAST, *sampling, QUESTION)
    remote = ask("--server", server.url, "--api-key", API_KEY, *FAST, *sampling, QUESTION)
    assert remote.exit_code == local.exit_code == (0 if sampling else 1), remote.output
    mine, theirs = json.loads(remote.stdout), json.loads(local.stdout)
    assert mine["answer"] == theirs["answer"]
    for key in ("new_tokens", "forwards", "tokens_per_forward"):
        assert mine["stats"][key] == theirs["stats"][key]


def test_ask_plain_over_the_server_says_where_it_decoded(server, fixed_checker):
    result = ask("--server", server.url + "/v1", "--api-key", API_KEY, "--gen-length", "16",
                 "--block-length", "16", "--steps", "4", *SAMPLED, QUESTION)
    assert result.exit_code == 0, result.output
    assert f"connected to {server.state.model_id} on cpu at 127.0.0.1:{server.port}" \
        in result.stderr


def test_an_openai_only_server_gives_blocks_and_says_what_it_cannot_show(openai_only, tiny_dir,
                                                                         fixed_checker):
    local = ask("--model", str(tiny_dir), "--device", "cpu", "--gen-length", "8", "--json",
                *SAMPLED, QUESTION)
    remote = ask("--server", openai_only.url, "--gen-length", "8", "--threshold", "0.9",
                 *SAMPLED, QUESTION)
    assert remote.exit_code == 0, remote.output
    assert remote.stdout.strip() == json.loads(local.stdout)["answer"].strip()
    assert "per-forward detail is not available from this server" in remote.stderr
    assert "--threshold is not sent" in remote.stderr


def test_unreachable_server_wrong_key_and_bad_settings_exit_with_one_line(server):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    unreachable = ask("--server", f"http://127.0.0.1:{closed}", QUESTION)
    assert unreachable.exit_code == 3
    assert unreachable.stderr.splitlines()[-1].startswith(
        f"error: could not reach http://127.0.0.1:{closed}")
    wrong = ask("--server", server.url, "--api-key", "nope", QUESTION)
    assert wrong.exit_code == 3 and "refused the API key" in wrong.stderr
    bad = ask("--server", server.url, "--api-key", API_KEY, "--temperature", "3", QUESTION)
    assert bad.exit_code == 2
    assert bad.stderr == "error: temperature=3.0 is out of range: choose a value in [0, 2]\n"
    both = ask("--server", server.url, "--model", "noema-tiny", QUESTION)
    assert both.exit_code == 2 and "give one" in both.stderr
    for result in (unreachable, wrong, bad, both):
        assert "Traceback" not in result.output
        assert [line for line in result.stderr.splitlines() if line.startswith("error:")] \
            == result.stderr.splitlines()[-1:]  # one error line, the last
