"""Conversation canvases also train their earlier answers, at the positions they were decoded."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
import torch

from noema_core.chat_template import render_prompt
from noema_core.config import noema_tiny_shape
from noema_core.model import NoemaModel, init_weights
from noema_core.training.curriculum import training_stream
from noema_core.training.data import CanvasEncoder, conversations, locate_answers
from noema_core.training.objective import (
    Example,
    NoiseConfig,
    collate,
    loss_fn,
    make_example,
    whole_blocks,
)
from noema_core.training.trainer import SHAPES

BLOCK = 32
MASK, EOS = 99, 98


@pytest.fixture(scope="module")
def encoder(recipe_tokenizer) -> CanvasEncoder:
    return CanvasEncoder(recipe_tokenizer, BLOCK)


def chat(exchanges: int, seed: int = 0) -> tuple[list[dict[str, str]], str]:
    """A conversation of `exchanges` earlier curriculum exchanges, then a question."""
    problems = list(itertools.islice(training_stream(seed, check_share=0.0), exchanges + 1))
    messages = []
    for p in problems[:-1]:
        messages += [{"role": "user", "content": p.question},
                     {"role": "assistant", "content": p.solution}]
    return [*messages, {"role": "user", "content": problems[-1].question}], problems[-1].solution


def batch_of(examples: list[Example], encoder: CanvasEncoder, seed: int = 0):
    return collate(examples, block_length=BLOCK, mask_id=encoder.mask_id, eos_id=encoder.eos_id,
                   vocab_size=encoder.vocab_size, special_ids=encoder.special_ids,
                   noise=NoiseConfig(), generator=torch.Generator().manual_seed(seed))


def test_earlier_answers_are_found_token_exact_where_their_turn_was_decoded(encoder):
    messages, answer = chat(3)
    example = encoder.encode(messages, answer)
    answers = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    assert len(example.earlier_answers) == 3
    for i, (start, end) in zip(answers, example.earlier_answers, strict=True):
        # The prompt the sampler decoded this answer after, encoded as the engine would.
        decoded_after = encoder.tokenizer.encode(render_prompt(messages[:i])).ids
        standalone = encoder.tokenizer.encode(messages[i]["content"]).ids
        assert start == len(decoded_after) and example.ids[:start] == decoded_after
        assert example.ids[start:end] == standalone[:end - start]
        assert end % BLOCK == 0 and end - start >= len(standalone) - BLOCK  # only the tail cut


def test_an_answer_is_cut_back_to_the_start_of_the_block_it_ends_in():
    assert whole_blocks(5, 70, BLOCK) == (5, 64)  # its tail 64..69 shares a block with the next
    assert whole_blocks(70, 96, BLOCK) == (70, 96)  # ends on a boundary: every block is whole
    assert whole_blocks(70, 90, BLOCK) is None  # inside one block: nothing faithful is left
    example = make_example(list(range(120)), [7] * 10, EOS, BLOCK,
                           earlier_answers=[(5, 70), (70, 96), (100, 110)])
    assert example.earlier_answers == [(5, 64), (70, 96)]


def test_an_answer_whose_tokens_do_not_match_is_skipped():
    prompt = [1, 2, 3, 10, 11, 12, 4, 5, 20, 21, 6]
    spans, skipped = locate_answers(prompt, [([1, 2, 3], [10, 11, 12]),  # as decoded
                                             ([1, 2, 3, 10, 11, 12, 4, 5], [20, 22]),  # merged
                                             ([1, 9], [3, 10])])  # another prompt before it
    assert spans == [(3, 6)] and skipped == 2


def test_an_answer_decoded_after_another_prompt_is_not_trained(encoder):
    messages, answer = chat(2)
    # A system message added later is rendered at the top: the first answer was decoded after
    # a prompt without it, so its positions in this canvas are not where it was decoded.
    messages.insert(2, {"role": "system", "content": "Be brief."})
    found, skipped = encoder.spans_found, encoder.spans_skipped
    example = encoder.encode(messages, answer)
    assert (encoder.spans_found - found, encoder.spans_skipped - skipped) == (1, 1)
    second_start = len(encoder.tokenizer.encode(render_prompt(messages[:4])).ids)
    assert [start for start, _ in example.earlier_answers] == [second_start]


def test_the_loss_and_the_noise_cover_the_earlier_answers_and_the_context_stays_clean(encoder):
    messages, answer = chat(2)
    example = encoder.encode(messages, answer)
    batch = batch_of([example], encoder)
    L = batch.targets.shape[1]
    expected = torch.zeros(L, dtype=torch.bool)
    expected[example.prompt_length:len(example.ids)] = True
    for start, end in example.earlier_answers:
        expected[start:end] = True
    assert torch.equal(batch.loss_mask[0], expected)
    noisy, clean = batch.input_ids[0, :L], batch.input_ids[0, L:]
    assert torch.equal(clean, batch.targets[0])  # the clean copy holds earlier answers clean
    assert torch.equal(noisy[~expected], clean[~expected])  # the rest of the prompt is never noised
    start, end = example.earlier_answers[0]
    assert (noisy[start:end] == encoder.mask_id).any()


def test_single_turn_canvases_train_exactly_what_they_did_before(encoder):
    pairs = [p for p in itertools.islice(conversations(0), 60) if len(p[0]) == 1][:16]
    examples = [encoder.encode(*pair) for pair in pairs]
    assert all(e.earlier_answers == [] for e in examples)
    batch = batch_of(examples, encoder)
    for row, e in enumerate(examples):
        before = torch.zeros(batch.targets.shape[1], dtype=torch.bool)
        before[e.prompt_length:len(e.ids)] = True  # the loss mask as it was built before
        assert torch.equal(batch.loss_mask[row], before)


def test_a_micro_shape_training_step_on_conversations_lowers_the_earlier_answers_loss(encoder):
    examples = [encoder.encode(*chat(2, seed)) for seed in range(2)]
    batch = batch_of(examples, encoder)
    vocab = math.ceil(encoder.vocab_size / 64) * 64
    config = dataclasses.replace(noema_tiny_shape(vocab), **SHAPES["micro"],
                                 pad_token_id=encoder.eos_id)
    model = NoemaModel(config)
    init_weights(model, seed=0)
    only_earlier = batch.loss_mask.clone()
    for row, e in enumerate(examples):
        only_earlier[row, e.prompt_length:] = False
    assert only_earlier.any()
    earlier_batch = dataclasses.replace(batch, loss_mask=only_earlier)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    first = loss_fn(model, earlier_batch)
    loss_fn(model, batch).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    optimizer.step()
    with torch.no_grad():
        assert loss_fn(model, earlier_batch) < first  # the step fitted the earlier answers too
