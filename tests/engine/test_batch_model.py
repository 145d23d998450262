"""The position-addressed forward: rows at different blocks in one batch, each as if alone."""

from __future__ import annotations

import pytest
import torch

from noema_core.config import noema_tiny_shape
from noema_core.loading import build_model
from noema_core.model import KVCache, block_causal_mask, positional_block_mask, rope_angles

from .conftest import tiny_model

BL = 32


@pytest.fixture(scope="module")
def model():
    return tiny_model(seed=4)


def _ids(n: int, seed: int) -> torch.Tensor:
    return torch.randint(0, 120, (n,), generator=torch.Generator().manual_seed(seed))


def _alone(model, prefix: torch.Tensor, block: torch.Tensor) -> tuple[torch.Tensor, KVCache]:
    """The block's logits on the existing cache-end path: prefill `prefix`, then the block."""
    cache = KVCache(model.config, 256, dtype=torch.float64)
    n = len(prefix)
    model(prefix[None], mask=block_causal_mask(n, BL), cache=cache, logits_slice=slice(0, 0))
    cache.commit(prefix.tolist())
    return model(block[None], start=n, cache=cache)[0], cache


def _assert_each_row_as_alone(model, prefixes, blocks, logits, cache) -> None:
    for row in range(len(prefixes)):
        alone, alone_cache = _alone(model, prefixes[row], blocks[row])
        torch.testing.assert_close(logits[row], alone, rtol=0, atol=1e-12)
        # The row's K/V sit at its own positions, as the cache-end path wrote them.
        end = len(prefixes[row]) + BL
        torch.testing.assert_close(cache.k[:, row, :, :end], alone_cache.k[:, 0, :, :end],
                                   rtol=0, atol=1e-12)


def test_a_batched_forward_of_rows_at_different_positions_equals_each_row_alone(model):
    # Row 0 decodes its third block (positions 64..95), row 1 its second (32..63).
    prefixes = [_ids(64, 0), _ids(32, 1)]
    blocks = [_ids(BL, 2), _ids(BL, 3)]
    cache = KVCache(model.config, 256, batch=2, dtype=torch.float64)
    # Prefill both prefixes padded to 64: row 1's second block holds junk it has not reached.
    padded = torch.stack([prefixes[0], torch.cat([prefixes[1], _ids(32, 9)])])
    pos = torch.arange(64).expand(2, 64)
    assert model(padded, positions=pos, cache=cache, mask=positional_block_mask(pos, 64, BL),
                 attend=64, logits_slice=slice(0, 0)) is None
    pos = torch.stack([torch.arange(64, 96), torch.arange(32, 64)])
    logits = model(torch.stack(blocks), positions=pos, cache=cache, attend=96,
                   mask=positional_block_mask(pos, 96, BL))
    _assert_each_row_as_alone(model, prefixes, blocks, logits, cache)


def test_a_rows_prompt_blocks_beside_its_first_block_fill_its_cache_row_in_one_forward(model):
    # Cache row 0 decodes block 1 over an already cached block 0; cache row 1 is new: its
    # two prompt blocks ride along as extra input rows mapped to it (`extra_rows`) beside its
    # first decoding block (positions 64..95), and only the cache's two rows get logits.
    prefixes = [_ids(32, 10), _ids(64, 11)]
    blocks = [_ids(BL, 12), _ids(BL, 13)]
    cache = KVCache(model.config, 128, batch=2, dtype=torch.float64)
    pos = torch.arange(32)[None]
    model(prefixes[0][None], positions=pos, cache=cache,
          mask=positional_block_mask(pos, 32, BL), attend=32, logits_slice=slice(0, 0))
    ids = torch.stack([blocks[0], blocks[1], prefixes[1][:32], prefixes[1][32:]])
    pos = torch.stack([torch.arange(32, 64), torch.arange(64, 96), torch.arange(32),
                       torch.arange(32, 64)])
    logits = model(ids, positions=pos, cache=cache, attend=96,
                   extra_rows=torch.tensor([1, 1]),
                   mask=positional_block_mask(pos, 96, BL))
    assert logits.shape[0] == 2
    _assert_each_row_as_alone(model, prefixes, blocks, logits, cache)


def test_keys_past_a_rows_block_are_masked_whatever_the_cache_holds_there(model):
    prefix, block = _ids(32, 5), _ids(BL, 6)
    pos = torch.arange(32, 64)[None]
    results = []
    for junk in (0.0, 1e3):
        cache = KVCache(model.config, 128, dtype=torch.float64)
        cache.k.fill_(junk)
        cache.v.fill_(junk)
        full = torch.arange(32)[None]
        model(prefix[None], positions=full, cache=cache, attend=32,
              mask=positional_block_mask(full, 32, BL), logits_slice=slice(0, 0))
        results.append(model(block[None], positions=pos, cache=cache, attend=128,
                             mask=positional_block_mask(pos, 128, BL))[0])
    torch.testing.assert_close(results[0], results[1], rtol=0, atol=0)
    torch.testing.assert_close(results[0], _alone(model, prefix, block)[0], rtol=0, atol=1e-12)


def test_positional_block_mask_matches_block_causal_mask():
    for query_start, length in [(0, 96), (32, 96), (64, 96), (40, 70)]:
        pos = torch.arange(query_start, length)[None]
        torch.testing.assert_close(positional_block_mask(pos, length, BL),
                                   block_causal_mask(length, BL, query_start=query_start))
    # Rows at different blocks, one mask: each row's own pattern.
    pos = torch.stack([torch.arange(0, 4), torch.arange(8, 12)])
    mask = positional_block_mask(pos, 12, 4)
    assert mask.shape == (2, 1, 4, 12)
    assert mask[0, 0, :, :4].all() and not mask[0, 0, :, 4:].any()
    assert mask[1, 0].all()


def test_rope_for_per_row_positions_equals_each_rows_own():
    pos = torch.stack([torch.arange(5, 12), torch.arange(100, 107)])
    cos, sin = rope_angles(pos, 8, 10000.0)
    assert cos.shape == (2, 1, 7, 8)
    for row in range(2):
        c, s = rope_angles(pos[row], 8, 10000.0)
        torch.testing.assert_close(cos[row, 0], c, rtol=0, atol=0)
        torch.testing.assert_close(sin[row, 0], s, rtol=0, atol=0)


def test_moving_cache_rows_copies_them_in_place_and_leaves_the_others(model):
    cache = KVCache(model.config, 64, batch=4, dtype=torch.float64)
    cache.k.normal_()
    cache.v.normal_()
    before_k, before_v = cache.k.clone(), cache.v.clone()
    storage = cache.k.data_ptr()
    cache.move_rows([3, 2], [0, 1])
    assert cache.k.data_ptr() == storage  # in place: the cache is not reallocated
    for source, target in ((3, 0), (2, 1)):
        torch.testing.assert_close(cache.k[:, target], before_k[:, source], rtol=0, atol=0)
        torch.testing.assert_close(cache.v[:, target], before_v[:, source], rtol=0, atol=0)
    torch.testing.assert_close(cache.k[:, 2:], before_k[:, 2:], rtol=0, atol=0)


def test_in_float32_each_rows_logits_are_bitwise_those_it_gets_alone():
    # Matrix libraries round a product of a few rows differently from one of many; an
    # expert sees a few rows at batch 1 and many in a batch. Greedy decoding breaks a
    # near-tie the same way only if the logits are the same to the bit.
    model = build_model(noema_tiny_shape(vocab_size=128), torch.float32,
                        torch.device("cpu"), seed=7).stack_experts()
    rows = 6
    prefixes = [_ids(64, 20 + r) for r in range(rows)]
    blocks = [_ids(BL, 40 + r) for r in range(rows)]
    with torch.no_grad():
        cache = KVCache(model.config, 128, batch=rows)
        pos = torch.arange(64).expand(rows, 64)
        model(torch.stack(prefixes), positions=pos, cache=cache, attend=64,
              mask=positional_block_mask(pos, 64, BL), logits_slice=slice(0, 0))
        pos = torch.arange(64, 96).expand(rows, BL)
        logits = model(torch.stack(blocks), positions=pos, cache=cache, attend=96,
                       mask=positional_block_mask(pos, 96, BL))
        for row in range(rows):
            alone = KVCache(model.config, 128)
            model(prefixes[row][None], mask=block_causal_mask(64, BL), cache=alone,
                  logits_slice=slice(0, 0))
            alone.commit(prefixes[row].tolist())
            assert torch.equal(logits[row], model(blocks[row][None], start=64, cache=alone)[0])


def test_an_experts_output_for_a_token_does_not_depend_on_the_tokens_routed_beside_it():
    moe = build_model(noema_tiny_shape(vocab_size=128), torch.float32, torch.device("cpu"),
                      seed=3).stack_experts().model.layers[1].mlp
    x = torch.randn(256, moe.gate.weight.shape[1], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        together = moe(x[None])[0]
        for n in (32, 64):  # a block or two: some experts get only a row or three
            assert torch.equal(moe(x[None, :n])[0], together[:n])
