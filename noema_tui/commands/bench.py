"""`noema bench`: headless speed and memory figures for a model, in every decoding mode."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from noema_tui.commands.options import (
    CompileOption,
    DeviceOption,
    DtypeOption,
    ModeChoice,
    QuantChoice,
    QuantOption,
)
from noema_tui.commands.output import emit, fail, require_model

if TYPE_CHECKING:
    from noema_core.bench import BatchRun, BenchRun


def default_bench_model() -> str:
    """The product's default model when it is bundled, else a small random one."""
    from noema_core.engine import DEFAULT_MODEL
    from noema_core.loading import bundled_models

    return DEFAULT_MODEL if DEFAULT_MODEL in bundled_models() else "tiny-random"


def bench(
    model: Annotated[str | None, typer.Option(
        help="Bundled name, checkpoint directory, hub id, or noema-1-shape (random weights). "
             "Default: the bundled default model.")] = None,
    device: DeviceOption = "auto",
    dtype: DtypeOption = "auto",
    quant: QuantOption = QuantChoice.none,
    mode: Annotated[list[ModeChoice] | None, typer.Option(
        help="Decoding mode (repeatable). Default: q, s and ar.")] = None,
    prompt_length: Annotated[int, typer.Option(min=1, max=16384,
                                               help="Prompt tokens (random ids).")] = 64,
    gen_length: Annotated[int, typer.Option(
        min=1, max=4096, help="New tokens (the README's figures use 512).")] = 64,
    no_cache_compare: Annotated[bool, typer.Option(
        "--no-cache-compare", help="Only run with the KV cache (skip the uncached run).")] = False,
    threads: Annotated[int | None, typer.Option(
        min=1, max=1024, help="CPU threads for PyTorch (default: its own choice). On a "
        "loaded machine 1 can be several times faster than 2.")] = None,
    no_sync_count: Annotated[bool, typer.Option(
        "--no-sync-count", help="Skip counting host syncs (a short extra run per run).")] = False,
    batch_size: Annotated[int, typer.Option(
        min=1, max=256, help="Decode random prompts this many at a time and compare with "
        "one after another: tokens/s and sequences/s of the batch versus batch 1 (replaces "
        "the cache comparison).")] = 1,
    prompts: Annotated[int | None, typer.Option(
        min=1, max=4096, help="--batch-size: prompts to decode (default: the batch size; "
        "more keeps the batch full, as a long eval does).", show_default=False)] = None,
    compile: CompileOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Measure tokens/s, tokens per forward, ms per forward, host syncs per forward and memory.

    With --batch-size N, measure batched decoding instead: N prompts at once versus one.

    The default workload is small (a minute on 2 CPU cores); progress goes to stderr.

    Exit codes: 0 ok, 1 runtime error, 2 usage, 3 model or device could not load,
    130 interrupted.
    """
    import sys

    from noema_core.bench import report, run_batch_benchmark, run_benchmark
    from noema_core.decoding.settings import Mode
    from noema_core.errors import NoemaError, PromptTooLongError
    from noema_core.loading import load_model

    require_model(model)
    name = model or default_bench_model()
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    modes = [Mode(m.value) for m in (mode or list(ModeChoice))]

    def progress(what: str, fraction: float | None) -> None:
        if not as_json:
            done = f" {fraction:.0%}" if fraction is not None else ""
            print(f"[load] {what}{done}", file=sys.stderr)

    try:
        loaded = load_model(name, device=device, dtype=dtype, quant=quant.value,
                            progress=progress)
        info = loaded.info
        if not as_json:
            label = " (RANDOM WEIGHTS)" if info.random_weights else ""
            print(f"model {info.name}{label}: {info.parameters / 1e9:.4f}B parameters, "
                  f"{info.device}, {info.dtype}, quant {info.quant}, "
                  f"resident {info.resident_bytes / 2**30:.3f} GiB", file=sys.stderr)

        def step(line: str) -> None:
            print(f"[bench] {line}", file=sys.stderr, flush=True)

        def show(run: BenchRun) -> None:
            if as_json:
                return
            syncs = ("" if run.host_syncs_per_forward is None
                     else f"  {run.host_syncs_per_forward:.1f} syncs/fwd")
            same = "" if run.output_matches_cached is None else (
                "  same output" if run.output_matches_cached else "  OUTPUT DIFFERS")
            compiled = "  compiled" if run.compiled else ""
            print(f"{run.mode:>2} cache={'on ' if run.cache else 'off'} "
                  f"{run.new_tokens} tok in {run.forwards} fwd "
                  f"({run.tokens_per_forward:.2f} tok/fwd) {run.tokens_per_second:8.1f} tok/s "
                  f"{run.ms_per_forward:8.2f} ms/fwd  prefill {run.prefill_ms:.0f} ms  "
                  f"peak {run.peak_memory_bytes / 2**30:.2f} GiB{syncs}{same}{compiled}")

        def show_batch(run: BatchRun) -> None:
            if as_json:
                return
            same = "same output" if run.output_matches_batch1 else "OUTPUT DIFFERS"
            print(f"{run.mode:>2} batch {run.batch_size} ({run.prompts} prompts, "
                  f"{run.rows_per_forward:.1f} rows/fwd): {run.new_tokens} tok in "
                  f"{run.seconds:.1f} s {run.tokens_per_second:8.1f} tok/s "
                  f"{run.sequences_per_second:.3f} seq/s | batch 1: "
                  f"{run.batch1_tokens_per_second:8.1f} tok/s "
                  f"{run.batch1_sequences_per_second:.3f} seq/s | {run.speedup:.2f}x  "
                  f"peak {run.peak_memory_bytes / 2**30:.2f} GiB  {same}")

        if batch_size > 1:
            runs = run_batch_benchmark(loaded, modes=modes, batch_size=batch_size,
                                       prompt_length=prompt_length, gen_length=gen_length,
                                       prompts=prompts, on_run=show_batch,
                                       on_progress=None if as_json else step)
        else:
            runs = run_benchmark(loaded, modes=modes, prompt_length=prompt_length,
                                 gen_length=gen_length, compare_cache=not no_cache_compare,
                                 on_run=show, on_progress=None if as_json else step,
                                 count_syncs=not no_sync_count, compile=compile)
    except PromptTooLongError as err:  # the engine's fix names its parameters, not our flags
        cause = str(err).rsplit(": ", 1)[0]
        fail(f"{cause}: lower --prompt-length or --gen-length", err.exit_code)
    except NoemaError as err:
        fail(str(err), err.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as err:  # noqa: BLE001 - unexpected runtime failure: one line, exit 1
        fail(f"{type(err).__name__}: {err}", 1)
    if as_json:
        emit(json.dumps(report(loaded, runs)))
    elif batch_size == 1:
        cached = {r.mode: r for r in runs if r.cache}
        for r in runs:
            if not r.cache and r.tokens_per_second:
                speedup = cached[r.mode].tokens_per_second / r.tokens_per_second
                print(f"{r.mode:>2} cache speedup {speedup:.1f}x", file=sys.stderr)
