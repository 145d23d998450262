"""Batched block-diffusion decoding: many prompts, one forward per step over all their blocks.

Each row of the batch is one prompt with its own length, current block, unmask/edit decisions,
post-steps and stopping, all booked on the device by the single-sequence `Sampler`'s own
`policy_step` over every row at once (each row's counters and done / exact flags are a row of
one [rows, STATE_SIZE] state); greedy output is the one `Sampler.generate` gives each prompt
alone. The rows share one KV cache addressed by position (`NoemaModel.forward(positions=...)`):
every forward writes each row's active block at that row's positions and attends under
`positional_block_mask`, so rows at different blocks never see each other's scratch.

- Blocks beside the step: a newly admitted row's full prompt blocks (its prefill), and the
  previous block of a row whose last forward changed it (stale K/V; the single sampler lets
  those tokens ride along with the next block's first forward) join the next step's forward
  as extra input rows, each mapped to its row's cache row (`extra_rows`), logits skipped.
  Every row writes its K/V before any row attends, so a block sees the blocks written beside
  it and the step stays one forward however many rows were admitted.
- `width` rows decode at once; when a row finishes, the next prompt takes its cache row
  (continuous batching), and once no prompt is left the finished rows leave the forward (a
  row from the end takes each one's cache row, so the rows decoding are the cache's first).

Sampling (temperature > 0) with a seed: every row draws from its own generator seeded with
`settings.seed`, in the order decoding it alone would, so a row's reply does not depend on
the batch size or on the other rows (the batched forward's logits are the single one's to
the bit where `noema_core.moe.group_rows` finds a padding that makes them so: float32 and
bf16 on the CPUs measured). Without a seed the rows share the global generator and nothing
is reproducible.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from noema_core.decoding.events import GenerationFinished, GenerationResult, GenerationStats
from noema_core.decoding.sampler import Sampler, canvas_length, first_stop, reply_tokens
from noema_core.decoding.settings import Attention, DecodingSettings
from noema_core.decoding.step import (
    DONE,
    EDITS,
    EXACT,
    FORWARDS,
    STATE_SIZE,
    StepRules,
    initial_state,
    policy_step,
)
from noema_core.model import KVCache, positional_block_mask


@dataclass
class _Row:
    """What the host must know of one prompt: the device holds its canvas row and the state of
    its active block (`policy_step`'s counters and flags)."""

    index: int  # in the caller's prompt list
    prompt_length: int
    canvas: list[int]  # the host copy of the row's canvas, updated after every forward
    block: int
    started: float
    prefill_seconds: float = 0.0  # the row's first forward, which carries its prefill
    generator: torch.Generator | None = None
    forwards: int = 0  # totals over the finished blocks
    edits: int = 0
    blocks: int = 0
    stale: bool = False  # the previous block's K/V are stale: refresh in the next forward
    prefill: list[int] = field(default_factory=list)  # prompt block starts not yet in the cache


class BatchSampler:
    """Decodes many prompts at once with the model, stop ids and mask of `sampler`."""

    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler
        self.model = sampler.model
        self.mask_id = sampler.mask_id
        # The last call's decoding forwards and the rows they carried (for `noema bench`).
        self.forwards = self.row_forwards = 0

    @torch.inference_mode()
    def generate_batch(self, prompts: Sequence[list[int]], settings: DecodingSettings,
                       cancel: threading.Event | None = None, *, width: int | None = None,
                       decode: Callable[[list[int]], str] | None = None,
                       on_result: Callable[[int, GenerationResult], None] | None = None
                       ) -> list[GenerationResult]:
        """One result per prompt, in order, decoding up to `width` (default: all) at once.

        `on_result(index, result)` hears each reply as soon as its row finishes. Setting
        `cancel` stops between forwards: rows in flight return their partial result and
        prompts not started an empty one, all with `cancelled=True`. Raises
        `PromptTooLongError` before any forward when a prompt does not fit the context.
        """
        context = self.model.config.max_position_embeddings
        lengths = [canvas_length(len(p), settings, context) for p in prompts]
        results: list[GenerationResult | None] = [None] * len(prompts)
        self.forwards = self.row_forwards = 0

        def finish(index: int, result: GenerationResult) -> None:
            results[index] = result
            if on_result is not None:
                on_result(index, result)

        if settings.attention is Attention.CARD:
            # The card's mask lets earlier blocks see later ones: no cache, so no shared
            # position-addressed batch; decode one prompt after another.
            self._one_by_one(prompts, settings, cancel, decode, finish)
        elif prompts:
            self._decode(prompts, lengths, settings, cancel, width or len(prompts), decode,
                         finish)
        empty = GenerationStats(prompt_tokens=0, new_tokens=0, forwards=0, seconds=0.0)
        return [r if r is not None else GenerationResult((), "", empty, True, "cancelled")
                for r in results]

    def _one_by_one(self, prompts: Sequence[list[int]], settings: DecodingSettings,
                    cancel: threading.Event | None,
                    decode: Callable[[list[int]], str] | None,
                    finish: Callable[[int, GenerationResult], None]) -> None:
        for index, prompt in enumerate(prompts):
            if cancel is not None and cancel.is_set():
                return
            for event in self.sampler.generate(prompt, settings, cancel=cancel, decode=decode):
                if isinstance(event, GenerationFinished):
                    finish(index, event.result)

    def _decode(self, prompts: Sequence[list[int]], lengths: list[int],
                settings: DecodingSettings, cancel: threading.Event | None, width: int,
                decode: Callable[[list[int]], str] | None,
                finish: Callable[[int, GenerationResult], None]) -> None:
        device = self.sampler.device
        stops = self.sampler.stop_ids(settings)
        rules = StepRules.of(settings, self.mask_id)
        stop_ids = torch.tensor(sorted(stops), dtype=torch.long, device=device)
        width = min(width, len(prompts))
        capacity = max(lengths)
        cache = KVCache(self.model.config, capacity, batch=width, dtype=self.sampler.dtype,
                        device=device)
        canvas = torch.full((width, capacity), self.mask_id, dtype=torch.long, device=device)
        # Row i of `state` is the state of active[i]'s current block: rows are admitted,
        # restarted and dropped together with `active`, `canvas` and the cache.
        state = torch.zeros(width, STATE_SIZE, dtype=torch.long, device=device)
        queue = deque(range(len(prompts)))
        active: list[_Row] = []
        self._admit(canvas, state, active, list(range(width)), queue, prompts, lengths,
                    settings)
        while active:
            if cancel is not None and cancel.is_set():
                # The blocks in flight count their forwards so far, as the single sampler's.
                for row, head in zip(active, state.tolist(), strict=True):
                    row.forwards += head[FORWARDS]
                    row.edits += head[EDITS]
                    finish(row.index, self._result(row, settings, stops, decode, "cancelled"))
                return
            state, done = self._step(cache, canvas, state, active, settings, rules, stops,
                                     stop_ids)
            for i in done:
                finish(active[i].index, self._result(active[i], settings, stops, decode))
            # The next prompts take the finished rows; once none is left, drop the rest.
            refill, drop = done[:len(queue)], set(done[len(queue):])
            if refill:
                self._admit(canvas, state, active, refill, queue, prompts, lengths,
                            settings)
            if drop:
                canvas, state, active = self._drop(cache, canvas, state, active, drop)

    @staticmethod
    def _drop(cache: KVCache, canvas: Tensor, state: Tensor, active: list[_Row],
              drop: set[int]) -> tuple[Tensor, Tensor, list[_Row]]:
        """Leave rows `drop` out of the next steps: the rows kept become the first ones, a
        row from the end moving into each dropped slot below them. The forward reads only
        the cache's first rows, so the cache keeps its size and only moved rows are copied
        (a 16-row cache of a 1k-token canvas is about 70 MB a tensor: copying it all at
        every drop cost more than a forward)."""
        kept = len(active) - len(drop)
        holes = sorted(i for i in drop if i < kept)
        movers = [i for i in range(kept, len(active)) if i not in drop]
        cache.move_rows(movers, holes)
        order = list(range(kept))
        for hole, mover in zip(holes, movers, strict=True):
            order[hole] = mover
        rows = torch.tensor(order, dtype=torch.long, device=canvas.device)
        return (canvas.index_select(0, rows), state.index_select(0, rows),
                [active[i] for i in order])

    def _admit(self, canvas: Tensor, state: Tensor, active: list[_Row],
               slots: list[int], queue: deque[int], prompts: Sequence[list[int]],
               lengths: list[int], settings: DecodingSettings) -> None:
        """Start the next prompts of `queue` in cache rows `slots` (in place in `active` and
        `state`)."""
        B = settings.block_length
        rows = [self._new_row(queue.popleft(), prompts, lengths, settings, B) for _ in slots]
        index = torch.tensor(slots, device=canvas.device)
        fresh = torch.full((len(rows), canvas.shape[1]), self.mask_id, dtype=torch.long,
                           device=canvas.device)
        for i, row in enumerate(rows):
            fresh[i, :len(row.canvas)] = torch.tensor(row.canvas, device=canvas.device)
        canvas[index] = fresh
        self._start_blocks(canvas, state, rows, slots, B)
        for slot, row in zip(slots, rows, strict=True):
            if slot < len(active):
                active[slot] = row
            else:
                active.append(row)

    def _new_row(self, index: int, prompts: Sequence[list[int]], lengths: list[int],
                 settings: DecodingSettings, B: int) -> _Row:
        prompt = list(prompts[index])
        canvas = prompt + [self.mask_id] * (lengths[index] - len(prompt))
        generator = None
        if settings.temperature > 0 and settings.seed is not None:
            generator = torch.Generator(device=self.sampler.device).manual_seed(settings.seed)
        block = len(prompt) // B
        return _Row(index, len(prompt), canvas, block, time.perf_counter(),
                    generator=generator, prefill=[b * B for b in range(block)])

    @staticmethod
    def _blocks(rows: list[_Row], B: int, device: torch.device) -> tuple[Tensor, Tensor]:
        """The canvas positions [rows, B] of the rows' current blocks, and which hold the
        prompt."""
        positions = torch.tensor([row.block * B for row in rows], device=device)[:, None] \
            + torch.arange(B, device=device)
        prompt_length = torch.tensor([row.prompt_length for row in rows], device=device)
        return positions, positions < prompt_length[:, None]

    def _start_blocks(self, canvas: Tensor, state: Tensor, rows: list[_Row],
                      slots: list[int], B: int) -> None:
        """Give `rows` (in canvas rows `slots`) a fresh state for their current blocks."""
        positions, prompt_slots = self._blocks(rows, B, canvas.device)
        index = torch.tensor(slots, device=canvas.device)
        block = canvas.index_select(0, index).gather(1, positions)
        state.index_copy_(0, index, initial_state(block, prompt_slots, self.mask_id))

    def _beside(self, canvas: Tensor, active: list[_Row], B: int
                ) -> tuple[Tensor, Tensor, Tensor] | None:
        """The blocks that ride along with this step (new rows' prompt blocks, stale previous
        blocks): their ids and positions [n, B] and cache rows [n], or None if there are none.
        """
        rows, starts = [], []
        for i, row in enumerate(active):
            for lo in row.prefill + ([(row.block - 1) * B] if row.stale else []):
                rows.append(i)
                starts.append(lo)
            row.prefill, row.stale = [], False
        if not rows:
            return None
        device = canvas.device
        cache_rows = torch.tensor(rows, device=device)
        positions = torch.tensor(starts, device=device)[:, None] \
            + torch.arange(B, device=device)
        return canvas.index_select(0, cache_rows).gather(1, positions), positions, cache_rows

    def _step(self, cache: KVCache, canvas: Tensor, state: Tensor, active: list[_Row],
              settings: DecodingSettings, rules: StepRules, stops: frozenset[int],
              stop_ids: Tensor) -> tuple[Tensor, list[int]]:
        """One forward over every row's active block, booked by `policy_step`; returns the
        new state and the rows that finished."""
        B = settings.block_length
        device = canvas.device
        positions, prompt_slots = self._blocks(active, B, device)
        attend = max(row.block + 1 for row in active) * B
        block = canvas.gather(1, positions)
        first = [i for i, row in enumerate(active) if row.prefill]
        began = time.perf_counter()
        ids, all_positions, side_rows = block, positions, None
        beside = self._beside(canvas, active, B)
        if beside is not None:
            side_ids, side_positions, side_rows = beside
            ids = torch.cat([block, side_ids])
            all_positions = torch.cat([positions, side_positions])
        logits = self.model(ids, positions=all_positions, cache=cache, attend=attend,
                            extra_rows=side_rows,
                            mask=positional_block_mask(all_positions, attend, B))
        self.forwards += 1
        self.row_forwards += len(active)
        # Seeded rows draw each from its own generator, as each would alone.
        generators = ([row.generator for row in active]
                      if any(row.generator is not None for row in active) else None)
        # Nobody reads the confidences here (no snapshots): every step starts them at 0.
        step = policy_step(logits, block, prompt_slots, torch.zeros(block.shape, device=device),
                           state, stop_ids, rules, generators)
        canvas.scatter_(1, positions, step.block)
        # The one host read of the step: every row's state vector and block.
        values = torch.cat([step.state, step.block], dim=1).tolist()
        for i in first:
            active[i].prefill_seconds = time.perf_counter() - began
        done, restart = [], []
        for i, (row, row_values) in enumerate(zip(active, values, strict=True)):
            head = row_values[:STATE_SIZE]
            lo = row.block * B
            row.canvas[lo:lo + B] = row_values[STATE_SIZE:]
            if not head[DONE]:
                continue
            row.forwards += head[FORWARDS]
            row.edits += head[EDITS]
            row.blocks += 1
            row.stale = not head[EXACT]
            hi = lo + B
            if (settings.eos_early_stop
                    and first_stop(row.canvas[row.prompt_length:hi], stops) is not None) \
                    or hi >= len(row.canvas):
                done.append(i)
            else:
                row.block += 1
                restart.append(i)
        if restart:
            self._start_blocks(canvas, step.state, [active[i] for i in restart], restart, B)
        return step.state, done

    def _result(self, row: _Row, settings: DecodingSettings, stops: frozenset[int],
                decode: Callable[[list[int]], str] | None,
                finish: str | None = None) -> GenerationResult:
        P = row.prompt_length
        out, ended = reply_tokens(row.canvas, P, settings.gen_length, stops, self.mask_id)
        finish = finish or ended
        stats = GenerationStats(prompt_tokens=P, new_tokens=len(out), forwards=row.forwards,
                                seconds=time.perf_counter() - row.started, edits=row.edits,
                                blocks=row.blocks, prefill_seconds=row.prefill_seconds)
        return GenerationResult(tuple(out), decode(out) if decode else "", stats,
                                finish == "cancelled", finish)
