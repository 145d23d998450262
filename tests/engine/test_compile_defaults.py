"""When decoding compiles by itself, and the CUDA-graph configuration of the block forward.

CI has no GPU, so the CUDA-graph path is checked on the CPU where it can be: its attention
window (the whole cache under the mask) decodes the eager tokens, and the defaults pick it
for CUDA models only. Replaying CUDA graphs needs a GPU (issue #24's measurements).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from noema_core.config import tiny_random_shape
from noema_core.decoding.compiled import BlockForward, compile_by_default
from noema_core.decoding.events import GenerationFinished
from noema_core.decoding.sampler import Sampler
from noema_core.decoding.settings import DecodingSettings, Mode
from noema_core.loading import build_model
from noema_core.quantize import count_quantized

MASK, EOS = 127, 126


def small_model():
    config = dataclasses.replace(tiny_random_shape(vocab_size=128), num_hidden_layers=2)
    return build_model(config, torch.float32, torch.device("cpu"), seed=5).stack_experts()


def decode(sampler: Sampler, mode: Mode) -> tuple[int, ...]:
    ids = torch.randint(0, 100, (45,), generator=torch.Generator().manual_seed(1)).tolist()
    settings = DecodingSettings.for_mode(mode, gen_length=80, eos_early_stop=False)
    *_, finished = sampler.generate(ids, settings, stream=False)
    assert isinstance(finished, GenerationFinished)
    return finished.result.token_ids


def test_a_cpu_model_decodes_eagerly_unless_asked():
    model = small_model()
    assert not compile_by_default(model)
    assert Sampler(model, mask_id=MASK, eos_ids=[EOS]).compile is False
    assert Sampler(model, mask_id=MASK, eos_ids=[EOS], compile=True).compile is True


def test_the_default_sees_a_quantized_layer():
    """`compile_by_default` leaves quantized models eager by `quantize.count_quantized`."""
    class Linear4bit(nn.Linear):  # stands in for bitsandbytes' class, by its name
        pass

    model = small_model()
    assert count_quantized(model)[0] == 0
    model.lm_head = Linear4bit(4, 4)
    assert count_quantized(model)[0] == 1


def test_cuda_graphs_are_configured_for_cuda_models_only():
    model = small_model()
    cpu = BlockForward(model, 32)
    assert not cpu.cuda_graphs and cpu.mode is None and cpu.attend_step == 32
    graphs = BlockForward(model, 32, cuda_graphs=True)
    assert graphs.mode == "reduce-overhead" and graphs.attend_step is None


@pytest.mark.parametrize("mode", list(Mode))
def test_attention_over_the_whole_cache_decodes_the_eager_tokens(mode):
    """The CUDA-graph window: every forward attends all of the cache's columns, the mask
    hiding those past the block, which must change nothing (run eagerly here)."""
    model = small_model()
    whole = BlockForward(model, 32, cuda_graphs=True)
    whole._graph = whole._forward  # the traced function itself: no compiler, the same window
    sampler = Sampler(model, mask_id=MASK, eos_ids=[EOS], compile=True)
    sampler._compiled[32] = whole
    eager = Sampler(model, mask_id=MASK, eos_ids=[EOS])
    assert decode(sampler, mode) == decode(eager, mode)
    assert sampler.compiled and sampler.cache.static_addresses  # the CUDA-graph path ran
    assert sampler.cache.capacity > 128  # the window really was wider than the canvas
