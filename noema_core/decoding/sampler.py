"""The block-diffusion decoding loop (spec section 5) with an exact prefix KV cache.

The canvas is the prompt followed by mask slots, rounded up to whole blocks. Blocks are decoded
left to right; inside a block each forward unmasks confident slots and may edit earlier ones.
Because attention is block-causal, a final block's K/V never change, so caching them is exact:
the prompt's full blocks are prefilled once (and reused across chat turns when token-identical),
and each forward runs only the active block. A block's K/V are committed from the forward whose
input already held its final tokens; when the block ended with a change, its tokens ride along
with the next block's first forward to refresh their K/V (no extra forward).
`attention="card"` instead runs every forward on the whole window up to the active block under
the card's additive 0/1 mask, uncached, as the published generate() does.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from noema_core.decoding import policies
from noema_core.decoding.events import (
    BlockFinished,
    BlockUpdated,
    DecodingEvent,
    GenerationFinished,
    GenerationResult,
    GenerationStats,
    TokenState,
)
from noema_core.decoding.settings import Attention, DecodingSettings, Mode
from noema_core.errors import PromptTooLongError
from noema_core.model import KVCache, NoemaModel, block_causal_mask, card_attention_bias


@dataclass
class _BlockOutcome:
    forwards: int
    edits: int
    exact_kv: bool  # the last forward's input equals the final tokens


def canvas_length(prompt_tokens: int, settings: DecodingSettings, context: int) -> int:
    """Positions a generation needs: the prompt plus `gen_length`, rounded up to whole blocks.
    Raises `PromptTooLongError` (with the fix) when that exceeds the model's `context`, so a
    server can refuse a request before it queues for the engine."""
    B = settings.block_length
    if prompt_tokens == 0:
        raise PromptTooLongError("the prompt is empty: type a question first")
    canvas_len = math.ceil((prompt_tokens + settings.gen_length) / B) * B
    if canvas_len > context:
        raise PromptTooLongError(
            f"prompt ({prompt_tokens} tokens) + gen_length ({settings.gen_length}) needs "
            f"{canvas_len} positions but the model's context is {context}: shorten the prompt "
            f"or lower gen_length"
        )
    return canvas_len


class Sampler:
    """Decodes with one model. Keeps the KV cache between calls to reuse identical prompt blocks."""

    def __init__(self, model: NoemaModel, *, mask_id: int, eos_ids: Iterable[int],
                 role_end_id: int | None = None) -> None:
        """`eos_ids` always end a reply; `role_end_id` (the chat template's turn end) does too
        while `settings.stop_at_role_end` is on."""
        self.model = model
        self.mask_id = mask_id
        self.eos_ids = frozenset(eos_ids)
        self.role_end_id = role_end_id
        self.cache: KVCache | None = None
        self._cache_block_length = 0
        self.reused_tokens = 0  # prompt tokens whose K/V came from the previous call

    @property
    def device(self) -> torch.device:
        return self.model.model.word_embeddings.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.model.word_embeddings.weight.dtype

    @torch.inference_mode()
    def generate(self, prompt_ids: list[int], settings: DecodingSettings, *,
                 cancel: threading.Event | None = None, use_cache: bool = True,
                 detokenize: Callable[[int], str] | None = None,
                 decode: Callable[[list[int]], str] | None = None) -> Iterator[DecodingEvent]:
        """Yield a `BlockUpdated` per forward, a `BlockFinished` per block, then the result."""
        B = settings.block_length
        P = len(prompt_ids)
        canvas_len = canvas_length(P, settings, self.model.config.max_position_embeddings)
        started = time.perf_counter()
        stops = self.stop_ids(settings)
        # The card's mask lets earlier blocks see later ones: nothing can be cached.
        use_cache = use_cache and settings.attention is not Attention.CARD
        canvas = torch.full((canvas_len,), self.mask_id, dtype=torch.long, device=self.device)
        canvas[:P] = torch.tensor(prompt_ids, dtype=torch.long, device=self.device)
        first_block = P // B
        cache = self._prepare_cache(canvas[: first_block * B], B, canvas_len) if use_cache else None
        prefill_seconds = time.perf_counter() - started
        generator = None
        if settings.temperature > 0 and settings.seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(settings.seed)

        pending = False  # the previous block's K/V are stale and ride along with the next forward
        forwards = edits = blocks = 0
        cancelled = False
        for b in range(first_block, canvas_len // B):
            run = self._decode_block(canvas, b, P, settings, cache, pending, generator, cancel,
                                     detokenize, stops)
            outcome = yield from run
            forwards += outcome.forwards
            edits += outcome.edits
            if outcome.forwards == 0 or (cancel is not None and cancel.is_set()):
                cancelled = True
                break
            blocks += 1
            lo, hi = b * B, (b + 1) * B
            ids = canvas[max(lo, P):hi].tolist()
            yield BlockFinished(b - first_block, outcome.forwards, tuple(ids),
                                decode(ids) if decode else "", outcome.edits)
            if cache is not None:
                pending = not outcome.exact_kv
                if not pending:
                    cache.commit(canvas[lo:hi].tolist())
            if settings.eos_early_stop and first_stop(canvas[P:hi].tolist(), stops) is not None:
                break

        generated = canvas[P: P + settings.gen_length].tolist()
        eos_at = first_stop(generated, stops)
        out = [t for t in generated[:eos_at] if t != self.mask_id]
        finish = "cancelled" if cancelled else ("eos" if eos_at is not None else "length")
        stats = GenerationStats(prompt_tokens=P, new_tokens=len(out), forwards=forwards,
                                seconds=time.perf_counter() - started, edits=edits, blocks=blocks,
                                prefill_seconds=prefill_seconds)
        yield GenerationFinished(GenerationResult(tuple(out), decode(out) if decode else "",
                                                  stats, cancelled, finish))

    def _decode_block(self, canvas: Tensor, b: int, P: int, settings: DecodingSettings,
                      cache: KVCache | None, pending: bool, generator: torch.Generator | None,
                      cancel: threading.Event | None,
                      detokenize: Callable[[int], str] | None, stops: frozenset[int]
                      ) -> Iterator[DecodingEvent]:
        """Run forwards on block b until it is final; returns a `_BlockOutcome`."""
        B = settings.block_length
        lo, hi = b * B, (b + 1) * B
        prompt_slots = torch.arange(lo, hi, device=canvas.device) < P
        confidence = torch.zeros(B, device=canvas.device)
        # The block as the host last saw it: every decision that needs a count is taken from
        # this copy, so each forward reads the device exactly once (the snapshot).
        is_prompt = [lo + i < P for i in range(B)]
        ids = canvas[lo:hi].tolist()
        unmask_passes = post_steps = forwards = edits = 0
        while True:
            if cancel is not None and cancel.is_set():
                return _BlockOutcome(forwards, edits, exact_kv=False)
            block = canvas[lo:hi]
            logits = self._block_logits(canvas, b, B, cache, pending and forwards == 0,
                                        settings.attention)
            forwards += 1
            proposal = policies.propose(logits, mask_id=self.mask_id,
                                        temperature=settings.temperature, top_k=settings.top_k,
                                        top_p=settings.top_p, generator=generator)
            masked = (block == self.mask_id) & ~prompt_slots
            n_masked = sum(t == self.mask_id and not p for t, p in zip(ids, is_prompt, strict=True))
            had_masks = n_masked > 0
            if settings.mode is Mode.AR:
                unmask = policies.choose_leftmost(masked)
                edit = torch.zeros_like(masked)
            else:
                at_least = max(settings.num_to_transfer, policies.min_unmask_for_steps(
                    n_masked, unmask_passes, settings.steps))
                unmask = (policies.choose_unmask(masked, proposal.confidence, settings.threshold,
                                                 at_least, n_masked=n_masked)
                          if had_masks else masked)
                edit = policies.choose_edits(~masked & ~prompt_slots, block, proposal.tokens,
                                             proposal.confidence, settings.editing_threshold)
            new_block = torch.where(unmask | edit, proposal.tokens, block)
            confidence = torch.where(unmask | edit, proposal.confidence, confidence)
            canvas[lo:hi] = new_block
            update = self._snapshot(b, P, forwards, new_block, is_prompt, unmask, edit,
                                    confidence, detokenize, settings)
            ids = list(update.token_ids)
            n_edits = update.edits
            edits += n_edits
            yield update
            committed = [t for t, s in zip(ids, update.states, strict=True)
                         if s is TokenState.UNMASKED]
            changed = n_edits > 0 or bool(committed)
            if (settings.mode is Mode.AR and settings.eos_early_stop and committed
                    and committed[0] in stops):
                # Left to right without edits, nothing after an EOS can matter (the output
                # is cut there): close the block instead of spending forwards on padding.
                rest = (new_block == self.mask_id) & ~prompt_slots
                canvas[lo:hi] = new_block.masked_fill(rest, committed[0])
                return _BlockOutcome(forwards, edits, exact_kv=False)
            if had_masks:
                unmask_passes += 1
            else:
                post_steps += 1
            if update.masked == 0:
                if settings.mode is Mode.AR or settings.max_post_steps == 0:
                    return _BlockOutcome(forwards, edits, exact_kv=not changed)
                if not had_masks and not changed:
                    return _BlockOutcome(forwards, edits, exact_kv=True)
                if post_steps >= settings.max_post_steps:
                    return _BlockOutcome(forwards, edits, exact_kv=not changed)

    def _block_logits(self, canvas: Tensor, b: int, B: int, cache: KVCache | None,
                      refresh_previous: bool, attention: Attention) -> Tensor:
        """Logits [B, V] for block b: from the cache, or (reference path) the whole prefix."""
        lo, hi = b * B, (b + 1) * B
        if cache is None:
            # The reference path, as the published generate() does it: the canvas up to the
            # end of this block every forward, under the block-causal mask or the card's.
            if attention is Attention.CARD:
                mask = card_attention_bias(hi, B, dtype=self.dtype, device=canvas.device)
            else:
                mask = block_causal_mask(hi, B, device=canvas.device)
            logits = self.model(canvas[None, :hi], mask=mask, logits_slice=slice(lo, hi))
            return logits[0]
        if refresh_previous:
            start = lo - B
            mask = block_causal_mask(hi, B, query_start=start, device=canvas.device)
            logits = self.model(canvas[None, start:hi], start=start, mask=mask, cache=cache,
                                logits_slice=slice(B, 2 * B))
            cache.commit(canvas[start:lo].tolist())
            return logits[0]
        return self.model(canvas[None, lo:hi], start=lo, cache=cache)[0]

    def _snapshot(self, b: int, P: int, forward: int, block: Tensor, is_prompt: list[bool],
                  unmask: Tensor, edit: Tensor, confidence: Tensor,
                  detokenize: Callable[[int], str] | None,
                  settings: DecodingSettings) -> BlockUpdated:
        """The block after a forward, read from the device in one copy: ids, what each slot
        did (0 kept, 1 unmasked, 2 edited) and confidences, packed in one float64 tensor
        (token ids are exact in float64)."""
        action = unmask.to(torch.float64) + 2 * edit.to(torch.float64)
        ids_f, actions, confidences = torch.stack(
            [block.to(torch.float64), action, confidence.to(torch.float64)]).tolist()
        ids = [int(t) for t in ids_f]
        states = []
        for t, act, prompt in zip(ids, actions, is_prompt, strict=True):
            if prompt:
                states.append(TokenState.PROMPT)
            elif t == self.mask_id:
                states.append(TokenState.MASKED)
            elif act == 2:
                states.append(TokenState.EDITED)
            elif act == 1:
                states.append(TokenState.UNMASKED)
            else:
                states.append(TokenState.STABLE)
        n_edits = sum(s is TokenState.EDITED for s in states)
        pieces = (tuple("" if s is TokenState.MASKED else detokenize(t)
                        for t, s in zip(ids, states, strict=True)) if detokenize else ())
        first_generated_block = P // settings.block_length
        return BlockUpdated(b - first_generated_block, forward, tuple(ids), tuple(states),
                            tuple(round(c, 4) for c in confidences), pieces, n_edits)

    def stop_ids(self, settings: DecodingSettings) -> frozenset[int]:
        """The ids that end a reply under `settings`."""
        if settings.stop_at_role_end and self.role_end_id is not None:
            return self.eos_ids | {self.role_end_id}
        return self.eos_ids

    def _prepare_cache(self, prompt_blocks: Tensor, B: int, canvas_len: int) -> KVCache:
        """Reuse the longest block-aligned common prefix with the last call; prefill the rest."""
        cache, ids = self.cache, prompt_blocks.tolist()
        reuse = 0
        if cache is not None and self._cache_block_length == B:
            common = 0
            for old, new in zip(cache.tokens, ids, strict=False):
                if old != new:
                    break
                common += 1
            reuse = (common // B) * B
        capacity = canvas_len + B  # room for a refreshed block riding along
        if cache is None or cache.capacity < capacity or self._cache_block_length != B:
            fresh = KVCache(self.model.config, max(capacity, 2 * (cache.capacity if cache else 0)),
                            dtype=self.dtype, device=self.device)
            if cache is not None and reuse:
                fresh.k[:, :, :, :reuse] = cache.k[:, :, :, :reuse]
                fresh.v[:, :, :, :reuse] = cache.v[:, :, :, :reuse]
                fresh.tokens = cache.tokens[:reuse]
            cache = fresh
        cache.truncate(reuse)
        self.reused_tokens = reuse
        if len(ids) > reuse:
            mask = block_causal_mask(len(ids), B, query_start=reuse, device=self.device)
            self.model(prompt_blocks[None, reuse:], start=reuse, mask=mask, cache=cache,
                       logits_slice=slice(0, 0))
            cache.commit(ids[reuse:])
        self.cache, self._cache_block_length = cache, B
        return cache

    def reset_cache(self) -> None:
        self.cache = None


def first_stop(ids: list[int], stops: frozenset[int]) -> int | None:
    return next((i for i, t in enumerate(ids) if t in stops), None)
