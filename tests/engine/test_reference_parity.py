"""Where decoding follows the LLaDA2.1 reference loop: confidences over the whole vocabulary,
sampling with the drawn token, the nucleus boundary. Expected values are computed directly here.
"""

from __future__ import annotations

import pytest
import torch

from noema_core.decoding import policies
from noema_core.decoding.events import BlockUpdated, TokenState
from noema_core.decoding.sampler import Sampler
from noema_core.decoding.settings import DecodingSettings
from noema_core.errors import SettingsError
from noema_core.model import block_causal_mask

from .conftest import tiny_model
from .scripted import ScriptedModel, peaked

MASK = 127


def test_greedy_confidence_is_the_full_softmax_probability_mask_included():
    logits = torch.randn(6, 20, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    logits[:, 19] = logits[:, :19].max(dim=-1).values - 0.1  # likely, never the argmax
    proposal = policies.propose(logits, mask_id=19)
    probs = torch.softmax(logits.float(), dim=-1)
    assert proposal.tokens.tolist() == logits.argmax(dim=-1).tolist()
    expected = probs.max(dim=-1).values
    assert torch.equal(proposal.confidence, expected)
    # Not renormalised without the mask: p / (1 - p_mask) would be far higher.
    assert (expected / (1 - probs[:, 19]) > 1.1 * proposal.confidence).all()


def test_when_the_mask_is_the_argmax_the_best_other_token_keeps_its_full_probability():
    logits = torch.tensor([[1.0, 3.0, 2.0, 5.0]])  # mask id 3 is the model's favourite
    proposal = policies.propose(logits, mask_id=3)
    assert proposal.tokens.tolist() == [1]
    assert proposal.confidence.item() == pytest.approx(torch.softmax(logits, -1)[0, 1].item())


def test_unmask_confidences_are_the_models_softmax_over_the_whole_vocabulary():
    model = tiny_model(seed=2)
    prompt = torch.randint(0, 100, (40,), generator=torch.Generator().manual_seed(1)).tolist()
    settings = DecodingSettings.for_mode("s", gen_length=24, eos_early_stop=False)
    sampler = Sampler(model, mask_id=MASK, eos_ids=[])
    first = next(e for e in sampler.generate(prompt, settings) if isinstance(e, BlockUpdated))
    canvas = torch.tensor(prompt + [MASK] * 24)[None]
    with torch.inference_mode():
        logits = model(canvas, mask=block_causal_mask(64, 32))[0, 32:64]
    probs = torch.softmax(logits.float(), dim=-1)
    probs[:, MASK] = -1.0  # the mask token is never proposed: take the best other token
    best, conf = probs.argmax(dim=-1), probs.max(dim=-1).values
    unmasked = [i for i, s in enumerate(first.states) if s is TokenState.UNMASKED]
    assert unmasked
    for i in unmasked:
        assert first.token_ids[i] == best[i].item()
        assert first.confidences[i] == round(conf[i].item(), 4)


def test_sampling_draws_from_the_filtered_distribution_and_reports_that_probability():
    logits = torch.tensor([[2.0, 1.5, 1.0, 0.0, -1.0, 1.8]]).repeat(4000, 1)  # mask id 5
    temperature, top_p = 0.7, 0.9
    filtered = policies.filter_logits(logits[:1] / temperature, top_p=top_p)
    probs = torch.softmax(filtered, dim=-1)[0]
    proposal = policies.propose(logits, mask_id=5, temperature=temperature, top_p=top_p,
                                generator=torch.Generator().manual_seed(0))
    assert (proposal.tokens != 5).all()
    assert torch.equal(proposal.confidence, probs[proposal.tokens])  # not the renormalised one
    # Given that the drawn token is not the mask, it follows the filtered distribution.
    counts = torch.bincount(proposal.tokens, minlength=6).double() / 4000
    expected = probs.double().clone()
    expected[5] = 0
    expected /= expected.sum()
    assert torch.allclose(counts, expected, atol=0.03)
    assert counts[3] == 0 and counts[4] == 0  # outside the nucleus


def test_sampling_with_a_fixed_seed_repeats():
    logits = torch.randn(32, 50, generator=torch.Generator().manual_seed(0))
    a, b = (policies.propose(logits, mask_id=49, temperature=1.2, top_k=10,
                             generator=torch.Generator().manual_seed(7)) for _ in range(2))
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.confidence, b.confidence)


def test_edits_use_the_sampled_token_and_its_probability_when_sampling():
    # Every slot is unmasked as 3 by the first forward; afterwards slot 1 (right after the
    # 1-token prompt) is torn between 3 (0.5) and 4 (0.45). The argmax never changes, so only
    # the sampled token can edit it, as the reference's loop does.
    def script(call, ids):
        T = ids.shape[0]
        if call == 0:
            return peaked([0] + [3] * (T - 1), [0.1] + [0.99] * (T - 1))
        rows = peaked([0] + [3] * (T - 1), [0.1] + [0.99] * (T - 1))
        probs = torch.full((16,), 0.05 / 14, dtype=torch.float64)
        probs[3], probs[4] = 0.5, 0.45
        rows[1] = probs.log()
        return rows

    settings = DecodingSettings.for_mode("q", gen_length=16, block_length=16, temperature=1.0,
                                         editing_threshold=0.4, seed=11)
    events = list(Sampler(ScriptedModel(script), mask_id=15, eos_ids=[]).generate(
        [1], settings, use_cache=False))
    edits = [e for e in events if isinstance(e, BlockUpdated)
             and e.states[1] is TokenState.EDITED]
    assert edits, "slot 1 was never edited"
    assert {(e.token_ids[1], e.confidences[1]) for e in edits} <= {(4, 0.45), (3, 0.5)}
    assert (4, 0.45) in {(e.token_ids[1], e.confidences[1]) for e in edits}


def test_the_nucleus_keeps_a_token_while_the_mass_before_it_is_at_most_top_p():
    logits = torch.tensor([[3.0, 2.0, 1.0, 0.0]])
    p0 = torch.softmax(logits, -1)[0, 0].item()
    kept = ~torch.isinf(policies.filter_logits(logits, top_p=p0))  # a tie at the boundary
    assert kept.tolist() == [[True, True, False, False]]
    kept = ~torch.isinf(policies.filter_logits(logits, top_p=p0 * 0.999))
    assert kept.tolist() == [[True, False, False, False]]


@pytest.mark.parametrize("top_p", [1e-300, 1e-46, 5e-324, 1e-10])
def test_a_tiny_top_p_keeps_the_top_token_instead_of_crashing(top_p):
    logits = torch.randn(8, 30, generator=torch.Generator().manual_seed(1))
    kept = ~torch.isinf(policies.filter_logits(logits, top_p=top_p))
    assert kept.sum(dim=-1).tolist() == [1] * 8
    assert kept.float().argmax(dim=-1).tolist() == logits.argmax(dim=-1).tolist()
    proposal = policies.propose(logits, mask_id=29, temperature=1.5, top_p=top_p,
                                generator=torch.Generator().manual_seed(0))
    best = logits.clone()
    best[:, 29] = float("-inf")
    assert proposal.tokens.tolist() == best.argmax(dim=-1).tolist()


def test_a_tiny_top_p_decodes_end_to_end():
    settings = DecodingSettings.for_mode("s", gen_length=40, temperature=1.5, top_p=1e-300,
                                         seed=0)
    events = list(Sampler(tiny_model(seed=2), mask_id=MASK, eos_ids=[]).generate(
        list(range(10)), settings))
    result = events[-1].result
    assert len(result.token_ids) == 40 and MASK not in result.token_ids


def test_num_to_transfer_commits_exactly_that_many_when_too_few_clear_the_threshold():
    masked = torch.tensor([True, True, True, True, True, False])
    conf = torch.tensor([0.8, 0.3, 0.6, 0.2, 0.5, 0.99])
    # One clears 0.7: the three most confident masks go, as the reference's top-k does.
    assert policies.choose_unmask(masked, conf, 0.7, at_least=3).tolist() == [
        True, False, True, False, True, False]
    # Enough clear the threshold: every one of them, however many.
    assert policies.choose_unmask(masked, conf, 0.4, at_least=2).tolist() == [
        True, False, True, False, True, False]


def unsure_script(call, ids):
    """Every slot unsure (below any preset threshold), slot i a little surer than slot i+1."""
    T = ids.shape[0]
    return peaked([(i % 13) + 1 for i in range(T)], [0.3 - 0.01 * (i % 16) for i in range(T)])


@pytest.mark.parametrize("overrides, forwards, per_pass", [
    ({}, 16, 1),  # the reference's default: one per pass
    ({"num_to_transfer": 4}, 4, 4),
    ({"steps": 4}, 4, 4),  # Noema's cap on unmasking passes
    ({"num_to_transfer": 3, "steps": 8}, 6, None),  # 3 a pass, raised to meet the cap
])
def test_num_to_transfer_and_steps_set_how_many_masks_a_pass_commits(overrides, forwards,
                                                                     per_pass):
    settings = DecodingSettings.for_mode("q", gen_length=16, block_length=16, max_post_steps=0,
                                         **overrides)
    events = list(Sampler(ScriptedModel(unsure_script), mask_id=15, eos_ids=[]).generate(
        list(range(16)), settings, use_cache=False))
    updates = [e for e in events if isinstance(e, BlockUpdated)]
    assert len(updates) == forwards
    committed = [sum(s is TokenState.UNMASKED for s in e.states) for e in updates]
    assert sum(committed) == 16
    if per_pass:
        assert committed == [per_pass] * forwards
    # The most confident masks go first: slot order here.
    first = [i for i, s in enumerate(updates[0].states) if s is TokenState.UNMASKED]
    assert first == list(range(len(first)))


def test_num_to_transfer_is_validated():
    with pytest.raises(SettingsError, match=r"num_to_transfer=0 is out of range"):
        DecodingSettings.for_mode("s", num_to_transfer=0)


def role_end_script(call, ids):
    """After a 1-token prompt: 2, 3, the role end (13), 4, 5, then EOS (14) to the end."""
    T = ids.shape[0]
    return peaked([1, 2, 3, 13, 4, 5] + [14] * (T - 6), [0.99] * T)


@pytest.mark.parametrize("stop_at_role_end, expected", [
    (True, (2, 3)),
    (False, (2, 3, 13, 4, 5)),  # the reference: EOS only
])
def test_the_role_end_stops_a_reply_unless_turned_off(stop_at_role_end, expected):
    settings = DecodingSettings.for_mode("s", gen_length=32, block_length=16,
                                         stop_at_role_end=stop_at_role_end)
    sampler = Sampler(ScriptedModel(role_end_script), mask_id=15, eos_ids=[14], role_end_id=13)
    result = list(sampler.generate([1], settings, use_cache=False))[-1].result
    assert result.token_ids == expected and result.finish_reason == "eos"


def test_the_role_end_is_a_stop_only_where_the_chat_template_closes_turns_with_it(tmp_path):
    from transformers import PreTrainedTokenizerFast

    from noema_core.tokenizer import NoemaTokenizer

    from .conftest import write_tokenizer

    write_tokenizer(tmp_path)
    hf = PreTrainedTokenizerFast.from_pretrained(str(tmp_path))
    closing = NoemaTokenizer(hf)
    assert closing.turn_end_id == closing.role_end_id
    hf.chat_template = ("{% for m in messages %}<role>{{ m['role'] }}</role>{{ m['content'] }}"
                        "\n{% endfor %}")
    assert NoemaTokenizer(hf).turn_end_id is None


def test_the_engine_stops_at_the_role_end_of_its_chat_template(tiny_checkpoint):
    from noema_core.engine import Engine

    engine = Engine.load(str(tiny_checkpoint), device="cpu")
    role_end, eos = engine.tokenizer.role_end_id, engine.tokenizer.eos_id
    assert engine.sampler.stop_ids(DecodingSettings()) == {eos, role_end}
    assert engine.sampler.stop_ids(DecodingSettings(stop_at_role_end=False)) == {eos}
