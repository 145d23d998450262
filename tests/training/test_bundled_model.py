"""noema-tiny, the bundled model: loads by name or directory and decodes like a diffusion LM."""

from __future__ import annotations

import pytest

from noema_core.decoding.events import BlockUpdated, TokenState
from noema_core.decoding.settings import DecodingSettings
from noema_core.engine import Engine
from noema_core.loading import BUNDLED_DIR, bundled_models

QUESTION = [{"role": "user", "content": "Solve 3x + 5 = 20"}]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load("noema-tiny", device="cpu")


def test_noema_tiny_is_bundled_small_and_in_the_hf_layout():
    assert "noema-tiny" in bundled_models()
    files = {p.name: p.stat().st_size for p in (BUNDLED_DIR / "noema-tiny").iterdir()}
    assert {"config.json", "tokenizer.json", "tokenizer_config.json",
            "model.safetensors.index.json"} <= set(files)
    assert sum(files.values()) <= 30 * 10**6


def test_it_loads_as_a_plain_directory_too():
    engine = Engine.load(str(BUNDLED_DIR / "noema-tiny"), device="cpu")
    assert engine.info.parameters > 1_000_000 and not engine.info.random_weights


def test_it_ships_its_own_q_and_s_thresholds_stricter_than_the_cards(engine):
    for mode in ("q", "s"):
        assert engine.settings_for(mode).threshold > DecodingSettings.for_mode(mode).threshold
    assert engine.settings_for("q").threshold >= engine.settings_for("s").threshold


def test_it_answers_a_later_question_of_a_chat_as_if_asked_alone(engine):
    """It reads no earlier exchange (generation_config `history_exchanges: 0`): its
    curriculum's conversations never make an answer depend on an earlier turn, and with them
    it got later turns wrong more often (README: the conversations set)."""
    assert engine.info.history_exchanges == 0
    chat = [{"role": "user", "content": "What is 48 + 37?"},
            {"role": "assistant", "content": "48 + 37 = 85. \\boxed{85}"}, *QUESTION]
    settings = engine.settings_for("s")
    assert engine.generate(chat, settings).token_ids == engine.generate(QUESTION,
                                                                         settings).token_ids


@pytest.mark.parametrize("mode", ["q", "s"])
def test_it_solves_the_quick_start_equation_several_tokens_per_forward(engine, mode):
    result = engine.generate(QUESTION, engine.settings_for(mode))
    assert result.text.strip().endswith("\\boxed{5}")
    assert result.stats.tokens_per_forward > 3


def test_ar_mode_decodes_the_same_checkpoint_one_token_per_forward(engine):
    events = list(engine.stream(QUESTION, DecodingSettings.for_mode("ar", gen_length=64)))
    updates = [e for e in events if isinstance(e, BlockUpdated)]
    assert all(sum(s is TokenState.UNMASKED for s in e.states) == 1 for e in updates)
