"""Batched block-diffusion decoding: many prompts, one forward per step over all their blocks.

Each row of the batch is one prompt with its own length, current block, unmask/edit decisions
(the same `policies` as the single-sequence `Sampler`, applied per row), post-steps and
stopping; greedy output is the one `Sampler.generate` gives each prompt alone. The rows share
one KV cache addressed by position (`NoemaModel.forward(positions=...)`): every forward
writes each row's active block at that row's positions and attends under
`positional_block_mask`, so rows at different blocks never see each other's scratch.

- Prefill: a newly admitted row's full prompt blocks, padded to the longest among the rows
  admitted with it. Past a row's own prompt blocks the padding leaves junk K/V, but only in
  blocks the row has not reached: its first forward overwrites its current block and the
  mask hides later ones until it gets there.
- A block whose last forward changed it leaves stale K/V (the single sampler lets its tokens
  ride along with the next block's first forward). Here the rows that need it get a small
  forward of their own before their next block, logits skipped, so the step's forward keeps
  one shape for every row.
- `width` rows decode at once; when a row finishes, the next prompt takes its cache row
  (continuous batching), and once no prompt is left the finished rows are dropped from the
  cache (`index_select`) so they cost nothing.

Sampling (temperature > 0) with a seed: every row draws from its own generator seeded with
`settings.seed`, in the order decoding it alone would, so a row's reply does not depend on
the batch size or on the other rows (as far as the batched forward's logits agree with the
single one's; they match to rounding, not always bit for bit). Without a seed the rows
share the global generator and nothing is reproducible.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from noema_core.decoding import policies
from noema_core.decoding.events import GenerationFinished, GenerationResult, GenerationStats
from noema_core.decoding.sampler import Sampler, canvas_length, first_stop, reply_tokens
from noema_core.decoding.settings import Attention, DecodingSettings, Mode
from noema_core.model import KVCache, positional_block_mask


@dataclass
class _Row:
    """One prompt's decoding state, kept on the host (the device holds its canvas row)."""

    index: int  # in the caller's prompt list
    prompt_length: int
    canvas: list[int]  # the host copy of the row's canvas, updated after every forward
    block: int
    started: float
    prefill_seconds: float = 0.0
    generator: torch.Generator | None = None
    n_masked: int = 0  # masks of the active block, outside the prompt
    unmask_passes: int = 0
    post_steps: int = 0
    forwards: int = 0
    edits: int = 0
    blocks: int = 0
    stale: bool = False  # the previous block's K/V are stale: refresh before the next forward

    def start_block(self, block: int, block_length: int, mask_id: int) -> None:
        self.block, self.unmask_passes, self.post_steps = block, 0, 0
        lo = block * block_length
        self.n_masked = sum(t == mask_id for t in self.canvas[max(lo, self.prompt_length):
                                                             lo + block_length])


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
        B = settings.block_length
        device = self.sampler.device
        stops = self.sampler.stop_ids(settings)
        width = min(width, len(prompts))
        capacity = max(lengths)
        cache = KVCache(self.model.config, capacity, batch=width, dtype=self.sampler.dtype,
                        device=device)
        canvas = torch.full((width, capacity), self.mask_id, dtype=torch.long, device=device)
        queue = deque(range(len(prompts)))
        active: list[_Row] = []
        self._admit(cache, canvas, active, list(range(width)), queue, prompts, lengths, settings)
        while active:
            if cancel is not None and cancel.is_set():
                for row in active:
                    finish(row.index, self._result(row, settings, stops, decode, "cancelled"))
                return
            stale = [i for i, row in enumerate(active) if row.stale]
            if stale:
                self._refresh(cache, canvas, active, stale, B)
            done = self._step(cache, canvas, active, settings, stops)
            for i in done:
                finish(active[i].index, self._result(active[i], settings, stops, decode))
            # The next prompts take the finished rows; once none is left, drop the rest.
            refill, drop = done[:len(queue)], set(done[len(queue):])
            if refill:
                self._admit(cache, canvas, active, refill, queue, prompts, lengths, settings)
            if drop:
                keep = [i for i in range(len(active)) if i not in drop]
                rows = torch.tensor(keep, dtype=torch.long, device=device)
                cache, canvas = cache.select_rows(rows), canvas.index_select(0, rows)
                active = [active[i] for i in keep]

    def _admit(self, cache: KVCache, canvas: Tensor, active: list[_Row], slots: list[int],
               queue: deque[int], prompts: Sequence[list[int]], lengths: list[int],
               settings: DecodingSettings) -> None:
        """Start the next prompts of `queue` in cache rows `slots` (in place in `active`)."""
        B = settings.block_length
        rows = [self._new_row(queue.popleft(), prompts, lengths, settings, B) for _ in slots]
        self._prefill(cache, canvas, slots, rows, B)
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
        row = _Row(index, len(prompt), canvas, len(prompt) // B, time.perf_counter(),
                   generator=generator)
        row.start_block(row.block, B, self.mask_id)
        return row

    def _prefill(self, cache: KVCache, canvas: Tensor, slots: list[int], rows: list[_Row],
                 B: int) -> None:
        """Write the new rows' canvases into their cache rows and prefill their full prompt
        blocks (padded to the longest), in a forward of their own."""
        began = time.perf_counter()
        index = torch.tensor(slots, device=canvas.device)
        fresh = torch.full((len(rows), canvas.shape[1]), self.mask_id, dtype=torch.long,
                           device=canvas.device)
        for i, row in enumerate(rows):
            fresh[i, :len(row.canvas)] = torch.tensor(row.canvas, device=canvas.device)
        canvas[index] = fresh
        length = max(row.block for row in rows) * B
        if length:
            sub = KVCache(self.model.config, length, batch=len(rows), dtype=cache.k.dtype,
                          device=canvas.device)
            positions = torch.arange(length, device=canvas.device).expand(len(rows), length)
            self.model(fresh[:, :length], positions=positions, cache=sub, attend=length,
                       mask=positional_block_mask(positions, length, B),
                       logits_slice=slice(0, 0))
            cache.k[:, index, :, :length] = sub.k
            cache.v[:, index, :, :length] = sub.v
        for row in rows:
            row.prefill_seconds = time.perf_counter() - began

    def _refresh(self, cache: KVCache, canvas: Tensor, active: list[_Row], stale: list[int],
                 B: int) -> None:
        """Recompute the K/V of the stale rows' previous blocks from their final tokens."""
        starts = [(active[i].block - 1) * B for i in stale]
        upto = max(starts) + B
        offsets = torch.arange(B, device=canvas.device)
        positions = torch.tensor(starts, device=canvas.device)[:, None] + offsets
        mask = positional_block_mask(positions, upto, B)
        if len(stale) == len(active):  # every row: write in place
            ids = canvas.gather(1, positions)
            self.model(ids, positions=positions, cache=cache, attend=upto, mask=mask,
                       logits_slice=slice(0, 0))
        else:
            index = torch.tensor(stale, device=canvas.device)
            sub = cache.select_rows(index, upto=upto)
            ids = canvas.index_select(0, index).gather(1, positions)
            self.model(ids, positions=positions, cache=sub, attend=upto, mask=mask,
                       logits_slice=slice(0, 0))
            for j, (i, lo) in enumerate(zip(stale, starts, strict=True)):
                cache.k[:, i, :, lo:lo + B] = sub.k[:, j, :, lo:lo + B]
                cache.v[:, i, :, lo:lo + B] = sub.v[:, j, :, lo:lo + B]
        for i in stale:
            active[i].stale = False

    def _step(self, cache: KVCache, canvas: Tensor, active: list[_Row],
              settings: DecodingSettings, stops: frozenset[int]) -> list[int]:
        """One forward over every row's active block; returns the rows that finished."""
        B = settings.block_length
        device = canvas.device
        positions = torch.tensor([row.block * B for row in active], device=device)[:, None] \
            + torch.arange(B, device=device)
        attend = max(row.block + 1 for row in active) * B
        block = canvas.gather(1, positions)
        logits = self.model(block, positions=positions, cache=cache, attend=attend,
                            mask=positional_block_mask(positions, attend, B))
        self.forwards += 1
        self.row_forwards += len(active)
        tokens, confidence = self._propose(logits, settings, active)
        prompt_length = torch.tensor([row.prompt_length for row in active], device=device)
        prompt_slots = positions < prompt_length[:, None]
        masked = (block == self.mask_id) & ~prompt_slots
        if settings.mode is Mode.AR:
            unmask = policies.choose_leftmost(masked)
            edit = torch.zeros_like(masked)
        else:
            # One call over every row (a row with no masks left unmasks nothing).
            counts = torch.tensor([[row.n_masked, row.unmask_passes] for row in active],
                                  device=device)
            at_least = policies.min_unmask_for_steps(counts[:, 0], counts[:, 1],
                                                     settings.steps)
            at_least = at_least.clamp(min=settings.num_to_transfer)
            unmask = policies.choose_unmask(masked, confidence, settings.threshold, at_least)
            edit = policies.choose_edits(~masked & ~prompt_slots, block, tokens, confidence,
                                         settings.editing_threshold)
        new_block = torch.where(unmask | edit, tokens, block)
        canvas.scatter_(1, positions, new_block)
        # The one host read of the step: every row's block and what each slot did.
        ids, actions = torch.stack([new_block, unmask.long() + 2 * edit.long()]).tolist()
        done = []
        for i, row in enumerate(active):
            exact = self._observe(row, ids[i], actions[i], settings, stops)
            if exact is None:
                continue
            row.blocks += 1
            row.stale = not exact
            hi = (row.block + 1) * B
            if (settings.eos_early_stop
                    and first_stop(row.canvas[row.prompt_length:hi], stops) is not None) \
                    or hi >= len(row.canvas):
                done.append(i)
            else:
                row.start_block(row.block + 1, B, self.mask_id)
        return done

    def _propose(self, logits: Tensor, settings: DecodingSettings,
                 active: list[_Row]) -> tuple[Tensor, Tensor]:
        """Tokens and confidences [rows, B]: one call over every row, or one per row when
        each row draws from its own seeded generator."""
        kw = {"mask_id": self.mask_id, "temperature": settings.temperature,
              "top_k": settings.top_k, "top_p": settings.top_p}
        if any(row.generator is not None for row in active):
            proposals = [policies.propose(logits[i], generator=row.generator, **kw)
                         for i, row in enumerate(active)]
            return (torch.stack([p.tokens for p in proposals]),
                    torch.stack([p.confidence for p in proposals]))
        rows, B, V = logits.shape
        proposal = policies.propose(logits.reshape(rows * B, V), **kw)
        return proposal.tokens.view(rows, B), proposal.confidence.view(rows, B)

    def _observe(self, row: _Row, ids: list[int], actions: list[int],
                 settings: DecodingSettings, stops: frozenset[int]) -> bool | None:
        """Book one forward's outcome for `row` as `Sampler._decode_block` does: None while
        the block goes on, else whether its K/V are exact (the last input was final)."""
        B = settings.block_length
        lo = row.block * B
        had_masks = row.n_masked > 0
        row.forwards += 1
        row.canvas[lo:lo + B] = ids
        n_edits = actions.count(2)  # prompt slots never act
        committed = [t for t, a in zip(ids, actions, strict=True) if a == 1]
        row.edits += n_edits
        changed = n_edits > 0 or bool(committed)
        first = max(lo, row.prompt_length)
        if (settings.mode is Mode.AR and settings.eos_early_stop and committed
                and committed[0] in stops):
            # As the single sampler: nothing after an EOS can matter, close the block.
            row.canvas[first:lo + B] = [committed[0] if t == self.mask_id else t
                                        for t in row.canvas[first:lo + B]]
            return False
        if had_masks:
            row.unmask_passes += 1
        else:
            row.post_steps += 1
        row.n_masked = row.canvas[first:lo + B].count(self.mask_id)
        if row.n_masked:
            return None
        if settings.mode is Mode.AR or settings.max_post_steps == 0:
            return not changed
        if not had_masks and not changed:
            return True
        if row.post_steps >= settings.max_post_steps:
            return not changed
        return None

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
