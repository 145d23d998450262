"""One policy step of the block loop on the device: decide, update the block, advance counters.

The sampler's rules (spec section 5) as tensor arithmetic over a batch of rows (one row per
sequence: the single `Sampler` steps one, `BatchSampler` every prompt in flight), so a step
reads nothing back to the host: what to unmask and edit, the pass / post-step counters, the AR
stop, and whether the block is done, all live in a small state vector per row on the device.
A done block is frozen: a further step changes nothing and counts nothing, which lets a caller
that does not watch every forward check `done` only now and then without changing the tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from noema_core.decoding import policies
from noema_core.decoding.settings import DecodingSettings, Mode

# Slots of a row's state vector (int64 [rows, STATE_SIZE]).
DONE, EXACT, FORWARDS, EDITS, PASSES, POST, MASKED = range(7)
STATE_SIZE = 7

# One generator for every row (or None: the global one), or one per row.
Generators = torch.Generator | Sequence[torch.Generator | None] | None


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
    """The state [rows, STATE_SIZE] of fresh blocks [rows, T]: nothing counted yet."""
    state = torch.zeros(block.shape[0], STATE_SIZE, dtype=torch.long, device=block.device)
    state[:, MASKED] = ((block == mask_id) & ~prompt_slots).sum(-1)
    return state


@dataclass
class StepResult:
    block: Tensor  # [rows, T] the blocks after this step
    confidence: Tensor  # [rows, T] the confidence of each slot's token (0 where never set)
    unmask: Tensor  # [rows, T] bool: unmasked by this step
    edit: Tensor  # [rows, T] bool: edited by this step
    filled: Tensor  # [rows, T] bool: masks closed with the stop token AR just committed
    state: Tensor  # [rows, STATE_SIZE] int64

    def row(self, i: int) -> StepResult:
        """Row i alone: the same fields without the rows dimension ([T], [STATE_SIZE]).
        Views, so nothing is read from the device."""
        return StepResult(self.block[i], self.confidence[i], self.unmask[i], self.edit[i],
                          self.filled[i], self.state[i])


def propose_rows(logits: Tensor, rules: StepRules,
                 generator: Generators = None) -> policies.Proposal:
    """Proposals [rows, T] for logits [rows, T, V]. With one generator (or none) every row
    draws from it in one call; with one per row each row draws from its own, exactly as
    decoding that row alone would, so a seeded row's reply does not depend on its batch."""
    kw = {"mask_id": rules.mask_id, "temperature": rules.temperature, "top_k": rules.top_k,
          "top_p": rules.top_p}
    if generator is None or isinstance(generator, torch.Generator):
        rows, T, V = logits.shape
        proposal = policies.propose(logits.reshape(rows * T, V), generator=generator, **kw)
        return policies.Proposal(proposal.tokens.view(rows, T),
                                 proposal.confidence.view(rows, T))
    proposals = [policies.propose(logits[i], generator=g, **kw)
                 for i, g in enumerate(generator)]
    return policies.Proposal(torch.stack([p.tokens for p in proposals]),
                             torch.stack([p.confidence for p in proposals]))


def policy_step(logits: Tensor, block: Tensor, prompt_slots: Tensor, confidence: Tensor,
                state: Tensor, stop_ids: Tensor, rules: StepRules,
                generator: Generators = None) -> StepResult:
    """Apply one forward's logits [rows, T, V] to the blocks [rows, T] (`prompt_slots`,
    `confidence` [rows, T], `state` [rows, STATE_SIZE]). Each row follows the rules alone:
    no row's decisions depend on another's. No host reads."""
    active = state[:, DONE] == 0
    proposal = propose_rows(logits, rules, generator)
    masked = (block == rules.mask_id) & ~prompt_slots
    n_masked = masked.sum(-1)
    had_masks = n_masked > 0
    if rules.ar:
        unmask = policies.choose_leftmost(masked)
        edit = torch.zeros_like(masked)
    else:
        at_least = policies.min_unmask_for_steps(n_masked, state[:, PASSES], rules.steps)
        at_least = at_least.clamp(min=rules.num_to_transfer)
        # With no masks left `want` is 0 and nothing is unmasked, as the rule says.
        unmask = policies.choose_unmask(masked, proposal.confidence, rules.threshold, at_least)
        edit = policies.choose_edits(~masked & ~prompt_slots, block, proposal.tokens,
                                     proposal.confidence, rules.editing_threshold)
    unmask, edit = unmask & active[:, None], edit & active[:, None]
    change = unmask | edit
    new_block = torch.where(change, proposal.tokens, block)
    confidence = torch.where(change, proposal.confidence, confidence)
    n_edits = edit.sum(-1)
    changed = (unmask.sum(-1) + n_edits) > 0
    stopped = torch.zeros_like(active)
    filled = torch.zeros_like(masked)
    if rules.ar_stops:
        # Left to right without edits, nothing after a stop token can matter (the output is
        # cut there): close the block with it instead of spending forwards on padding.
        is_stop = (new_block[..., None] == stop_ids).any(-1)
        stopped = (unmask & is_stop).any(-1)
        token = torch.where(unmask, new_block, 0).sum(-1, keepdim=True)  # the one AR token
        filled = (new_block == rules.mask_id) & ~prompt_slots & stopped[:, None]
        new_block = torch.where(filled, token, new_block)
    passes = state[:, PASSES] + (active & had_masks).long()
    post = state[:, POST] + (active & ~had_masks).long()
    masked_after = ((new_block == rules.mask_id) & ~prompt_slots).sum(-1)
    cleared = masked_after == 0
    if rules.ar or rules.max_post_steps == 0:
        finished = cleared
    else:
        finished = cleared & ((~had_masks & ~changed) | (post >= rules.max_post_steps))
    done_now = active & (finished | stopped)
    # A block's K/V are exact when its last forward's input already held its final tokens.
    exact = torch.where(done_now, ~changed & ~stopped, state[:, EXACT] != 0)
    new_state = torch.stack([
        (state[:, DONE] != 0) | done_now, exact, state[:, FORWARDS] + active.long(),
        state[:, EDITS] + n_edits, passes, post, masked_after,
    ], dim=1).long()
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
