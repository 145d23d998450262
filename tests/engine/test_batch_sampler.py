"""Batched decoding: each prompt's reply is the one the single-sequence sampler gives it."""

from __future__ import annotations

import threading

import pytest
import torch

from noema_core.decoding.batch import BatchSampler
from noema_core.decoding.events import GenerationFinished, GenerationResult
from noema_core.decoding.sampler import Sampler
from noema_core.decoding.settings import DecodingSettings, Mode
from noema_core.engine import Engine
from noema_core.errors import PromptTooLongError
from noema_core.host_syncs import HostSyncCounter
from noema_core.moe import grouped_mm_works

from .conftest import tiny_model

MASK, EOS = 127, 126

QUESTIONS = ["hi", "What is 12*11?",
             "Solve for x: 3x + 7 = 22. Show the steps and give the final answer.",
             "A train travels 60 km in 1.5 hours. What is its average speed in km per hour? "
             "Explain your reasoning briefly."]


def alone(sampler: Sampler, prompt: list[int], settings: DecodingSettings) -> GenerationResult:
    for event in sampler.generate(prompt, settings):
        if isinstance(event, GenerationFinished):
            return event.result
    raise AssertionError("no result")


def same_reply(a: GenerationResult, b: GenerationResult) -> None:
    assert a.token_ids == b.token_ids
    assert (a.stats.forwards, a.stats.edits, a.stats.blocks, a.finish_reason) == \
        (b.stats.forwards, b.stats.edits, b.stats.blocks, b.finish_reason)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load("noema-tiny", device="cpu")


@pytest.mark.parametrize("mode", list(Mode))
def test_greedy_batch_equals_each_prompt_alone_on_noema_tiny(engine, mode):
    # Four prompt lengths (16 to 87 tokens: 0 to 2 full prompt blocks, different offsets in
    # the first block), three rows at a time (a finished row hands its cache row to the
    # fourth prompt, then rows leave), and max_post_steps 1 so Q/S blocks also end stale.
    prompts = [engine.tokenizer.encode_chat([{"role": "user", "content": q}])
               for q in QUESTIONS]
    assert len({len(p) // 32 for p in prompts}) == 3
    settings = engine.settings_for(mode, gen_length=40, max_post_steps=1)
    texts = []
    batch = BatchSampler(engine.sampler).generate_batch(
        prompts, settings, width=3, decode=engine.tokenizer.decode,
        on_result=lambda i, r: texts.append((i, r.text)))
    for prompt, got in zip(prompts, batch, strict=True):
        same_reply(got, alone(engine.sampler, prompt, settings))
        assert not got.cancelled and got.stats.prompt_tokens == len(prompt)
    assert sorted(texts) == [(i, r.text) for i, r in enumerate(batch)]


@pytest.fixture(scope="module")
def model():
    return tiny_model(seed=3)


def random_prompts(lengths: list[int]) -> list[list[int]]:
    gen = torch.Generator().manual_seed(7)
    return [torch.randint(0, 100, (n,), generator=gen).tolist() for n in lengths]


@pytest.mark.parametrize("mode", list(Mode))
def test_rows_of_every_length_match_alone_without_early_stop(model, mode):
    sampler = Sampler(model, mask_id=MASK, eos_ids=[EOS])
    settings = DecodingSettings.for_mode(mode, gen_length=70, eos_early_stop=False)
    prompts = random_prompts([3, 31, 32, 33, 64, 90])
    batch = BatchSampler(sampler).generate_batch(prompts, settings, width=4)
    for prompt, got in zip(prompts, batch, strict=True):
        same_reply(got, alone(sampler, prompt, settings))


@pytest.mark.parametrize("mode", list(Mode))
def test_each_step_reads_the_device_once_for_every_row(mode):
    # float32: the MoE layers run as grouped GEMMs and read nothing back, so every sync
    # counted is the batch's own: its one read of every row's block and state per forward.
    if not grouped_mm_works(torch.device("cpu"), torch.float32):
        pytest.skip("torch._grouped_mm does not run on this CPU build")
    sampler = Sampler(tiny_model(seed=2, dtype=torch.float32), mask_id=MASK, eos_ids=[EOS])
    settings = DecodingSettings.for_mode(mode, gen_length=40, eos_early_stop=False)
    batcher, prompts = BatchSampler(sampler), random_prompts([5, 40, 70])
    with HostSyncCounter() as syncs:  # rows join, restart blocks and leave along the way
        batcher.generate_batch(prompts, settings, width=2)
    assert syncs.by_op == {"tolist": batcher.forwards}


@pytest.mark.parametrize("mode", list(Mode))
def test_prefill_and_stale_blocks_ride_along_in_the_steps_forward(model, mode):
    # Prompts of 0-2 full blocks join as rows free up, and max_post_steps 1 leaves Q/S blocks
    # stale: none of it costs a forward of its own, every model call is a decoding step.
    sampler = Sampler(model, mask_id=MASK, eos_ids=[EOS])
    settings = DecodingSettings.for_mode(mode, gen_length=70, eos_early_stop=False,
                                         max_post_steps=1)
    batcher, calls = BatchSampler(sampler), []
    hook = model.register_forward_hook(lambda module, args, kwargs, out: calls.append(
        (args[0].shape[0], out.shape[0])), with_kwargs=True)
    try:
        batcher.generate_batch(random_prompts([5, 40, 70, 33]), settings, width=2)
    finally:
        hook.remove()
    assert len(calls) == batcher.forwards
    # Some steps carried more input rows than rows decoding: prompt or stale blocks rode along.
    assert any(rows > logits_rows for rows, logits_rows in calls)


def test_seeded_sampling_gives_each_row_its_alone_reply_whatever_the_batch(model):
    sampler = Sampler(model, mask_id=MASK, eos_ids=[EOS])
    settings = DecodingSettings.for_mode("s", gen_length=48, temperature=0.9, seed=11)
    prompts = random_prompts([10, 40, 70])
    wide = BatchSampler(sampler).generate_batch(prompts, settings)
    narrow = BatchSampler(sampler).generate_batch(prompts, settings, width=2)
    for prompt, a, b in zip(prompts, wide, narrow, strict=True):
        same_reply(a, alone(sampler, prompt, settings))
        same_reply(a, b)
    assert len({r.token_ids for r in wide}) == 3


def test_cancel_returns_finished_rows_whole_and_the_rest_marked_cancelled(model):
    sampler = Sampler(model, mask_id=MASK, eos_ids=[])  # every row runs its full length
    settings = DecodingSettings.for_mode("s", gen_length=64, eos_early_stop=False)
    prompts = random_prompts([5, 40, 50, 60])
    cancel = threading.Event()
    heard = []

    def on_result(index: int, result: GenerationResult) -> None:
        heard.append(index)
        cancel.set()  # stop as soon as the first row is done

    got = BatchSampler(sampler).generate_batch(prompts, settings, cancel, width=3,
                                               on_result=on_result)
    whole = [i for i in range(3) if not got[i].cancelled]
    assert whole and heard[:len(whole)] == whole  # heard as each finished
    for i in whole:
        assert len(got[i].token_ids) == 64 and got[i].finish_reason == "length"
    partial = [i for i in range(3) if got[i].cancelled]
    assert partial, "every row finished at once: nothing was left to cancel"
    for i in partial:
        assert got[i].finish_reason == "cancelled" and got[i].stats.forwards > 0
        assert got[i].stats.forwards < alone(sampler, prompts[i], settings).stats.forwards
    assert got[3].cancelled and got[3].stats.forwards == 0  # never decoded
    assert sorted(heard) == [0, 1, 2, 3]


def test_a_prompt_that_does_not_fit_fails_before_any_forward(model):
    sampler = Sampler(model, mask_id=MASK, eos_ids=[EOS])
    settings = DecodingSettings.for_mode("s", gen_length=64)
    with pytest.raises(PromptTooLongError):
        BatchSampler(sampler).generate_batch(random_prompts([10, 4090]), settings)


def test_card_attention_decodes_one_prompt_after_another_as_alone(model):
    sampler = Sampler(model, mask_id=MASK, eos_ids=[EOS])
    settings = DecodingSettings.for_mode("q", gen_length=40, attention="card")
    prompts = random_prompts([12, 50])
    for prompt, got in zip(prompts, BatchSampler(sampler).generate_batch(prompts, settings),
                           strict=True):
        same_reply(got, alone(sampler, prompt, settings))
