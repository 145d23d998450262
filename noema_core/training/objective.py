"""The training objective, matched to how the sampler decodes.

A training canvas is laid out exactly as at inference: the rendered chat prompt (P tokens, not
padded), the answer, then EOS filling up to the end of the last block (at least one EOS).
The model sees two copies of the canvas side by side, both at positions 0..L-1:

    noisy copy: every answer block independently masked (ratio drawn from a wide range) and
                partly corrupted with random tokens, so the model learns to unmask and to edit;
    clean copy: the true tokens, standing in for the KV cache of finished blocks.

Attention (True = may attend), with b(i) = i // block_length:
    clean i -> clean j   iff b(j) <= b(i)     (block-causal, as the cache was built)
    noisy i -> clean j   iff b(j) <  b(i)     (earlier blocks are clean and final)
    noisy i -> noisy j   iff b(j) == b(i)     (the active block, bidirectionally)
    clean i -> noisy j   never
so every answer block is trained as the active block in one forward. The loss is cross-entropy
on every answer slot of the noisy copy (masked, corrupted and clean alike): clean slots teach
the model to keep a right token, which S-mode's editing threshold of 0 relies on.

A canvas that continues a conversation also trains its earlier answers, where the sampler
decoded them: blocks are aligned at absolute positions (block b is b*block_length..), and the
prompt of turn k is a prefix of the final prompt, so an earlier answer's blocks sit in the
canvas at the positions it was decoded at, after the same clean context. Their slots are noised
in the noisy copy only; the clean copy keeps them clean, so every later block, the final
answer's included, sees them as at inference (as finished, cached text).

Shape letters: B batch, L canvas length (a multiple of the block length), V vocabulary.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from noema_core.model import NoemaModel


@dataclass(frozen=True)
class NoiseConfig:
    min_mask_ratio: float = 0.05  # per block, the mask ratio is uniform in [min, 1]
    corrupt_block_share: float = 0.5  # share of blocks that also get random-token corruption
    max_corrupt_ratio: float = 0.25  # corruption ratio of such a block, uniform in [0, max]
    copy_corruption_share: float = 0.5  # corrupt with a token taken from the same canvas


@dataclass
class Example:
    ids: list[int]  # the full canvas: prompt, answer, EOS fill
    prompt_length: int
    # Token spans [start, end) of earlier answers inside the prompt that are trained too:
    # only their whole blocks (`whole_blocks`), each starting where its answer starts.
    earlier_answers: list[tuple[int, int]] = field(default_factory=list)


def whole_blocks(start: int, end: int, block_length: int) -> tuple[int, int] | None:
    """The part of the earlier answer at [start, end) that can be trained faithfully: up to
    the start of the block it ends in, or None if nothing is left.

    When the sampler decoded that answer, its last block held the answer's tail and then EOS
    (masks while it decoded); in the conversation's canvas the same block holds the tail, the
    template's <|role_end|> and the start of the next user turn. Trained there, the answer's
    slots would see the next question in their own block, which they never could at decode
    time, and learn <|role_end|> where the model writes EOS; so that block is left out. Its
    first block is faithful: the slots before the answer are the same prompt tokens either way.
    An answer that ends exactly at a block boundary keeps all its blocks."""
    cut = end // block_length * block_length
    return (start, cut) if cut > start else None


def make_example(prompt_ids: list[int], answer_ids: list[int], eos_id: int,
                 block_length: int, earlier_answers: Iterable[tuple[int, int]] = ()
                 ) -> Example:
    """The canvas for `answer` after `prompt_ids`; `earlier_answers` are the token spans of
    answers already in the prompt (answer tokens only), kept where `whole_blocks` leaves any."""
    used = len(prompt_ids) + len(answer_ids) + 1  # at least one EOS
    length = math.ceil(used / block_length) * block_length
    fill = length - len(prompt_ids) - len(answer_ids)
    spans = [kept for start, end in earlier_answers
             if (kept := whole_blocks(start, end, block_length)) is not None]
    return Example(prompt_ids + answer_ids + [eos_id] * fill, len(prompt_ids), spans)


def dual_stream_mask(length: int, block_length: int, device: torch.device | str = "cpu"
                     ) -> Tensor:
    """Bool [1, 1, 2L, 2L] for the noisy copy (first L) followed by the clean copy."""
    block = torch.arange(length, device=device) // block_length
    same = block[:, None] == block[None, :]
    earlier = block[None, :] < block[:, None]
    causal = earlier | same
    top = torch.cat([same, earlier], dim=1)  # noisy queries: noisy keys, clean keys
    bottom = torch.cat([torch.zeros_like(same), causal], dim=1)  # clean queries
    return torch.cat([top, bottom], dim=0)[None, None]


@dataclass
class Batch:
    input_ids: Tensor  # [B, 2L] noisy copy then clean copy
    positions: Tensor  # [2L]
    targets: Tensor  # [B, L] true tokens of the canvas
    loss_mask: Tensor  # [B, L] True on answer slots: the answer, its EOS fill, earlier answers
    attention_mask: Tensor  # [1, 1, 2L, 2L]

    def to(self, device: torch.device) -> Batch:
        return Batch(*(t.to(device, non_blocking=True) for t in (
            self.input_ids, self.positions, self.targets, self.loss_mask, self.attention_mask)))

    @property
    def tokens(self) -> int:
        return int(self.loss_mask.sum())


def collate(examples: list[Example], *, block_length: int, mask_id: int, eos_id: int,
            vocab_size: int, special_ids: set[int], noise: NoiseConfig,
            generator: torch.Generator) -> Batch:
    """Pad to a common length (with EOS, outside the loss) and noise the answer blocks, the
    earlier answers' whole blocks included (in the noisy copy; the clean copy stays clean)."""
    L = max(len(e.ids) for e in examples)
    B = len(examples)
    clean = torch.full((B, L), eos_id, dtype=torch.long)
    loss_mask = torch.zeros(B, L, dtype=torch.bool)
    for i, e in enumerate(examples):
        clean[i, :len(e.ids)] = torch.tensor(e.ids)
        loss_mask[i, e.prompt_length:len(e.ids)] = True
        for start, end in e.earlier_answers:
            loss_mask[i, start:end] = True
    noisy = add_noise(clean, loss_mask, block_length=block_length, mask_id=mask_id,
                      vocab_size=vocab_size, special_ids=special_ids, noise=noise,
                      generator=generator)
    positions = torch.arange(L).repeat(2)
    return Batch(torch.cat([noisy, clean], dim=1), positions, clean, loss_mask,
                 dual_stream_mask(L, block_length))


def add_noise(clean: Tensor, answer: Tensor, *, block_length: int, mask_id: int,
              vocab_size: int, special_ids: set[int], noise: NoiseConfig,
              generator: torch.Generator) -> Tensor:
    """Mask and corrupt the answer slots of `clean` [B, L], one ratio per (row, block)."""
    B, L = clean.shape
    n_blocks = L // block_length

    def per_block(values: Tensor) -> Tensor:  # [B, n_blocks] -> [B, L]
        return values.repeat_interleave(block_length, dim=1)

    def uniform(*shape: int) -> Tensor:
        return torch.rand(*shape, generator=generator)

    mask_ratio = per_block(noise.min_mask_ratio + (1 - noise.min_mask_ratio) *
                           uniform(B, n_blocks))
    corrupt_ratio = per_block(noise.max_corrupt_ratio * uniform(B, n_blocks) *
                              (uniform(B, n_blocks) < noise.corrupt_block_share))
    masked = answer & (uniform(B, L) < mask_ratio)
    corrupted = answer & ~masked & (uniform(B, L) < corrupt_ratio)

    ordinary = torch.tensor([t for t in range(vocab_size) if t not in special_ids])
    random_tokens = ordinary[torch.randint(len(ordinary), (B, L), generator=generator)]
    # A token copied from elsewhere in the same canvas: the plausible kind of mistake.
    copied = clean.gather(1, torch.randint(L, (B, L), generator=generator))
    use_copy = uniform(B, L) < noise.copy_corruption_share
    replacement = torch.where(use_copy, copied, random_tokens)

    noisy = torch.where(corrupted, replacement, clean)
    return noisy.masked_fill(masked, mask_id)


def loss_fn(model: NoemaModel, batch: Batch) -> Tensor:
    """Mean cross-entropy over the answer slots of the noisy copy."""
    L = batch.targets.shape[1]
    logits = model(batch.input_ids, mask=batch.attention_mask, positions=batch.positions,
                   logits_slice=slice(0, L))  # [B, L, V]
    picked = logits[batch.loss_mask].float()
    return torch.nn.functional.cross_entropy(picked, batch.targets[batch.loss_mask])
