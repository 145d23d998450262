"""How much of a conversation the model reads: the checkpoint's `history_exchanges`, or
`--history`; the UI keeps and shows the whole chat either way."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from noema_core.decoding.settings import DecodingSettings
from noema_core.engine import Engine, recent_exchanges
from noema_core.loading import load_model

SYSTEM = {"role": "system", "content": "be brief"}
CHAT = [SYSTEM,
        {"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"},
        {"role": "user", "content": "q3"}]


def contents(messages: list[dict[str, str]]) -> list[str]:
    return [m["content"] for m in messages]


@pytest.mark.parametrize("exchanges, kept", [
    (None, ["be brief", "q1", "a1", "q2", "a2", "q3"]),
    (0, ["be brief", "q3"]),
    (1, ["be brief", "q2", "a2", "q3"]),
    (2, ["be brief", "q1", "a1", "q2", "a2", "q3"]),
    (5, ["be brief", "q1", "a1", "q2", "a2", "q3"]),
])
def test_the_window_keeps_the_system_message_the_last_exchanges_and_the_question(exchanges, kept):
    assert contents(recent_exchanges(CHAT, exchanges)) == kept


def test_a_first_question_is_sent_whole_whatever_the_window():
    assert recent_exchanges([{"role": "user", "content": "hi"}], 0) == [
        {"role": "user", "content": "hi"}]


def with_generation_config(checkpoint: Path, tmp_path: Path, config: object) -> Path:
    target = tmp_path / "ckpt"
    shutil.copytree(checkpoint, target)
    (target / "generation_config.json").write_text(json.dumps(config))
    return target


@pytest.mark.parametrize("declared, read", [
    (0, 0), (3, 3), (-1, None), ("2", None), (True, None), (None, None),
])
def test_the_checkpoint_declares_its_window_and_a_garbled_one_means_all(tiny_checkpoint,
                                                                        tmp_path, declared,
                                                                        read):
    ckpt = with_generation_config(tiny_checkpoint, tmp_path, {"history_exchanges": declared})
    assert load_model(str(ckpt), device="cpu").info.history_exchanges == read


def test_a_later_turn_under_window_0_decodes_as_the_question_alone(tiny_checkpoint, tmp_path):
    ckpt = with_generation_config(tiny_checkpoint, tmp_path, {"history_exchanges": 0})
    engine = Engine.load(str(ckpt), device="cpu", dtype="float32")
    settings = DecodingSettings.for_mode("s", gen_length=32, eos_early_stop=False)
    later = [{"role": "user", "content": "2+2"}, {"role": "assistant", "content": "4"},
             {"role": "user", "content": "3+3"}]
    alone = engine.generate(later[-1:], settings)
    windowed = engine.generate(later, settings)
    assert windowed.token_ids == alone.token_ids
    assert windowed.stats.prompt_tokens == alone.stats.prompt_tokens
    assert engine.generate_batch([later], settings)[0].token_ids == alone.token_ids

    engine.set_history_exchanges(None)  # `--history all`
    assert engine.info.history_exchanges is None
    whole = engine.generate(later, settings)
    assert whole.stats.prompt_tokens > alone.stats.prompt_tokens


def test_a_negative_window_is_refused(tiny_checkpoint):
    engine = Engine.load(str(tiny_checkpoint), device="cpu", dtype="float32")
    with pytest.raises(ValueError, match=">= 0"):
        engine.set_history_exchanges(-1)
