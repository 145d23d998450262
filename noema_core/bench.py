"""Headless benchmark: decode a fixed random prompt in each mode, with and without the cache.

Random prompt ids (seeded) make runs comparable across models; stop tokens are ignored so every
run decodes exactly `gen_length` tokens. Used by `noema bench`; no UI code here.
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch

from noema_core.decoding.events import GenerationFinished
from noema_core.decoding.sampler import Sampler
from noema_core.decoding.settings import DecodingSettings, Mode
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


def _peak_memory(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    # Process-wide peak resident set (Linux reports KiB, macOS bytes).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _special_ids(loaded: LoadedModel) -> int:
    if loaded.tokenizer is not None:
        return loaded.tokenizer.mask_id
    vocab = loaded.model.config.vocab_size
    return NOEMA1_MASK_ID if vocab > NOEMA1_MASK_ID else vocab - 1


def run_benchmark(loaded: LoadedModel, *, modes: Sequence[Mode], prompt_length: int,
                  gen_length: int, compare_cache: bool = True, seed: int = 0,
                  on_run: Callable[[BenchRun], None] | None = None) -> list[BenchRun]:
    model = loaded.model
    mask_id = _special_ids(loaded)
    device = model.model.word_embeddings.weight.device
    # Every id except the mask and EOS, so a random prompt never holds a special token.
    gen = torch.Generator().manual_seed(seed)
    prompt = torch.randint(0, min(model.config.vocab_size, NOEMA1_EOS_ID) - 1, (prompt_length,),
                           generator=gen)
    prompt = torch.where(prompt == mask_id, prompt + 1, prompt).tolist()
    runs: list[BenchRun] = []
    for mode in modes:
        settings = DecodingSettings.for_mode(mode, presets=loaded.info.decoding_presets,
                                             gen_length=gen_length, eos_early_stop=False)
        cached_tokens = None
        for use_cache in (True, False) if compare_cache else (True,):
            sampler = Sampler(model, mask_id=mask_id, eos_ids=())
            if device.type == "cuda":
                torch.cuda.synchronize(device)
                torch.cuda.reset_peak_memory_stats(device)
            result = None
            for event in sampler.generate(prompt, settings, use_cache=use_cache):
                if isinstance(event, GenerationFinished):
                    result = event.result
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
            )
            if use_cache:
                cached_tokens = result.token_ids
            runs.append(run)
            if on_run:
                on_run(run)
    return runs


def report(loaded: LoadedModel, runs: list[BenchRun]) -> dict:
    """The `--json` object of `noema bench`."""
    info = loaded.info
    return {
        "model": info.name, "random_weights": info.random_weights,
        "parameters": info.parameters, "device": info.device, "dtype": info.dtype,
        "quant": info.quant, "resident_bytes": info.resident_bytes,
        "runs": [asdict(r) for r in runs],
    }
