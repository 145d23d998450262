"""`policy_step` over a batch of rows: each row gets what stepping it alone gives.

The single `Sampler` steps one row, `BatchSampler` every prompt in flight, through the same
function; these tests pin that a row's decisions, counters and done / exact flags never
depend on the rows beside it.
"""

from __future__ import annotations

import pytest
import torch

from noema_core.decoding.settings import DecodingSettings, Mode
from noema_core.decoding.step import (
    DONE,
    EXACT,
    FORWARDS,
    MASKED,
    PASSES,
    POST,
    STATE_SIZE,
    StepResult,
    StepRules,
    initial_state,
    policy_step,
)

MASK, V, T = 15, 16, 16
STOPS = torch.tensor([13, 14])


def random_rows(rows: int, seed: int) -> dict[str, torch.Tensor]:
    """Blocks with some prompt slots, some masks and some tokens (stop tokens among them),
    peaked logits (so thresholds are crossed and edits proposed, or not), and states of
    every kind: done rows, rows deep into their passes and post-steps."""
    gen = torch.Generator().manual_seed(seed)
    prompt = torch.randint(0, T, (rows, 1), generator=gen)
    prompt[0], prompt[1] = 0, T - 1  # a row with no prompt slot, one with a single free slot
    prompt_slots = torch.arange(T) < prompt
    tokens = torch.randint(0, V - 1, (rows, T), generator=gen)
    masked = torch.rand(rows, T, generator=gen) < torch.rand(rows, 1, generator=gen)
    masked[2] = False  # a row with no mask left: post-steps
    block = torch.where(masked & ~prompt_slots, MASK, tokens)
    logits = torch.randn(rows, T, V, generator=gen, dtype=torch.float64) * 4
    # Every third row's model agrees with its tokens: no edits, so blocks can end exact.
    logits[2::3] += 12 * torch.nn.functional.one_hot(block[2::3], V)
    confidence = torch.rand(rows, T, generator=gen) * ~masked
    state = initial_state(block, prompt_slots, MASK)
    state[:, DONE] = torch.rand(rows, generator=gen) < 0.25
    state[:, EXACT] = torch.randint(0, 2, (rows,), generator=gen)
    state[:, FORWARDS] = torch.randint(0, 20, (rows,), generator=gen)
    state[:, PASSES] = torch.randint(0, 40, (rows,), generator=gen)
    state[:, POST] = torch.randint(0, 4, (rows,), generator=gen)
    return {"logits": logits, "block": block, "prompt_slots": prompt_slots,
            "confidence": confidence, "state": state}


def rules_for(mode: Mode, **overrides: object) -> StepRules:
    return StepRules.of(DecodingSettings.for_mode(mode, **overrides), MASK)


def assert_rows_equal(batch: StepResult, alone: list[StepResult]) -> None:
    for name in ("block", "confidence", "unmask", "edit", "filled", "state"):
        rows = torch.cat([getattr(r, name) for r in alone])
        assert torch.equal(getattr(batch, name), rows), name


RULES = {
    "q": rules_for(Mode.QUALITY),
    "s": rules_for(Mode.SPEED, max_post_steps=2),
    "s-no-post": rules_for(Mode.SPEED, max_post_steps=0),
    "s-transfer": rules_for(Mode.SPEED, steps=3, num_to_transfer=2),
    "ar": rules_for(Mode.AR),
    "ar-no-stop": rules_for(Mode.AR, eos_early_stop=False),
}


@pytest.mark.parametrize("name", list(RULES))
@pytest.mark.parametrize("seed", range(4))
def test_a_batched_step_gives_each_row_its_step_alone(name, seed):
    rules, rows = RULES[name], random_rows(12, seed)
    if rules.ar:  # make the leftmost masks propose stop tokens in some rows
        rows["logits"][::2, :, 13] += 20
    args = [rows[k] for k in ("logits", "block", "prompt_slots", "confidence", "state")]
    batch = policy_step(*args, STOPS, rules)
    alone = [policy_step(*[a[i:i + 1] for a in args], STOPS, rules) for i in range(12)]
    assert_rows_equal(batch, alone)
    done = rows["state"][:, DONE] == 1  # a done row is frozen
    assert torch.equal(batch.block[done], rows["block"][done])
    assert torch.equal(batch.state[done], rows["state"][done])
    if name == "ar":  # some rows committed a stop token and closed their block with it
        assert batch.filled.any() and (batch.state[batch.filled.any(-1), DONE] == 1).all()


def test_each_row_samples_from_its_own_generator_as_alone():
    rules, rows = rules_for(Mode.SPEED, temperature=0.9, top_k=8), random_rows(5, 9)
    args = [rows[k] for k in ("logits", "block", "prompt_slots", "confidence", "state")]
    batch = policy_step(*args, STOPS, rules,
                        [torch.Generator().manual_seed(i) for i in range(5)])
    alone = [policy_step(*[a[i:i + 1] for a in args], STOPS, rules,
                         torch.Generator().manual_seed(i)) for i in range(5)]
    assert_rows_equal(batch, alone)


def test_initial_state_counts_each_rows_masks_outside_its_prompt():
    block = torch.tensor([[MASK, MASK, 3, MASK], [1, MASK, MASK, MASK]])
    prompt_slots = torch.tensor([[True, False, False, False], [True, True, False, False]])
    state = initial_state(block, prompt_slots, MASK)
    assert state.shape == (2, STATE_SIZE)
    assert state[:, MASKED].tolist() == [2, 2] and not state[:, :MASKED].any()
