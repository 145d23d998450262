"""Headless benchmark: decode a fixed random prompt in each mode, with and without the cache.

Random prompt ids (seeded) make runs comparable across models; stop tokens are ignored so every
run decodes exactly `gen_length` tokens. Host syncs are counted in a short run of their own
after each timed cached one (counting slows every op). Used by `noema bench`; no UI code.
"""

from __future__ import annotations

import resource
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch

from noema_core.decoding.batch import BatchSampler
from noema_core.decoding.events import BlockFinished, GenerationFinished
from noema_core.decoding.sampler import Sampler
from noema_core.decoding.settings import DecodingSettings, Mode
from noema_core.host_syncs import HostSyncCounter
from noema_core.loading import NOEMA1_EOS_ID, NOEMA1_MASK_ID, LoadedModel


@dataclass
class BenchRun:
    mode: str
    cache: bool
    prompt_tokens: int
    new_tokens: int
    forwards: int
    tokens_per_forward: float
    tokens_per_second: float
    ms_per_forward: float  # decoding forwards only (prefill excluded)
    prefill_ms: float
    peak_memory_bytes: int
    output_matches_cached: bool | None = None  # uncached runs: same tokens as the cached run?
    host_syncs_per_forward: float | None = None  # device-to-host reads per forward (counted)
    compiled: bool = False  # the cached forwards ran through the compiled graph


@dataclass
class BatchRun:
    """`noema bench --batch-size N`: random prompts decoded N at a time versus one by one."""

    mode: str
    batch_size: int
    prompts: int  # decoded in each of the two runs
    prompt_tokens: int  # per prompt
    new_tokens: int  # all prompts together
    seconds: float  # the batched run's wall time, prefill included
    tokens_per_second: float  # all prompts' tokens over the wall time
    sequences_per_second: float
    batch1_tokens_per_second: float  # the same prompts one after another (single sampler)
    batch1_sequences_per_second: float
    speedup: float  # tokens_per_second / batch1_tokens_per_second
    rows_per_forward: float  # mean rows in a batched forward (rows leave as they finish)
    output_matches_batch1: bool  # every prompt's tokens equal its one-by-one decoding's
    peak_memory_bytes: int


def _peak_memory(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    # Process-wide peak resident set (Linux reports KiB, macOS bytes).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def mask_id_of(loaded: LoadedModel) -> int:
    """The tokenizer's mask id; for a random-weight shape, Noema-1's (or the last id)."""
    if loaded.tokenizer is not None:
        return loaded.tokenizer.mask_id
    vocab = loaded.model.config.vocab_size
    return NOEMA1_MASK_ID if vocab > NOEMA1_MASK_ID else vocab - 1


def random_prompt(loaded: LoadedModel, length: int, seed: int) -> list[int]:
    """Random ids, none of them the mask or EOS, so a prompt never holds a special token."""
    model = loaded.model
    mask_id = mask_id_of(loaded)
    gen = torch.Generator().manual_seed(seed)
    prompt = torch.randint(0, min(model.config.vocab_size, NOEMA1_EOS_ID) - 1, (length,),
                           generator=gen)
    return torch.where(prompt == mask_id, prompt + 1, prompt).tolist()


def run_batch_benchmark(loaded: LoadedModel, *, modes: Sequence[Mode], batch_size: int,
                        prompt_length: int, gen_length: int, prompts: int | None = None,
                        seed: int = 0, on_run: Callable[[BatchRun], None] | None = None,
                        on_progress: Callable[[str], None] | None = None) -> list[BatchRun]:
    """Per mode: `prompts` (default `batch_size`) random prompts one after another, then
    `batch_size` at a time (`BatchSampler`; a finished row takes the next prompt). Stop
    tokens are ignored, so every prompt decodes `gen_length` tokens."""
    model = loaded.model
    device = model.model.word_embeddings.weight.device
    count = prompts or batch_size
    ids = [random_prompt(loaded, prompt_length, seed + i) for i in range(count)]
    runs = []
    for mode in modes:
        settings = DecodingSettings.for_mode(mode, presets=loaded.info.decoding_presets,
                                             gen_length=gen_length, eos_early_stop=False)
        # Eager, as the batched decoder is: the comparison is of batching alone.
        sampler = Sampler(model, mask_id=mask_id_of(loaded), eos_ids=(), compile=False)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        alone = []
        for i, prompt in enumerate(ids):
            if on_progress:
                on_progress(f"{mode.value} batch 1: prompt {i + 1}/{count}")
            # Quiet, as the batch is: neither path builds a snapshot per forward.
            alone.append(next(e.result for e in sampler.generate(prompt, settings,
                                                                 stream=False)
                              if isinstance(e, GenerationFinished)))
        alone_seconds = sum(r.stats.seconds for r in alone)
        if on_progress:
            on_progress(f"{mode.value} batch {batch_size}: {count} prompts")
        batcher = BatchSampler(sampler)
        began = time.perf_counter()
        results = batcher.generate_batch(ids, settings, width=batch_size)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - began
        tokens = sum(r.stats.new_tokens for r in results)
        batch1 = sum(r.stats.new_tokens for r in alone) / alone_seconds
        run = BatchRun(
            mode=mode.value, batch_size=batch_size, prompts=count, prompt_tokens=prompt_length,
            new_tokens=tokens, seconds=round(seconds, 3),
            tokens_per_second=round(tokens / seconds, 2),
            sequences_per_second=round(count / seconds, 3),
            batch1_tokens_per_second=round(batch1, 2),
            batch1_sequences_per_second=round(count / alone_seconds, 3),
            speedup=round(tokens / seconds / batch1, 2),
            rows_per_forward=round(batcher.row_forwards / max(batcher.forwards, 1), 2),
            output_matches_batch1=all(a.token_ids == b.token_ids
                                      for a, b in zip(alone, results, strict=True)),
            peak_memory_bytes=_peak_memory(device))
        runs.append(run)
        if on_run:
            on_run(run)
    return runs


def run_benchmark(loaded: LoadedModel, *, modes: Sequence[Mode], prompt_length: int,
                  gen_length: int, compare_cache: bool = True, seed: int = 0,
                  on_run: Callable[[BenchRun], None] | None = None,
                  on_progress: Callable[[str], None] | None = None,
                  count_syncs: bool = True, compile: bool | None = None) -> list[BenchRun]:
    """Decode the random prompt in each mode (cached, then uncached when `compare_cache`).
    `on_progress` hears a line as each run starts and as each of its blocks finishes (and
    the notice of a failed compile). `compile`: cached runs use the compiled block forward
    (None: where that is the default, on CUDA), compiled (and timed) after one warm-up
    block so the figures are the steady state's; uncached runs are never compiled."""
    model = loaded.model
    mask_id = mask_id_of(loaded)
    device = model.model.word_embeddings.weight.device
    prompt = random_prompt(loaded, prompt_length, seed)
    runs: list[BenchRun] = []
    for mode in modes:
        settings = DecodingSettings.for_mode(mode, presets=loaded.info.decoding_presets,
                                             gen_length=gen_length, eos_early_stop=False)
        cached_tokens = None
        for use_cache in (True, False) if compare_cache else (True,):
            sampler = Sampler(model, mask_id=mask_id, eos_ids=(),
                              compile=compile if use_cache else False, notice=on_progress)
            if sampler.compile:  # compiling takes tens of seconds: not part of the figures
                if on_progress:
                    on_progress(f"{mode.value}: compiling the block forward")
                # The first block of the real run (so the cache, and the graph, have its
                # shapes); then a cold cache again, so the prefill is timed as usual.
                stop = threading.Event()
                for event in sampler.generate(prompt, settings, stream=False, cancel=stop):
                    if isinstance(event, BlockFinished):
                        stop.set()
                sampler.reset_cache()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
                torch.cuda.reset_peak_memory_stats(device)
            result = None
            label = f"{mode.value} cache={'on' if use_cache else 'off'}"
            blocks = -(-(prompt_length % settings.block_length + gen_length)
                       // settings.block_length)
            if on_progress:
                on_progress(f"{label}: decoding {gen_length} tokens ({blocks} blocks)")
            # Nobody draws the forwards: the quiet loop, which skips the per-forward snapshot.
            for event in sampler.generate(prompt, settings, use_cache=use_cache, stream=False):
                if isinstance(event, GenerationFinished):
                    result = event.result
                elif isinstance(event, BlockFinished) and on_progress:
                    on_progress(f"{label}: block {event.block_index + 1}/{blocks} "
                                f"({event.forwards} forwards)")
            assert result is not None
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            stats = result.stats
            run = BenchRun(
                mode=mode.value, cache=use_cache, prompt_tokens=prompt_length,
                new_tokens=stats.new_tokens, forwards=stats.forwards,
                tokens_per_forward=round(stats.tokens_per_forward, 3),
                tokens_per_second=round(stats.tokens_per_second, 2),
                ms_per_forward=round(
                    1000 * (stats.seconds - stats.prefill_seconds) / max(stats.forwards, 1), 3),
                prefill_ms=round(1000 * stats.prefill_seconds, 2),
                peak_memory_bytes=_peak_memory(device),
                output_matches_cached=(None if use_cache
                                       else result.token_ids == cached_tokens),
                host_syncs_per_forward=(count_host_syncs(sampler, prompt, settings)
                                        if count_syncs and use_cache else None),
                compiled=sampler.compiled,
            )
            if use_cache:
                cached_tokens = result.token_ids
            runs.append(run)
            if on_run:
                on_run(run)
    return runs


def count_host_syncs(sampler: Sampler, prompt: list[int], settings: DecodingSettings) -> float:
    """Host syncs per forward over one generated block, prefill included (a run of its own:
    counting slows every op). A compiled graph cannot run under the counter, so a compiled
    sampler's loop is counted eagerly: its forward has no syncs (fullgraph traces none)."""
    short = settings.replace(gen_length=min(settings.gen_length, settings.block_length))
    if sampler.compile:
        sampler = Sampler(sampler.model, mask_id=sampler.mask_id, eos_ids=sampler.eos_ids,
                          role_end_id=sampler.role_end_id, compile=False)
    if sampler.cache is not None:  # the prefill counts, as in the timed run; the cache
        sampler.cache.truncate(0)  # keeps its size (a compiled graph's shapes follow it)
    forwards = 0
    with HostSyncCounter() as syncs:
        for event in sampler.generate(prompt, short, stream=False):
            if isinstance(event, GenerationFinished):
                forwards = event.result.stats.forwards
    return round(syncs.count / max(forwards, 1), 2)


def report(loaded: LoadedModel, runs: list[BenchRun] | list[BatchRun]) -> dict:
    """The `--json` object of `noema bench` (`runs` are `BatchRun`s with --batch-size)."""
    info = loaded.info
    return {
        "model": info.name, "random_weights": info.random_weights,
        "parameters": info.parameters, "device": info.device, "dtype": info.dtype,
        "quant": info.quant, "resident_bytes": info.resident_bytes,
        "runs": [asdict(r) for r in runs],
    }
