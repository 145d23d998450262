"""`attention="card"`: the published generate() loop's additive 0/1 mask, token for token.

The oracle below is written here from the loop's description (not from its code): per block,
forward the whole window up to the block's end with the block-causal 0/1 matrix cast to the
model dtype as an additive mask (or the boolean block-causal mask); take the argmax and its
probability over the whole vocabulary; unmask masks above `threshold`, or exactly the
`num_to_transfer` most confident when fewer clear it; edit unmasked, non-prompt slots whose
argmax differs with probability above `editing_threshold`; after the masks are gone run at most
`max_post_steps` edit-only passes, stopping at the first pass without an edit.
"""

from __future__ import annotations

import pytest
import torch

from noema_core.decoding.sampler import Sampler
from noema_core.decoding.settings import Attention, DecodingSettings
from noema_core.errors import SettingsError
from noema_core.model import block_causal_mask, card_attention_bias

from .conftest import tiny_model

MASK, EOS = 127, 126
MAX_FORWARDS = 400  # the published loop never ends a block whose argmax is the mask


def published_loop(model, prompt, *, additive, gen_length, block_length, threshold,
                   editing_threshold, max_post_steps, num_to_transfer=1):
    B, P = block_length, len(prompt)
    n_blocks = -(-(P + gen_length) // B)
    tril = torch.tril(torch.ones(n_blocks, n_blocks))
    zero_one = tril.repeat_interleave(B, dim=0).repeat_interleave(B, dim=1)[None, None]
    mask = zero_one.to(model.lm_head.weight.dtype) if additive else zero_one.bool()
    x = torch.full((n_blocks * B,), MASK)
    x[:P] = torch.tensor(prompt)
    forwards = 0
    for block in range(P // B, n_blocks):
        lo, end = block * B, (block + 1) * B
        prompt_slot = torch.arange(lo, end) < P
        post_steps = 0
        while True:
            current = x[lo:end].clone()
            masked = current == MASK
            if not masked.any():
                post_steps += 1
                if post_steps > max_post_steps:
                    break
            assert forwards < MAX_FORWARDS, "the published loop did not finish"
            with torch.inference_mode():
                logits = model(x[None, :end], mask=mask[..., :end, :end])[0, lo:end]
            forwards += 1
            conf, token = torch.softmax(logits.float(), dim=-1).max(dim=-1)
            assert not (token == MASK).any(), "the mask is an argmax: the loops part ways"
            unmask = torch.zeros(B, dtype=torch.bool)
            if masked.any():
                candidates = torch.where(masked, conf, float("-inf"))
                high = candidates > threshold
                if int(high.sum()) >= num_to_transfer:
                    unmask = high
                else:
                    unmask[candidates.topk(min(num_to_transfer, int(masked.sum()))).indices] = True
            edit = ~masked & ~prompt_slot & (token != current) & (conf > editing_threshold)
            x[lo:end] = torch.where(unmask | edit, token, current)
            if not masked.any() and not edit.any():
                break
    out = x[P:P + gen_length].tolist()
    return (out[:out.index(EOS)] if EOS in out else out), forwards


@pytest.fixture(scope="module")
def confident_model():
    """A tiny random model with peaked predictions (some above every threshold) whose mask
    logit is 0, below the best of the 127 others, so the mask is never the argmax."""
    model = tiny_model(seed=4)
    with torch.no_grad():
        model.lm_head.weight.mul_(25.0)
        model.lm_head.weight[MASK] = 0.0
    return model


CASES = {
    "q": dict(mode="q"),
    "s": dict(mode="s"),
    "low thresholds, two a pass": dict(mode="s", threshold=0.3, editing_threshold=0.2,
                                       num_to_transfer=2, max_post_steps=4),
}


@pytest.mark.parametrize("attention", list(Attention))
@pytest.mark.parametrize("case", list(CASES))
def test_decoding_matches_the_published_loop_token_for_token(confident_model, case, attention):
    settings = DecodingSettings.for_mode(**CASES[case], gen_length=40, block_length=16,
                                         eos_early_stop=False, attention=attention)
    prompt = torch.randint(0, 100, (21,), generator=torch.Generator().manual_seed(5)).tolist()
    expected, forwards = published_loop(
        confident_model, prompt, additive=attention is Attention.CARD, gen_length=40,
        block_length=16, threshold=settings.threshold,
        editing_threshold=settings.editing_threshold, max_post_steps=settings.max_post_steps,
        num_to_transfer=settings.num_to_transfer)
    sampler = Sampler(confident_model, mask_id=MASK, eos_ids=[EOS])
    result = list(sampler.generate(prompt, settings))[-1].result
    assert list(result.token_ids) == expected
    assert result.stats.forwards == forwards


def test_the_card_mask_gives_other_tokens_than_block_causal_attention(confident_model):
    prompt = torch.randint(0, 100, (21,), generator=torch.Generator().manual_seed(5)).tolist()
    outputs = []
    for attention in Attention:
        settings = DecodingSettings.for_mode("s", gen_length=40, block_length=16,
                                             eos_early_stop=False, attention=attention)
        sampler = Sampler(confident_model, mask_id=MASK, eos_ids=[EOS])
        outputs.append(list(sampler.generate(prompt, settings))[-1].result.token_ids)
    assert outputs[0] != outputs[1]


def test_the_card_bias_is_added_so_earlier_blocks_see_later_ones():
    bias = card_attention_bias(8, 4, dtype=torch.float32)[0, 0]
    assert bias.dtype == torch.float32
    assert bias[5, 2] == 1 and bias[2, 5] == 0 and bias[0, 3] == 1  # 0, not -inf: visible
    model = tiny_model(seed=1)
    ids = torch.randint(0, 120, (1, 64), generator=torch.Generator().manual_seed(0))
    changed = ids.clone()
    changed[0, 40:] = (changed[0, 40:] + 1) % 120  # the second block only
    for mask, first_block_moves in ((card_attention_bias(64, 32, dtype=torch.float64), True),
                                    (block_causal_mask(64, 32), False)):
        with torch.inference_mode():
            before, after = model(ids, mask=mask)[0, :32], model(changed, mask=mask)[0, :32]
        assert (not torch.equal(before, after)) is first_block_moves


def test_the_card_attention_never_uses_the_cache(confident_model):
    settings = DecodingSettings.for_mode("s", gen_length=24, block_length=16, attention="card")
    sampler = Sampler(confident_model, mask_id=MASK, eos_ids=[EOS])
    list(sampler.generate(list(range(20)), settings))
    assert sampler.cache is None


def test_an_unknown_attention_is_refused_naming_the_choices():
    assert DecodingSettings(attention="card").attention is Attention.CARD
    with pytest.raises(SettingsError, match="attention='causal' is unknown: choose "
                                            "block-causal or card"):
        DecodingSettings(attention="causal")
