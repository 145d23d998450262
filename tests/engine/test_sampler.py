"""The block-diffusion sampler: modes, editing, the exact KV cache, events and cancellation."""

from __future__ import annotations

import threading

import pytest
import torch

from noema_core.decoding import policies
from noema_core.decoding.events import (
    BlockFinished,
    BlockUpdated,
    GenerationFinished,
    TokenState,
)
from noema_core.decoding.sampler import Sampler
from noema_core.decoding.settings import DecodingSettings, Mode, parse_model_presets
from noema_core.errors import PromptTooLongError, SettingsError

from .conftest import tiny_model
from .scripted import ScriptedModel, peaked

MASK, EOS = 127, 126


def run(sampler: Sampler, prompt: list[int], settings: DecodingSettings, **kw):
    events = list(sampler.generate(prompt, settings, **kw))
    assert isinstance(events[-1], GenerationFinished)
    return events, events[-1].result


def random_prompt(n: int, seed: int = 0) -> list[int]:
    return torch.randint(0, 100, (n,), generator=torch.Generator().manual_seed(seed)).tolist()


@pytest.fixture(scope="module")
def model():
    return tiny_model(seed=2)


@pytest.mark.parametrize("mode", list(Mode))
def test_greedy_output_is_identical_with_and_without_cache(model, mode):
    settings = DecodingSettings.for_mode(mode, gen_length=80, eos_early_stop=False)
    prompt = random_prompt(45)
    _, cached = run(Sampler(model, mask_id=MASK, eos_ids=[EOS]), prompt, settings)
    _, plain = run(Sampler(model, mask_id=MASK, eos_ids=[EOS]), prompt, settings,
                   use_cache=False)
    assert cached.token_ids == plain.token_ids
    assert cached.stats.forwards == plain.stats.forwards


def test_cached_prompt_blocks_are_reused_across_chat_turns(model):
    sampler = Sampler(model, mask_id=MASK, eos_ids=[EOS])
    settings = DecodingSettings.for_mode("s", gen_length=40)
    first_turn = random_prompt(70)
    run(sampler, first_turn, settings)
    second_turn = first_turn + random_prompt(30, seed=5)  # the conversation grows
    _, reused = run(sampler, second_turn, settings)
    assert sampler.reused_tokens == 64  # both full blocks of the first prompt
    _, fresh = run(Sampler(model, mask_id=MASK, eos_ids=[EOS]), second_turn, settings)
    assert reused.token_ids == fresh.token_ids


def test_ar_mode_commits_exactly_one_token_per_forward(model):
    settings = DecodingSettings.for_mode("ar", gen_length=64, eos_early_stop=False)
    events, result = run(Sampler(model, mask_id=MASK, eos_ids=[]), random_prompt(32), settings)
    updates = [e for e in events if isinstance(e, BlockUpdated)]
    assert len(updates) == 64 == result.stats.forwards
    for event in updates:
        assert [s for s in event.states if s is TokenState.UNMASKED].__len__() == 1
        first_masked = event.states.index(TokenState.MASKED) if event.masked else 32
        assert event.states[first_masked - 1] is TokenState.UNMASKED  # leftmost first


def test_ar_mode_stops_at_the_first_eos_instead_of_decoding_padding():
    # After a 1-token prompt: tokens 2, 3, then EOS; the model would go on proposing EOS.
    def script(call, ids):
        T = ids.shape[0]
        return peaked([1, 2, 3] + [14] * (T - 3), [0.99] * T)

    sampler = Sampler(ScriptedModel(script), mask_id=15, eos_ids=[14])
    settings = DecodingSettings.for_mode("ar", gen_length=64, block_length=16)
    events, result = run(sampler, [1], settings, use_cache=False)
    assert result.token_ids == (2, 3) and result.finish_reason == "eos"
    assert result.stats.forwards == 3  # two tokens and the EOS, not the 13 slots after it
    assert [e.token_ids for e in events if isinstance(e, BlockFinished)] == [
        (2, 3) + (14,) * 13]


def test_an_edit_is_reported_as_one():
    # Position 1 (right after the 1-token prompt) is unmasked as 3 by forward 1; forward 2
    # is sure it should be 4 instead.
    def script(call, ids):
        T = ids.shape[0]
        if call == 0:
            return peaked([0, 3] + [5] * (T - 2), [0.1, 0.9] + [0.1] * (T - 2))
        return peaked([0, 4] + [5] * (T - 2), [0.1, 0.95] + [0.99] * (T - 2))

    sampler = Sampler(ScriptedModel(script), mask_id=15, eos_ids=[14])
    settings = DecodingSettings.for_mode("q", gen_length=16, block_length=16)
    events, result = run(sampler, [1], settings, use_cache=False)
    updates = [e for e in events if isinstance(e, BlockUpdated)]
    assert updates[0].states[1] is TokenState.UNMASKED and updates[0].token_ids[1] == 3
    assert updates[1].states[1] is TokenState.EDITED and updates[1].token_ids[1] == 4
    assert updates[1].edits == 1
    assert result.stats.edits >= 1 and result.token_ids[0] == 4


def test_threshold_unmasks_every_confident_slot_or_else_the_single_best():
    masked = torch.tensor([True, True, True, False])
    conf = torch.tensor([0.8, 0.6, 0.9, 0.99])
    assert policies.choose_unmask(masked, conf, 0.7).tolist() == [True, False, True, False]
    assert policies.choose_unmask(masked, conf, 0.95).tolist() == [False, False, True, False]


def test_unmasking_a_batch_of_rows_at_once_decides_as_each_row_alone():
    generator = torch.Generator().manual_seed(3)
    masked = torch.rand(6, 8, generator=generator) > 0.3
    masked[5] = False  # a row with nothing left to unmask
    conf = torch.rand(6, 8, generator=generator)
    conf[0, 1] = conf[0, 2]  # a tie goes to the left slot
    at_least = torch.tensor([1, 3, 2, 8, 1, 2])
    rows = policies.choose_unmask(masked, conf, 0.8, at_least)
    for i in range(6):
        alone = policies.choose_unmask(masked[i], conf[i], 0.8, int(at_least[i]))
        assert rows[i].tolist() == alone.tolist()
    assert rows[3].tolist() == masked[3].tolist()  # asked for more than are masked
    assert not rows[5].any()


def test_steps_cap_forces_enough_unmasking_to_finish_in_time():
    assert policies.min_unmask_for_steps(32, passes_done=0, steps=4) == 8
    assert policies.min_unmask_for_steps(5, passes_done=3, steps=4) == 5


def test_the_mask_token_is_never_proposed():
    logits = torch.zeros(4, 10)
    logits[:, 9] = 50.0  # the model loves the mask token
    proposal = policies.propose(logits, mask_id=9)
    assert (proposal.tokens != 9).all()
    sampled = policies.propose(logits, mask_id=9, temperature=1.5,
                               generator=torch.Generator().manual_seed(0))
    assert (sampled.tokens != 9).all()


def test_top_k_and_top_p_restrict_sampling_to_the_head_of_the_distribution():
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0]])
    assert torch.isinf(policies.filter_logits(logits, top_k=2)).tolist() == [
        [False, False, True, True, True]]
    kept = ~torch.isinf(policies.filter_logits(logits, top_p=0.8))
    assert kept[0, 0] and not kept[0, -1]


def test_events_stream_blocks_then_one_final_result(model):
    sampler = Sampler(model, mask_id=MASK, eos_ids=[])
    settings = DecodingSettings.for_mode("s", gen_length=64, eos_early_stop=False)
    events, result = run(sampler, random_prompt(10), settings,
                         detokenize=lambda t: f"<{t}>", decode=lambda ids: "x" * len(ids))
    finished = [e for e in events if isinstance(e, BlockFinished)]
    assert [e.block_index for e in finished] == [0, 1, 2]
    first = next(e for e in events if isinstance(e, BlockUpdated))
    assert first.states[:10] == (TokenState.PROMPT,) * 10
    assert all(p == "" for p, s in zip(first.pieces, first.states, strict=True)
               if s is TokenState.MASKED)
    assert result.stats.new_tokens == 64 and result.text == "x" * 64
    assert result.stats.tokens_per_forward == pytest.approx(64 / result.stats.forwards)


def test_cancelling_between_forwards_returns_the_partial_result(model):
    cancel = threading.Event()
    sampler = Sampler(model, mask_id=MASK, eos_ids=[])
    settings = DecodingSettings.for_mode("ar", gen_length=64)
    seen = 0
    result = None
    for event in sampler.generate(random_prompt(20), settings, cancel=cancel):
        if isinstance(event, BlockUpdated):
            seen += 1
            if seen == 5:
                cancel.set()
        if isinstance(event, GenerationFinished):
            result = event.result
    assert result is not None and result.cancelled and result.finish_reason == "cancelled"
    assert result.stats.forwards == 5 and result.stats.new_tokens == 5


def test_output_stops_at_the_first_eos():
    # After the 3-token prompt, position 3 is token 2 and everything later is EOS.
    def script(call, ids):
        T = ids.shape[0]
        return peaked([1, 1, 1, 2] + [14] * (T - 4), [0.99] * T)

    sampler = Sampler(ScriptedModel(script), mask_id=15, eos_ids=[14])
    settings = DecodingSettings.for_mode("s", gen_length=64, block_length=16)
    events, result = run(sampler, [1, 1, 1], settings, use_cache=False)
    assert result.token_ids == (2,) and result.finish_reason == "eos"
    assert sum(isinstance(e, BlockFinished) for e in events) == 1  # early stop after block 1


def test_prompt_longer_than_the_context_is_rejected_before_any_forward(model):
    settings = DecodingSettings.for_mode("q", gen_length=1024)
    with pytest.raises(PromptTooLongError, match="context is 4096"):
        next(Sampler(model, mask_id=MASK, eos_ids=[]).generate(random_prompt(3500), settings))


@pytest.mark.parametrize("change, message", [
    ({"threshold": 1.5}, r"threshold=1.5 is out of range: choose a value in \[0, 1\]"),
    ({"block_length": 8}, r"block_length=8 is out of range: choose a value in \[16, 128\]"),
    ({"gen_length": 0}, r"gen_length=0 is out of range"),
    ({"steps": 65}, r"steps=65 is out of range"),
    ({"temperature": -1.0}, r"temperature=-1.0 is out of range"),
    ({"top_p": 0.0}, r"top_p=0.0 is out of range"),
    ({"threshold": float("nan")}, r"threshold=nan is not a number"),
    ({"temperature": float("nan")}, r"temperature=nan is not a number"),
    ({"top_p": float("inf")}, r"top_p=inf is out of range"),
])
def test_out_of_range_parameters_are_rejected_naming_the_range(change, message):
    with pytest.raises(SettingsError, match=message):
        DecodingSettings.for_mode("q", **change)


def test_presets_match_the_card_and_the_mode_key_cycles():
    q, s = DecodingSettings.for_mode("q"), DecodingSettings.for_mode("s")
    assert (q.threshold, q.editing_threshold) == (0.7, 0.5)
    assert (s.threshold, s.editing_threshold) == (0.5, 0.0)
    assert Mode.QUALITY.next() is Mode.SPEED and Mode.AR.next() is Mode.QUALITY


def test_a_models_own_presets_update_the_cards_and_options_still_win():
    presets = {Mode.SPEED: {"threshold": 0.9}}
    s = DecodingSettings.for_mode("s", presets=presets)
    assert (s.threshold, s.editing_threshold) == (0.9, 0.0)  # the card's editing threshold
    assert DecodingSettings.for_mode("q", presets=presets).threshold == 0.7
    assert DecodingSettings.for_mode("s", presets=presets, threshold=0.6).threshold == 0.6


@pytest.mark.parametrize("raw, message", [
    ({"ar": {"threshold": 0.9}}, "only q and s have thresholds"),
    ({"s": {"temperature": 0.5}}, "may set only threshold and editing_threshold"),
    ({"s": {"threshold": 1.5}}, r"threshold=1.5 is out of range"),
    ({"s": {"threshold": "high"}}, "is not a number"),
    ([0.9], "must be an object"),
])
def test_a_models_presets_are_checked_naming_the_bad_entry(raw, message):
    with pytest.raises(SettingsError, match=message):
        parse_model_presets(raw)
