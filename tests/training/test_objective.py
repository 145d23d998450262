"""The training objective: canvases laid out as at inference, side-by-side attention, noise."""

from __future__ import annotations

import torch

from noema_core.training.objective import (
    NoiseConfig,
    add_noise,
    collate,
    dual_stream_mask,
    make_example,
)

MASK, EOS = 99, 98


def test_canvas_is_prompt_answer_then_eos_to_the_end_of_a_block_with_at_least_one_eos():
    example = make_example(list(range(10)), list(range(20, 42)), EOS, 32)
    assert len(example.ids) == 64 and example.ids[32:] == [EOS] * 32  # 10 + 22 fills block 0
    short = make_example(list(range(10)), [5] * 3, EOS, 32)
    assert len(short.ids) == 32 and short.ids[13:] == [EOS] * 19 and short.prompt_length == 10


def test_noisy_blocks_see_earlier_clean_blocks_and_themselves_only():
    mask = dual_stream_mask(64, 32)[0, 0]  # noisy 0..63, clean 64..127
    noisy_b1, clean_b0, clean_b1, noisy_b0 = 40, 64 + 5, 64 + 40, 5
    assert mask[noisy_b1, clean_b0] and mask[noisy_b1, noisy_b1 + 3]
    assert not mask[noisy_b1, clean_b1]  # its own clean copy would leak the answer
    assert not mask[noisy_b1, noisy_b0]  # earlier blocks are seen clean, not noisy
    assert mask[clean_b1, clean_b0] and not mask[clean_b0, clean_b1]
    assert not mask[64:, :64].any()  # the clean copy never looks at noise


def test_noise_touches_only_answer_slots_and_spans_a_wide_range_of_mask_ratios():
    torch.manual_seed(0)
    clean = torch.randint(0, 90, (64, 64))
    answer = torch.zeros(64, 64, dtype=torch.bool)
    answer[:, 20:] = True
    noisy = add_noise(clean, answer, block_length=32, mask_id=MASK, vocab_size=100,
                      special_ids={MASK, EOS}, noise=NoiseConfig(),
                      generator=torch.Generator().manual_seed(1))
    assert torch.equal(noisy[:, :20], clean[:, :20])  # the prompt is never noised
    masked = noisy[:, 32:] == MASK
    ratios = masked.float().mean(1)
    assert ratios.min() < 0.25 and ratios.max() > 0.85
    corrupted = (noisy != clean) & (noisy != MASK)
    assert corrupted.any() and not (noisy[corrupted] == EOS).any()


def test_a_batch_trains_every_answer_block_in_one_forward():
    examples = [make_example([1, 2, 3], [4] * 40, EOS, 32), make_example([1, 2], [5] * 5, EOS, 32)]
    batch = collate(examples, block_length=32, mask_id=MASK, eos_id=EOS, vocab_size=100,
                    special_ids={MASK, EOS}, noise=NoiseConfig(),
                    generator=torch.Generator().manual_seed(0))
    assert batch.input_ids.shape == (2, 128) and batch.targets.shape == (2, 64)
    assert batch.loss_mask[0, 3:].all() and not batch.loss_mask[0, :3].any()
    assert not batch.loss_mask[1, 32:].any()  # padding beyond the second canvas is not trained
    assert torch.equal(batch.input_ids[:, 64:], batch.targets)
    assert batch.positions.tolist() == list(range(64)) * 2
