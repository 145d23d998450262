"""One policy step of the block loop on the device: decide, update the block, advance counters.

The sampler's rules (spec section 5) as tensor arithmetic, so a step reads nothing back to the
host: what to unmask and edit, the pass / post-step counters, the AR stop, and whether the
block is done, all live in a small state vector on the device. A done block is frozen: a
further step changes nothing and counts nothing, which lets a caller that does not watch every
forward check `done` only now and then without changing the tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from noema_core.decoding import policies
from noema_core.decoding.settings import DecodingSettings, Mode

# Slots of the state vector (int64 [STATE_SIZE]).
DONE, EXACT, FORWARDS, EDITS, PASSES, POST, MASKED = range(7)
STATE_SIZE = 7


@dataclass(frozen=True)
class StepRules:
    """The settings a step needs, as Python constants (a compiled step specialises on them)."""

    mask_id: int
    ar: bool
    threshold: float
    editing_threshold: float
    steps: int
    num_to_transfer: int
    max_post_steps: int
    ar_stops: bool  # AR with eos_early_stop: a committed stop token closes the block
    temperature: float
    top_k: int
    top_p: float

    @classmethod
    def of(cls, settings: DecodingSettings, mask_id: int) -> StepRules:
        ar = settings.mode is Mode.AR
        return cls(mask_id, ar, settings.threshold, settings.editing_threshold, settings.steps,
                   settings.num_to_transfer, settings.max_post_steps,
                   ar and settings.eos_early_stop, settings.temperature, settings.top_k,
                   settings.top_p)


def initial_state(block: Tensor, prompt_slots: Tensor, mask_id: int) -> Tensor:
    state = torch.zeros(STATE_SIZE, dtype=torch.long, device=block.device)
    state[MASKED] = ((block == mask_id) & ~prompt_slots).sum()
    return state


@dataclass
class StepResult:
    block: Tensor  # [T] the block after this step
    confidence: Tensor  # [T] the confidence of each slot's token (0 where never set)
    unmask: Tensor  # [T] bool: unmasked by this step
    edit: Tensor  # [T] bool: edited by this step
    filled: Tensor  # [T] bool: masks closed with the stop token AR just committed
    state: Tensor  # [STATE_SIZE] int64


def policy_step(logits: Tensor, block: Tensor, prompt_slots: Tensor, confidence: Tensor,
                state: Tensor, stop_ids: Tensor, rules: StepRules,
                generator: torch.Generator | None = None) -> StepResult:
    """Apply one forward's logits [T, V] to the block [T]. No host reads."""
    active = state[DONE] == 0
    proposal = policies.propose(logits, mask_id=rules.mask_id, temperature=rules.temperature,
                                top_k=rules.top_k, top_p=rules.top_p, generator=generator)
    masked = (block == rules.mask_id) & ~prompt_slots
    n_masked = masked.sum()
    had_masks = n_masked > 0
    if rules.ar:
        unmask = policies.choose_leftmost(masked)
        edit = torch.zeros_like(masked)
    else:
        at_least = policies.min_unmask_for_steps(n_masked, state[PASSES], rules.steps)
        at_least = at_least.clamp(min=rules.num_to_transfer)
        # With no masks left `want` is 0 and nothing is unmasked, as the rule says.
        unmask = policies.choose_unmask(masked, proposal.confidence, rules.threshold, at_least)
        edit = policies.choose_edits(~masked & ~prompt_slots, block, proposal.tokens,
                                     proposal.confidence, rules.editing_threshold)
    unmask, edit = unmask & active, edit & active
    change = unmask | edit
    new_block = torch.where(change, proposal.tokens, block)
    confidence = torch.where(change, proposal.confidence, confidence)
    n_edits = edit.sum()
    changed = (unmask.sum() + n_edits) > 0
    stopped = torch.zeros_like(active)
    filled = torch.zeros_like(masked)
    if rules.ar_stops:
        # Left to right without edits, nothing after a stop token can matter (the output is
        # cut there): close the block with it instead of spending forwards on padding.
        is_stop = (new_block[:, None] == stop_ids[None, :]).any(-1)
        stopped = (unmask & is_stop).any()
        token = torch.where(unmask, new_block, 0).sum()  # the one token AR committed
        filled = (new_block == rules.mask_id) & ~prompt_slots & stopped
        new_block = torch.where(filled, token, new_block)
    passes = state[PASSES] + (active & had_masks).long()
    post = state[POST] + (active & ~had_masks).long()
    masked_after = ((new_block == rules.mask_id) & ~prompt_slots).sum()
    cleared = masked_after == 0
    if rules.ar or rules.max_post_steps == 0:
        finished = cleared
    else:
        finished = cleared & ((~had_masks & ~changed) | (post >= rules.max_post_steps))
    done_now = active & (finished | stopped)
    # A block's K/V are exact when its last forward's input already held its final tokens.
    exact = torch.where(done_now, ~changed & ~stopped, state[EXACT] != 0)
    new_state = torch.stack([
        (state[DONE] != 0) | done_now, exact, state[FORWARDS] + active.long(),
        state[EDITS] + n_edits, passes, post, masked_after,
    ]).long()
    return StepResult(new_block, confidence, unmask, edit, filled, new_state)


def earliest_done(state_masked: int, rules: StepRules, every: int) -> int:
    """How many more forwards at least before a block with `state_masked` masks can be done,
    and so before a caller that is not watching each forward needs to look (at least
    `every`, the caller's check interval)."""
    if rules.ar and not rules.ar_stops:
        soonest = state_masked  # exactly one mask per forward
    elif rules.ar or rules.max_post_steps == 0 or state_masked == 0:
        soonest = 1
    else:
        soonest = 2  # the forward that clears the last masks is never a block's last
    return max(soonest, every, 1)
