"""Training batches: canvases of similar length together, and a cap that bounds memory."""

from __future__ import annotations

import itertools

from noema_core.training.data import TrainingBatches, length_sorted_chunks
from noema_core.training.objective import Example, NoiseConfig


def canvases(*lengths: int) -> list[Example]:
    return [Example([0] * n, 1) for n in lengths]


def test_batches_are_cut_from_a_length_sorted_pool():
    chunks = length_sorted_chunks(canvases(96, 32, 64, 32, 128, 64), batch_size=2)
    assert [[len(e.ids) for e in c] for c in chunks] == [[32, 32], [64, 64], [96, 128]]


def test_a_token_cap_gives_batches_of_long_canvases_fewer_rows():
    pool = canvases(*([32] * 8), *([256] * 8), 1024)
    chunks = length_sorted_chunks(pool, batch_size=8, max_tokens=512)
    rows = [(len(c), max(len(e.ids) for e in c)) for c in chunks]
    assert rows[0] == (8, 32)  # short canvases still fill the batch
    assert all(n * longest <= 512 for n, longest in rows if n > 1)
    assert (1, 1024) in rows  # a canvas longer than the cap still trains, on its own
    assert sum(n for n, _ in rows) == len(pool)  # nothing is dropped


def test_the_training_stream_respects_the_cap(recipe_tokenizer):
    dataset = TrainingBatches(recipe_tokenizer, seed=0, batch_size=16, block_length=32,
                              noise=NoiseConfig(), max_batch_tokens=2048, pool_batches=4)
    for batch in itertools.islice(iter(dataset), 8):
        rows, length = batch.targets.shape
        assert rows * length <= 2048 or rows == 1
