"""Endless batches for training: curriculum problems -> chat canvases -> noised batches.

Runs inside DataLoader worker processes (each with its own seed) so generating and tokenizing
problems never stalls the GPU. Batches hold canvases of similar length to waste little padding.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from pathlib import Path

import torch

from noema_core.chat_template import render_prompt
from noema_core.training.curriculum import FAMILIES, training_problem, training_stream
from noema_core.training.objective import Batch, Example, NoiseConfig, collate, make_example


class CanvasEncoder:
    """Tokenizes problems into training canvases with the bundled tokenizer's files."""

    def __init__(self, tokenizer_dir: str | Path, block_length: int) -> None:
        from tokenizers import Tokenizer

        from noema_core.chat_template import EOS_TOKEN, MASK_TOKEN, SPECIAL_TOKENS

        self.tokenizer = Tokenizer.from_file(str(Path(tokenizer_dir) / "tokenizer.json"))
        self.block_length = block_length
        self.eos_id = self.tokenizer.token_to_id(EOS_TOKEN)
        self.mask_id = self.tokenizer.token_to_id(MASK_TOKEN)
        self.special_ids = {self.tokenizer.token_to_id(t) for t in SPECIAL_TOKENS}
        self.vocab_size = self.tokenizer.get_vocab_size()
        # Earlier answers located token-exact (trained where whole blocks allow), and those
        # left untrained because the prompt did not hold them as decoded.
        self.spans_found = self.spans_skipped = 0

    def encode(self, messages: list[dict[str, str]], answer: str) -> Example:
        prompt = self._ids(render_prompt(messages))
        earlier = [(self._ids(render_prompt(messages[:i])), self._ids(m["content"]))
                   for i, m in enumerate(messages) if m["role"] == "assistant"]
        spans, skipped = locate_answers(prompt, earlier)
        self.spans_found += len(spans)
        self.spans_skipped += skipped
        return make_example(prompt, self._ids(answer), self.eos_id, self.block_length, spans)

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text).ids


def locate_answers(prompt: list[int], earlier: list[tuple[list[int], list[int]]]
                   ) -> tuple[list[tuple[int, int]], int]:
    """Spans [start, end) of earlier answers in `prompt`, and how many were skipped.

    `earlier` holds, per earlier answer, the prompt it was decoded after (rendered and encoded
    on its own, as the engine does at that turn) and the answer encoded on its own. An answer is
    kept only where both sit in `prompt` token for token: the decode-time prompt as its prefix,
    the answer right after it. A tokenizer merging across a boundary, or a template that
    renders earlier turns differently once the chat goes on, would otherwise train targets or
    positions the model never decoded."""
    spans, skipped = [], 0
    for before, answer in earlier:
        start, end = len(before), len(before) + len(answer)
        if answer and prompt[:start] == before and prompt[start:end] == answer:
            spans.append((start, end))
        else:
            skipped += 1
    return spans, skipped


SYMPY_CHECK_SHARE = 0.1  # of training problems; every held-out problem is checked
FOLLOW_UP_SHARE = 0.3  # canvases that continue a conversation
MAX_EARLIER_EXCHANGES = 8
MAX_HISTORY_CHARS = 3000  # about 1,200 tokens of earlier exchanges, well inside the context
SAME_FAMILY_SHARE = 0.5  # conversations that stay on one kind of question, as people drill


def conversations(seed: int, follow_up_share: float = FOLLOW_UP_SHARE
                  ) -> Iterator[tuple[list[dict[str, str]], str]]:
    """(messages, answer) pairs. `follow_up_share` of them come after 1-8 earlier exchanges
    (each answered as the model writes its answers), so a question late in a chat is
    decoded like the first; half of those conversations stay on one family."""
    rng = random.Random(f"turns-{seed}")
    problems = training_stream(seed, check_share=SYMPY_CHECK_SHARE)
    for problem in problems:
        history: list[dict[str, str]] = []
        if rng.random() < follow_up_share:
            same = problem.family in FAMILIES and rng.random() < SAME_FAMILY_SHARE
            chars = 0
            for _ in range(rng.randint(1, MAX_EARLIER_EXCHANGES)):
                earlier = training_problem(rng, problem.family) if same else next(problems)
                chars += len(earlier.question) + len(earlier.solution)
                if chars > MAX_HISTORY_CHARS:
                    break
                history += [{"role": "user", "content": earlier.question},
                            {"role": "assistant", "content": earlier.solution}]
        yield [*history, {"role": "user", "content": problem.question}], problem.solution


def length_sorted_chunks(pool: list[Example], batch_size: int, max_tokens: int = 0
                         ) -> list[list[Example]]:
    """Sort `pool` by canvas length and cut it into batches of `batch_size` canvases; with
    `max_tokens`, a batch of long canvases holds fewer, so rows x longest canvas stays within
    it (activation memory grows with that product; one canvas is always allowed)."""
    pool = sorted(pool, key=lambda e: len(e.ids))
    chunks, start = [], 0
    while start < len(pool):
        rows = min(batch_size, len(pool) - start)
        while max_tokens and rows > 1 and rows * len(pool[start + rows - 1].ids) > max_tokens:
            rows -= 1
        chunks.append(pool[start:start + rows])
        start += rows
    return chunks


class TrainingBatches(torch.utils.data.IterableDataset):
    def __init__(self, tokenizer_dir: str | Path, *, seed: int, batch_size: int,
                 block_length: int, noise: NoiseConfig, max_batch_tokens: int = 0,
                 pool_batches: int = 16) -> None:
        super().__init__()
        self.tokenizer_dir, self.seed, self.batch_size = tokenizer_dir, seed, batch_size
        self.block_length, self.noise, self.pool_batches = block_length, noise, pool_batches
        self.max_batch_tokens = max_batch_tokens

    def __iter__(self) -> Iterator[Batch]:
        info = torch.utils.data.get_worker_info()
        stream_seed = self.seed * 1000 + (info.id if info else 0)
        encoder = CanvasEncoder(self.tokenizer_dir, self.block_length)
        generator = torch.Generator().manual_seed(stream_seed)
        source = conversations(stream_seed)
        while True:
            # Sort a pool by length, then serve its batches in random order.
            pool = [encoder.encode(*pair) for pair in
                    itertools.islice(source, self.batch_size * self.pool_batches)]
            chunks = length_sorted_chunks(pool, self.batch_size, self.max_batch_tokens)
            for k in torch.randperm(len(chunks), generator=generator).tolist():
                yield collate(chunks[k], block_length=self.block_length,
                              mask_id=encoder.mask_id, eos_id=encoder.eos_id,
                              vocab_size=encoder.vocab_size, special_ids=encoder.special_ids,
                              noise=self.noise, generator=generator)


def batches(tokenizer_dir: str | Path, *, seed: int, batch_size: int, block_length: int,
            noise: NoiseConfig, workers: int, max_batch_tokens: int = 0) -> Iterator[Batch]:
    dataset = TrainingBatches(tokenizer_dir, seed=seed, batch_size=batch_size,
                              block_length=block_length, noise=noise,
                              max_batch_tokens=max_batch_tokens)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=workers,
                                         pin_memory=torch.cuda.is_available(),
                                         prefetch_factor=4 if workers else None,
                                         persistent_workers=bool(workers))
    return iter(loader)
