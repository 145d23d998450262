"""Pure decoding policies over one block: propose tokens, choose what to unmask and what to edit.

Every function takes 1-D tensors over the block's slots ([T]) and returns new tensors; none
touches the model or the canvas, so each can be tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Proposal:
    tokens: Tensor  # [T] the token to unmask or edit with: the argmax, or the sampled token
    confidence: Tensor  # [T] its probability: what the thresholds are compared with


def propose(logits: Tensor, *, mask_id: int, temperature: float = 0.0, top_k: int = 0,
            top_p: float = 1.0, generator: torch.Generator | None = None) -> Proposal:
    """Turn block logits [T, V] into proposals. The mask token is never proposed.

    Probabilities are taken over the whole vocabulary, the mask token included, as the
    reference loop takes them: wherever the reference's own choice is not the mask, the token
    and its confidence (and so every unmask and edit decision) are the reference's. Greedy
    (temperature 0): the argmax and its softmax probability; top_k and top_p play no part.
    Sampling: a token drawn from the temperature-scaled, filtered distribution and its
    probability in that distribution.
    """
    logits = logits.float()
    not_mask = torch.ones(logits.shape[-1], dtype=torch.bool, device=logits.device)
    not_mask[mask_id] = False
    if temperature <= 0.0:
        probs = torch.softmax(logits, dim=-1)
        tokens = probs.masked_fill(~not_mask, -1.0).argmax(dim=-1)
        return Proposal(tokens, probs.gather(-1, tokens[:, None]).squeeze(-1))
    probs = torch.softmax(filter_logits(logits / temperature, top_k=top_k, top_p=top_p), dim=-1)
    weights = probs * not_mask
    # Where filtering left only the mask token (top_k 1, a tiny top_p), draw the likeliest
    # other token; its filtered probability, 0, is then its confidence.
    stranded = weights.sum(dim=-1, keepdim=True) <= 0
    best_other = logits.masked_fill(~not_mask, float("-inf")).argmax(dim=-1)
    weights = torch.where(stranded, F.one_hot(best_other, logits.shape[-1]).float(), weights)
    tokens = torch.multinomial(weights, 1, generator=generator).squeeze(-1)
    return Proposal(tokens, probs.gather(-1, tokens[:, None]).squeeze(-1))


def filter_logits(logits: Tensor, *, top_k: int = 0, top_p: float = 1.0) -> Tensor:
    """Keep the top_k logits, then the nucleus: each token while the probability mass of the
    tokens ranked above it is at most top_p (the smallest head whose mass exceeds top_p).
    The likeliest token always stays, however small top_p is. -inf elsewhere."""
    if 0 < top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        mass = sorted_logits.softmax(-1).cumsum(-1)
        # One comparison, on the mass before each token (the running sum one place back).
        drop_sorted = torch.zeros_like(mass, dtype=torch.bool)
        drop_sorted[..., 1:] = mass[..., :-1] > top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def choose_unmask(masked: Tensor, confidence: Tensor, threshold: float,
                  at_least: int | Tensor = 1) -> Tensor:
    """Masked slots whose confidence exceeds `threshold`; at least the `at_least` most confident.

    `at_least` is the `num_to_transfer` setting (the reference's rule: when fewer clear the
    threshold, commit exactly the most confident that many), raised when needed by the `steps`
    cap: with n masks left and s passes left the sampler asks for ceil(n / s). It may be a
    tensor: nothing here reads the device, so the sampler's step runs without host syncs.
    Also takes [rows, T] (batched decoding) with `at_least` a number or one per row ([rows]).
    """
    choose = masked & (confidence > threshold)
    # The `want` most confident masks always include every mask above the threshold when
    # fewer than `want` clear it, and are all above it otherwise: the union is the rule.
    # They are the masks ranked below `want`, rank = how many masks come before (higher
    # confidence, or equal and to the left): a fixed-shape [T, T] comparison, not a
    # topk(want), whose k would have to be read from the device.
    at_least = torch.as_tensor(at_least, device=masked.device)
    want = torch.minimum(at_least, masked.sum(-1))[..., None]
    score = confidence.masked_fill(~masked, float("-inf"))
    T = score.shape[-1]
    left = torch.ones(T, T, dtype=torch.bool, device=score.device).tril(-1)
    above, here = score[..., None, :], score[..., :, None]
    rank = ((above > here) | ((above == here) & left)).sum(-1)
    return choose | (masked & (rank < want))


def choose_leftmost(masked: Tensor) -> Tensor:
    """AR mode: exactly the leftmost masked slot (nothing if none is masked). Also takes
    [rows, T] (batched decoding): the leftmost of each row."""
    return masked & (masked.cumsum(-1) == 1)


def choose_edits(editable: Tensor, current: Tensor, proposed: Tensor, confidence: Tensor,
                 editing_threshold: float) -> Tensor:
    """Already-unmasked slots whose proposal now differs with confidence > editing_threshold."""
    return editable & (proposed != current) & (confidence > editing_threshold)


def min_unmask_for_steps(n_masked: int | Tensor, passes_done: int | Tensor,
                         steps: int) -> Tensor:
    """How many masks must be committed this pass so the block is done within `steps` passes
    (a 0-d tensor; the counts may be device tensors, or one per row of a batch)."""
    passes_left = torch.as_tensor(steps - passes_done).clamp(min=1)
    return (-(-torch.as_tensor(n_masked) // passes_left)).clamp(min=1)
