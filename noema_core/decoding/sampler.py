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

from noema_core.decoding.compiled import (
    BlockForward,
    LayeredKVCache,
    cache_capacity,
    compile_by_default,
)
from noema_core.decoding.events import (
    BlockFinished,
    BlockUpdated,
    DecodingEvent,
    GenerationFinished,
    GenerationResult,
    GenerationStats,
    TokenState,
)
from noema_core.decoding.settings import Attention, DecodingSettings
from noema_core.decoding.step import (
    DONE,
    EDITS,
    EXACT,
    FORWARDS,
    MASKED,
    STATE_SIZE,
    StepResult,
    StepRules,
    earliest_done,
    initial_state,
    policy_step,
)
from noema_core.errors import PromptTooLongError
from noema_core.model import KVCache, NoemaModel, block_causal_mask, card_attention_bias


@dataclass
class _BlockOutcome:
    forwards: int
    edits: int
    exact_kv: bool  # the last forward's input equals the final tokens
    ids: list[int]  # the block's tokens as it ended


@dataclass(frozen=True)
class _Run:
    """What every block of one generation shares."""

    settings: DecodingSettings
    rules: StepRules
    prompt_tokens: int
    stops: frozenset[int]
    stop_ids: Tensor  # the same ids on the device
    generator: torch.Generator | None
    cancel: threading.Event | None
    detokenize: Callable[[int], str] | None
    stream: bool
    every: int  # with stream off: look at a block's done flag at most this often


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
                 role_end_id: int | None = None, compile: bool | None = None,
                 notice: Callable[[str], None] | None = None) -> None:
        """`eos_ids` always end a reply; `role_end_id` (the chat template's turn end) does too
        while `settings.stop_at_role_end` is on. `compile` runs the cached block forwards
        through one compiled fixed-shape graph (`compiled.BlockForward`); None compiles where
        that is the default (`compile_by_default`: CUDA, unquantized). `notice` hears the one
        line saying so if compiling fails and decoding goes on eagerly."""
        self.model = model
        self.compile = compile_by_default(model) if compile is None else compile
        self.notice = notice
        self._compiled: dict[int, BlockForward] = {}  # per block length
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
                 decode: Callable[[list[int]], str] | None = None,
                 stream: bool = True, done_check_every: int = 1) -> Iterator[DecodingEvent]:
        """Yield a `BlockUpdated` per forward, a `BlockFinished` per block, then the result.

        Each forward reads the device once, for its snapshot. With `stream=False` (nobody
        draws the forwards: benchmarks, batch jobs) there are no `BlockUpdated` events and
        no snapshots: a block's done flag is read only at forwards where it could be done,
        and at most every `done_check_every` forwards (a done block is frozen on the device,
        so looking late costs idle forwards, never different tokens)."""
        B = settings.block_length
        P = len(prompt_ids)
        canvas_len = canvas_length(P, settings, self.model.config.max_position_embeddings)
        started = time.perf_counter()
        stops = self.stop_ids(settings)
        # The card's mask lets earlier blocks see later ones: nothing can be cached.
        use_cache = use_cache and settings.attention is not Attention.CARD
        # The canvas as the host knows it (the prompt, then each block as it is finished),
        # so nothing is read back from the device canvas between blocks.
        known = list(prompt_ids) + [self.mask_id] * (canvas_len - P)
        canvas = torch.tensor(known, dtype=torch.long, device=self.device)
        first_block = P // B
        cache = (self._prepare_cache(prompt_ids[: first_block * B], canvas, B, canvas_len)
                 if use_cache else None)
        prefill_seconds = time.perf_counter() - started
        generator = None
        if settings.temperature > 0 and settings.seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(settings.seed)
        run = _Run(settings, StepRules.of(settings, self.mask_id), P, stops,
                   torch.tensor(sorted(stops), dtype=torch.long, device=self.device),
                   generator, cancel, detokenize, stream,
                   # Idle forwards still draw random numbers: a sampled run looks each time.
                   1 if generator is not None else max(1, done_check_every))

        pending: list[int] | None = None  # a stale block's ids: its K/V ride along next
        forwards = edits = blocks = 0
        cancelled = False
        for b in range(first_block, canvas_len // B):
            outcome = yield from self._decode_block(canvas, b, run, cache, pending)
            forwards += outcome.forwards
            edits += outcome.edits
            lo, hi = b * B, (b + 1) * B
            known[lo:hi] = outcome.ids
            if outcome.forwards == 0 or (cancel is not None and cancel.is_set()):
                cancelled = True
                break
            blocks += 1
            ids = known[max(lo, P):hi]
            yield BlockFinished(b - first_block, outcome.forwards, tuple(ids),
                                decode(ids) if decode else "", outcome.edits)
            if cache is not None:
                pending = None if outcome.exact_kv else outcome.ids
                if pending is None:
                    cache.commit(outcome.ids)
            if settings.eos_early_stop and first_stop(known[P:hi], stops) is not None:
                break

        out, ended = reply_tokens(known, P, settings.gen_length, stops, self.mask_id)
        finish = "cancelled" if cancelled else ended
        stats = GenerationStats(prompt_tokens=P, new_tokens=len(out), forwards=forwards,
                                seconds=time.perf_counter() - started, edits=edits, blocks=blocks,
                                prefill_seconds=prefill_seconds)
        yield GenerationFinished(GenerationResult(tuple(out), decode(out) if decode else "",
                                                  stats, cancelled, finish))

    def _decode_block(self, canvas: Tensor, b: int, run: _Run, cache: KVCache | None,
                      pending: list[int] | None) -> Iterator[DecodingEvent]:
        """Run forwards on block b until it is final; returns a `_BlockOutcome`. Decisions
        and counters stay on the device (`policy_step`); the host reads the block once per
        forward when streaming, else only when it could be done."""
        settings, rules = run.settings, run.rules
        B = settings.block_length
        lo, hi = b * B, (b + 1) * B
        # One row of `policy_step`'s batch: [1, B] tensors and a [1, STATE_SIZE] state.
        prompt_slots = (torch.arange(lo, hi, device=canvas.device) < run.prompt_tokens)[None]
        is_prompt = [lo + i < run.prompt_tokens for i in range(B)]
        confidence = torch.zeros(1, B, device=canvas.device)
        state = initial_state(canvas[None, lo:hi], prompt_slots, self.mask_id)
        masked = B - sum(is_prompt)  # a fresh block: every generated slot is masked
        next_look = earliest_done(masked, rules, run.every)
        ran = 0
        while True:
            if run.cancel is not None and run.cancel.is_set():
                ids, head = self._read(canvas[lo:hi], state[0])
                return _BlockOutcome(head[FORWARDS], head[EDITS], False, ids)
            logits = self._block_logits(canvas, b, B, cache, pending if ran == 0 else None,
                                        settings.attention)
            ran += 1
            step = policy_step(logits[None], canvas[None, lo:hi], prompt_slots, confidence,
                               state, run.stop_ids, rules, run.generator)
            canvas[lo:hi] = step.block[0]
            confidence, state = step.confidence, step.state
            if run.stream:
                update, ids, head = self._snapshot(b, run, step.row(0), is_prompt)
                yield update
            elif ran < next_look:
                continue
            else:
                ids, head = self._read(step.block[0], state[0])
            if head[DONE]:
                return _BlockOutcome(head[FORWARDS], head[EDITS], bool(head[EXACT]), ids)
            next_look = ran + earliest_done(head[MASKED], rules, run.every)

    @staticmethod
    def _read(block: Tensor, state: Tensor) -> tuple[list[int], list[int]]:
        """The block's ids and its state vector, in one device-to-host copy."""
        values = torch.cat([state, block]).tolist()
        return values[STATE_SIZE:], values[:STATE_SIZE]

    def _block_logits(self, canvas: Tensor, b: int, B: int, cache: KVCache | None,
                      refresh: list[int] | None, attention: Attention) -> Tensor:
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
        compiled = self._compiled_forward(B)
        if compiled is not None:
            if refresh is not None:  # the same graph, on the stale block first
                compiled(canvas[lo - B:lo], lo - B, cache)
                cache.commit(refresh)
            return compiled(canvas[lo:hi], lo, cache)
        if refresh is not None:  # the previous block's ids, whose K/V are stale
            start = lo - B
            mask = block_causal_mask(hi, B, query_start=start, device=canvas.device)
            logits = self.model(canvas[None, start:hi], start=start, mask=mask, cache=cache,
                                logits_slice=slice(B, 2 * B))
            cache.commit(refresh)
            return logits[0]
        return self.model(canvas[None, lo:hi], start=lo, cache=cache)[0]

    def _compiled_forward(self, B: int) -> BlockForward | None:
        if not self.compile:
            return None
        if B not in self._compiled:
            self._compiled[B] = BlockForward(self.model, B, self.notice)
        forward = self._compiled[B]
        return forward if forward.compiled else None

    @property
    def compiled(self) -> bool:
        """Whether the cached forwards run compiled (False after a failed compile)."""
        return self.compile and all(f.compiled for f in self._compiled.values())

    def _snapshot(self, b: int, run: _Run, step: StepResult, is_prompt: list[bool]
                  ) -> tuple[BlockUpdated, list[int], list[int]]:
        """The block after a forward, read from the device in one copy: ids, what each slot
        did (0 kept, 1 unmasked, 2 edited), confidences and the block's state vector, packed
        in one float64 tensor (token ids and counters are exact in float64). Slots an AR stop
        closed are shown as the masks they were when the forward ran."""
        block = step.block
        action = (step.unmask.to(torch.float64) + 2 * step.edit.to(torch.float64)
                  + 3 * step.filled.to(torch.float64))
        head = torch.zeros_like(action)
        head[:STATE_SIZE] = step.state.to(torch.float64)
        ids_f, actions, confidences, head_f = torch.stack(
            [block.to(torch.float64), action, step.confidence.to(torch.float64), head]).tolist()
        block_ids = [int(t) for t in ids_f]
        ids = [self.mask_id if act == 3 else t for t, act in zip(block_ids, actions, strict=True)]
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
        detokenize = run.detokenize
        pieces = (tuple("" if s is TokenState.MASKED else detokenize(t)
                        for t, s in zip(ids, states, strict=True)) if detokenize else ())
        state = [int(v) for v in head_f[:STATE_SIZE]]
        first_generated_block = run.prompt_tokens // run.settings.block_length
        update = BlockUpdated(b - first_generated_block, state[FORWARDS], tuple(ids),
                              tuple(states), tuple(round(c, 4) for c in confidences), pieces,
                              n_edits)
        return update, block_ids, state

    def stop_ids(self, settings: DecodingSettings) -> frozenset[int]:
        """The ids that end a reply under `settings`."""
        if settings.stop_at_role_end and self.role_end_id is not None:
            return self.eos_ids | {self.role_end_id}
        return self.eos_ids

    def _prepare_cache(self, ids: list[int], canvas: Tensor, B: int,
                       canvas_len: int) -> KVCache:
        """Reuse the longest block-aligned common prefix with the last call; prefill the rest
        (`ids`, the prompt's full blocks, are also the head of `canvas`)."""
        cache = self.cache
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
            size = max(capacity, 2 * (cache.capacity if cache else 0))
            kind = KVCache
            if self.compile:  # the compiled graph's shapes follow the capacity: few sizes
                size, kind = cache_capacity(size), LayeredKVCache
            fresh = kind(self.model.config, size, dtype=self.dtype, device=self.device)
            if cache is not None and reuse:
                for new, old in zip([*fresh.k, *fresh.v], [*cache.k, *cache.v], strict=True):
                    new[:, :, :reuse] = old[:, :, :reuse]  # layer by layer: either layout
                fresh.tokens = cache.tokens[:reuse]
            cache = fresh
        cache.truncate(reuse)
        self.reused_tokens = reuse
        if len(ids) > reuse:
            mask = block_causal_mask(len(ids), B, query_start=reuse, device=self.device)
            self.model(canvas[None, reuse:len(ids)], start=reuse, mask=mask, cache=cache,
                       logits_slice=slice(0, 0))
            cache.commit(ids[reuse:])
        self.cache, self._cache_block_length = cache, B
        return cache

    def reset_cache(self) -> None:
        self.cache = None


def first_stop(ids: list[int], stops: frozenset[int]) -> int | None:
    return next((i for i, t in enumerate(ids) if t in stops), None)


def reply_tokens(canvas: list[int], prompt_tokens: int, gen_length: int,
                 stops: frozenset[int], mask_id: int) -> tuple[list[int], str]:
    """The reply in a decoded canvas: the generated tokens before the first stop, masks left
    out, and how it ended ("eos" at a stop token, else "length")."""
    generated = canvas[prompt_tokens: prompt_tokens + gen_length]
    eos_at = first_stop(generated, stops)
    out = [t for t in generated[:eos_at] if t != mask_id]
    return out, "eos" if eos_at is not None else "length"
