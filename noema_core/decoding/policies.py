"""Pure decoding policies over one block: propose tokens, choose what to unmask and what to edit.

Every function takes 1-D tensors over the block's slots ([T]) and returns new tensors; none
touches the model or the canvas, so each can be tested on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Proposal:
    tokens: Tensor  # [T] the token to unmask with (sampled, or argmax when greedy)
    confidence: Tensor  # [T] its probability
    best: Tensor  # [T] argmax token: edits are decided on it so they converge when sampling
    best_confidence: Tensor  # [T]


def propose(logits: Tensor, *, mask_id: int, temperature: float = 0.0, top_k: int = 0,
            top_p: float = 1.0, generator: torch.Generator | None = None) -> Proposal:
    """Turn block logits [T, V] into proposals. The mask token is never proposed."""
    logits = logits.float().clone()
    logits[:, mask_id] = float("-inf")
    probs = torch.softmax(logits, dim=-1)
    best_conf, best = probs.max(dim=-1)
    if temperature <= 0.0:
        return Proposal(best, best_conf, best, best_conf)
    filtered = filter_logits(logits / temperature, top_k=top_k, top_p=top_p)
    sample_probs = torch.softmax(filtered, dim=-1)
    tokens = torch.multinomial(sample_probs, 1, generator=generator).squeeze(-1)
    confidence = sample_probs.gather(-1, tokens[:, None]).squeeze(-1)
    return Proposal(tokens, confidence, best, best_conf)


def filter_logits(logits: Tensor, *, top_k: int = 0, top_p: float = 1.0) -> Tensor:
    """Keep the top_k logits and the smallest nucleus with mass >= top_p; -inf elsewhere."""
    if 0 < top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        # Drop a token when the mass before it already reaches top_p (the first always stays).
        drop_sorted = (cumulative - sorted_logits.softmax(-1)) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def choose_unmask(masked: Tensor, confidence: Tensor, threshold: float,
                  at_least: int = 1) -> Tensor:
    """Masked slots whose confidence exceeds `threshold`; at least the `at_least` most confident.

    `at_least` is how the `steps` cap forces progress: with n masks left and s passes left the
    sampler asks for ceil(n / s).
    """
    choose = masked & (confidence > threshold)
    want = min(at_least, int(masked.sum()))
    if int(choose.sum()) < want:
        ranked = confidence.masked_fill(~masked, float("-inf")).topk(want).indices
        choose = choose.clone()
        choose[ranked] = True
    return choose


def choose_leftmost(masked: Tensor) -> Tensor:
    """AR mode: exactly the leftmost masked slot (nothing if none is masked)."""
    choose = torch.zeros_like(masked)
    idx = masked.nonzero()
    if len(idx):
        choose[idx[0, 0]] = True
    return choose


def choose_edits(editable: Tensor, current: Tensor, best: Tensor, best_confidence: Tensor,
                 editing_threshold: float) -> Tensor:
    """Already-unmasked slots whose prediction now differs with confidence > editing_threshold."""
    return editable & (best != current) & (best_confidence > editing_threshold)


def min_unmask_for_steps(n_masked: int, passes_done: int, steps: int) -> int:
    """How many masks must be committed this pass so the block is done within `steps` passes."""
    passes_left = max(1, steps - passes_done)
    return max(1, math.ceil(n_masked / passes_left))
