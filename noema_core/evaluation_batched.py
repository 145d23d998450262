"""`noema eval --batch-size N` on the held-out suite and `--questions` sets: the same report
as one question at a time, decoded in batches (`Engine.generate_batch`, whose greedy replies
are the single decoder's, token for token).

A conversation's turns depend on the model's earlier answers, so the set is decoded in waves:
wave k holds turn k of every conversation that has one, each after its own earlier answers;
single questions are all in wave 0. Within a wave the retries (each step of the retry plan a
batch of the answers still contradicted) and the editing-off decodings of edited answers are
batches too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from noema_core.decoding.events import GenerationResult
from noema_core.decoding.settings import DecodingSettings
from noema_core.engine import Engine
from noema_core.retry import Attempt, chosen, retry_in_batches, retry_plan

# book(item_index, turn_index, messages, attempts, editing_off_result): what the sequential
# loop does with one decoded turn (`noema_core.evaluation.evaluate`).
Book = Callable[[int, int, list[dict[str, str]], list[Attempt], GenerationResult | None], None]


def evaluate_waves(engine: Engine, items: Sequence[Any], settings: DecodingSettings, *,
                   retries: int, batch_size: int, editing_off: DecodingSettings,
                   independent: Callable[[Any, int], Callable[..., Any]], book: Book,
                   decoded: Callable[[int], None] | None = None,
                   cancel: threading.Event | None = None) -> tuple[bool, float]:
    """Decode every turn of `items` in waves and `book` each; returns (cancelled, the wall
    seconds spent decoding). `decoded(item_index)` hears each first decoding as it
    finishes (for progress); `independent(item, turn)` is the chat's check of a reply."""
    histories: list[list[dict[str, str]]] = [[] for _ in items]
    seconds = 0.0
    for turn in range(max((len(item.turns) for item in items), default=0)):
        live = [i for i, item in enumerate(items) if turn < len(item.turns)]
        asked = [[*histories[i], {"role": "user", "content": items[i].turns[turn].question}]
                 for i in live]
        began = time.perf_counter()
        results = engine.generate_batch(asked, settings, cancel, batch_size=batch_size,
                                        on_result=_relay(decoded, live))
        attempts = [[Attempt("as asked", settings, r, None)] for r in results]
        if retries:
            checks = [independent(items[i], turn) for i in live]
            questions = [items[i].turns[turn].question for i in live]
            _retry(engine, asked, attempts, checks, questions, settings, retries, batch_size,
                   cancel)
        edited = [j for j, tries in enumerate(attempts) if tries[0].result.stats.edits
                  and not tries[0].result.cancelled]
        plain = dict(zip(edited, engine.generate_batch(
            [asked[j] for j in edited], editing_off, cancel, batch_size=batch_size)
            if edited else [], strict=True))
        seconds += time.perf_counter() - began
        if cancel is not None and cancel.is_set():
            # Only whole decodings count: a row whose answer was cut short is not booked (the
            # sequential loop stops before a turn it has not decoded); one whose retry or
            # editing-off decoding was cut is booked with the decodings it finished.
            for j, i in enumerate(live):
                done = [a for a in attempts[j] if not a.result.cancelled]
                if done and done[0] is attempts[j][0]:
                    extra = plain.get(j)
                    book(i, turn, asked[j], done,
                         None if extra is None or extra.cancelled else extra)
            return True, seconds
        for j, i in enumerate(live):
            book(i, turn, asked[j], attempts[j], plain.get(j))
            histories[i] = [*asked[j], {"role": "assistant",
                                        "content": chosen(attempts[j]).result.text}]
    return False, seconds


def _relay(decoded: Callable[[int], None] | None, live: list[int]
           ) -> Callable[[int, GenerationResult], None] | None:
    """generate_batch's `on_result` (a row of the wave) as `decoded` (an item index)."""
    if decoded is None:
        return None
    return lambda row, _result: decoded(live[row])


def _retry(engine: Engine, asked: list[list[dict[str, str]]], attempts: list[list[Attempt]],
           checks: list[Callable[..., Any]], questions: list[str],
           settings: DecodingSettings, retries: int, batch_size: int,
           cancel: threading.Event | None) -> None:
    """`decode_until_verified` for a wave: check every answer as asked, then retry the ones
    the checker finds wrong or cannot read, a batch per plan step, in place in `attempts`."""
    for j, tries in enumerate(attempts):
        first = tries[0]
        tries[0] = Attempt(first.how, first.settings, first.result,
                           checks[j](first.result.text, question=questions[j]))
    retry_in_batches(
        lambda rows, each: engine.generate_batch([asked[j] for j in rows], each, cancel,
                                                 batch_size=batch_size),
        dict(enumerate(attempts)), lambda j, text: checks[j](text, question=questions[j]),
        retry_plan(settings, retries)[1:], cancel)
