"""The compiled block forward: one graph, no breaks, no recompiles, the eager tokens.

Compiling costs tens of seconds on a 2-core CPU, so the module compiles once (a two-layer
model: a dense layer and an MoE one) and every test reuses that graph.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from noema_core.config import tiny_random_shape
from noema_core.decoding.events import GenerationFinished
from noema_core.decoding.sampler import Sampler
from noema_core.decoding.settings import DecodingSettings, Mode
from noema_core.loading import build_model
from noema_core.moe import MoE, grouped_mm_works

pytestmark = pytest.mark.slow
MASK, EOS = 127, 126


def small_model():
    config = dataclasses.replace(tiny_random_shape(vocab_size=128), num_hidden_layers=2)
    return build_model(config, torch.float32, torch.device("cpu"), seed=3).stack_experts()


def prompt(n: int, seed: int = 0) -> list[int]:
    return torch.randint(0, 100, (n,), generator=torch.Generator().manual_seed(seed)).tolist()


def decode(sampler: Sampler, ids: list[int], mode: Mode, gen_length: int = 48, **kw):
    settings = DecodingSettings.for_mode(mode, gen_length=gen_length, eos_early_stop=False)
    *_, finished = sampler.generate(ids, settings, **kw)
    assert isinstance(finished, GenerationFinished)
    return finished.result


@pytest.fixture(scope="module")
def compiled_runs():
    """Greedy Q, S and AR runs on two prompts through one compiling sampler, and the
    compiler's counters after them."""
    from torch._dynamo.utils import counters

    if not grouped_mm_works(torch.device("cpu"), torch.float32):
        pytest.skip("torch._grouped_mm does not run on this CPU build")
    torch._dynamo.reset()
    counters.clear()
    model, notices = small_model(), []
    sampler = Sampler(model, mask_id=MASK, eos_ids=[EOS], compile=True, notice=notices.append)
    runs = {}
    for mode in Mode:  # two blocks each
        runs[mode] = decode(sampler, prompt(45), mode)
    # Another prompt length, the same cache size (256): the same graph.
    runs["other prompt"] = decode(sampler, prompt(70, seed=1), Mode.SPEED)
    yield model, sampler, runs, dict(counters["stats"]), dict(counters["graph_break"]), notices
    torch._dynamo.reset()


def test_one_graph_serves_every_forward_of_every_mode(compiled_runs):
    _, sampler, runs, stats, breaks, notices = compiled_runs
    assert notices == [] and sampler.compiled
    assert breaks == {}  # fullgraph=True would have raised, and a break shows up here
    assert stats["unique_graphs"] == 1  # no recompile across blocks, modes or prompts
    assert all(r.stats.blocks == 2 for r in runs.values())


@pytest.mark.parametrize("mode", list(Mode))
def test_compiled_tokens_equal_eager_and_uncached_tokens(compiled_runs, mode):
    model, _, runs, *_ = compiled_runs
    eager = decode(Sampler(model, mask_id=MASK, eos_ids=[EOS]), prompt(45), mode)
    uncached = decode(Sampler(model, mask_id=MASK, eos_ids=[EOS]), prompt(45), mode,
                      use_cache=False)
    compiled = runs[mode]
    assert compiled.token_ids == eager.token_ids == uncached.token_ids
    assert compiled.stats.forwards == eager.stats.forwards
    assert compiled.stats.edits == eager.stats.edits


class LookalikeLinear(nn.Linear):
    """A Linear that is not exactly nn.Linear, as a quantized layer is not: the MoE layer
    then runs its experts one by one, reading their loads on the host."""


def test_a_graph_break_falls_back_to_eager_with_one_notice(compiled_runs):
    model = small_model()
    moe = next(layer.mlp for layer in model.model.layers if isinstance(layer.mlp, MoE))
    moe._stacked = None
    for expert in moe.experts:
        old = expert.gate_proj
        expert.gate_proj = LookalikeLinear(old.in_features, old.out_features, bias=False)
        expert.gate_proj.weight = old.weight
    notices = []
    sampler = Sampler(model, mask_id=MASK, eos_ids=[EOS], compile=True, notice=notices.append)
    result = decode(sampler, prompt(45), Mode.SPEED, gen_length=16)
    assert len(notices) == 1 and notices[0].startswith("compile failed, decoding eagerly: ")
    assert "\n" not in notices[0] and not sampler.compiled
    eager = decode(Sampler(model, mask_id=MASK, eos_ids=[EOS]), prompt(45), Mode.SPEED,
                   gen_length=16)
    assert result.token_ids == eager.token_ids
