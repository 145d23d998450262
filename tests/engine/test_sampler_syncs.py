"""Host syncs of the decoding loop: one per forward when streaming, next to none when quiet."""

from __future__ import annotations

import pytest
import torch

from noema_core.decoding.events import BlockFinished, BlockUpdated, GenerationFinished
from noema_core.decoding.sampler import Sampler
from noema_core.decoding.settings import DecodingSettings, Mode
from noema_core.host_syncs import HostSyncCounter
from noema_core.moe import grouped_mm_works

from .conftest import tiny_model
from .scripted import ScriptedModel, peaked

MASK, EOS = 127, 126


def random_prompt(n: int, seed: int = 0) -> list[int]:
    return torch.randint(0, 100, (n,), generator=torch.Generator().manual_seed(seed)).tolist()


@pytest.fixture(scope="module")
def model():
    # float32: the MoE layers run as grouped GEMMs and read nothing back, so every sync
    # counted here is the sampler's own.
    if not grouped_mm_works(torch.device("cpu"), torch.float32):
        pytest.skip("torch._grouped_mm does not run on this CPU build")
    return tiny_model(seed=2, dtype=torch.float32)


def decode(model, mode: Mode, **kw):
    settings = DecodingSettings.for_mode(mode, gen_length=80, eos_early_stop=False,
                                         **kw.pop("settings", {}))
    sampler, prompt = Sampler(model, mask_id=MASK, eos_ids=[EOS]), random_prompt(45)
    with HostSyncCounter() as syncs:
        events = list(sampler.generate(prompt, settings, **kw))
    assert isinstance(events[-1], GenerationFinished)
    return events, events[-1].result, syncs


def test_host_sync_counter_sees_item_bool_nonzero_and_tolist():
    x = torch.tensor([0, 1, 1])
    with HostSyncCounter() as syncs:
        int(x.sum()), bool(x.any()), x.nonzero(), x.tolist(), x[x > 0]
        x + 1  # no sync
    assert syncs.count == 5


@pytest.mark.parametrize("mode", list(Mode))
def test_streaming_reads_the_device_exactly_once_per_forward(model, mode):
    events, result, syncs = decode(model, mode)
    assert sum(isinstance(e, BlockUpdated) for e in events) == result.stats.forwards
    # The snapshot each forward; nothing per block, nothing for the prefill.
    assert syncs.by_op == {"tolist": result.stats.forwards}


@pytest.mark.parametrize("mode", list(Mode))
def test_quiet_decoding_gives_the_streamed_tokens_with_fewer_reads(model, mode):
    events, streamed, _ = decode(model, mode)
    quiet_events, quiet, syncs = decode(model, mode, stream=False)
    assert not any(isinstance(e, BlockUpdated) for e in quiet_events)
    assert quiet.token_ids == streamed.token_ids
    assert (quiet.stats.forwards, quiet.stats.edits) == (streamed.stats.forwards,
                                                        streamed.stats.edits)
    finished = [(e.token_ids, e.forwards) for e in events if isinstance(e, BlockFinished)]
    assert [(e.token_ids, e.forwards) for e in quiet_events
            if isinstance(e, BlockFinished)] == finished
    blocks = quiet.stats.blocks
    if mode is Mode.AR:  # one mask per forward: the host knows when a block ends
        assert syncs.count == blocks
    else:  # no look at a block's first forward, nor right after one that left masks
        assert blocks <= syncs.count <= quiet.stats.forwards - blocks


@pytest.mark.parametrize("settings", [{}, {"temperature": 0.9, "seed": 4}])
def test_looking_every_few_forwards_keeps_the_tokens_and_the_counts(model, settings):
    _, streamed, _ = decode(model, Mode.SPEED, settings=settings)
    _, every_one, one_syncs = decode(model, Mode.SPEED, settings=settings, stream=False)
    _, sparse, syncs = decode(model, Mode.SPEED, settings=settings, stream=False,
                              done_check_every=4)
    assert sparse.token_ids == streamed.token_ids
    assert (sparse.stats.forwards, sparse.stats.edits) == (streamed.stats.forwards,
                                                          streamed.stats.edits)
    if not settings:  # greedy: idle forwards are allowed, so it looks less often
        assert syncs.count < one_syncs.count


def test_a_quiet_ar_run_closes_a_block_at_its_stop_token():
    # After a 1-token prompt: tokens 2, 3, then EOS; the model would go on proposing EOS.
    def script(call, ids):
        T = ids.shape[0]
        return peaked([1, 2, 3] + [14] * (T - 3), [0.99] * T)

    settings = DecodingSettings.for_mode("ar", gen_length=64, block_length=16)
    results = []
    for stream in (True, False):
        sampler = Sampler(ScriptedModel(script), mask_id=15, eos_ids=[14])
        *_, finished = sampler.generate([1], settings, use_cache=False, stream=stream)
        results.append(finished.result)
    assert results[0].token_ids == results[1].token_ids == (2, 3)
    assert results[0].stats.forwards == results[1].stats.forwards == 3
