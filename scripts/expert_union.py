"""How many distinct experts a block forward touches, per MoE layer (issue #24).

A decoding forward runs one 32-token block. Each token picks `num_experts_per_tok` experts, so
the block reads the weights of the union of its tokens' picks: that union, not the active
parameter count, sets the bytes a memory-bound forward moves (and how many expert GEMMs a
grouped kernel launches). This decodes prompts in S-mode with hooks on every router and
reports the union per block forward and layer, over two kinds of input:

- random: uniformly random prompt ids (the worst case for reuse),
- structured: text-like prompts (with a tokenizer: hand-written questions from
  data/natural/questions.jsonl; without one, as for noema-1-shape: a short id pattern
  repeated, as repetitive text would be).

    python scripts/expert_union.py --model noema-tiny
    python scripts/expert_union.py --model noema-1-shape --device cuda --dtype bfloat16 --json

Random weights route arbitrarily, so noema-1-shape's figures bound the hardware cost; the
trained model's say what real text does.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from noema_core.bench import mask_id_of, random_prompt
from noema_core.decoding.events import GenerationFinished
from noema_core.decoding.sampler import Sampler
from noema_core.decoding.settings import DecodingSettings
from noema_core.loading import load_model
from noema_core.moe import MoE

QUESTIONS = Path(__file__).resolve().parent.parent / "data" / "natural" / "questions.jsonl"


def prompts(kind: str, loaded, count: int, length: int) -> list[list[int]]:
    if kind == "random":
        return [random_prompt(loaded, length, seed) for seed in range(count)]
    if loaded.tokenizer is not None:
        lines = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()]
        return [loaded.tokenizer.encode_chat([{"role": "user", "content": q}])
                for q in lines[:count]]
    return [(random_prompt(loaded, 7, seed) * (length // 7 + 1))[:length]
            for seed in range(count)]


def measure(loaded, kind: str, count: int, length: int, gen_length: int,
            block_length: int) -> dict:
    model = loaded.model
    layers = [m for m in model.modules() if isinstance(m, MoE)]
    unions: list[list[int]] = [[] for _ in layers]

    def hook(index: int):
        def record(router, inputs, output) -> None:
            chosen = output[0]
            if chosen.shape[0] == block_length:  # a decoding forward, not a prefill
                unions[index].append(int(chosen.unique().numel()))
        return record

    handles = [layer.gate.register_forward_hook(hook(i)) for i, layer in enumerate(layers)]
    eos = [loaded.tokenizer.eos_id] if loaded.tokenizer else []
    sampler = Sampler(model, mask_id=mask_id_of(loaded), eos_ids=eos, compile=False)
    settings = DecodingSettings.for_mode("s", presets=loaded.info.decoding_presets,
                                         gen_length=gen_length, block_length=block_length)
    try:
        for ids in prompts(kind, loaded, count, length):
            for event in sampler.generate(ids, settings, stream=False):
                if isinstance(event, GenerationFinished):
                    break
    finally:
        for handle in handles:
            handle.remove()
    flat = [u for layer in unions for u in layer]
    experts = model.config.num_experts
    return {
        "input": kind, "forwards_per_layer": len(unions[0]), "experts": experts,
        "tokens_per_block": block_length, "active_per_token": model.config.num_experts_per_tok,
        "union_mean": round(statistics.fmean(flat), 2), "union_min": min(flat),
        "union_max": max(flat), "union_fraction": round(statistics.fmean(flat) / experts, 3),
        "union_mean_by_layer": [round(statistics.fmean(u), 2) for u in unions],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="noema-tiny")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--prompt-length", type=int, default=256, help="random/pattern ids")
    parser.add_argument("--gen-length", type=int, default=64)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    loaded = load_model(args.model, device=args.device, dtype=args.dtype)
    with torch.inference_mode():
        results = [measure(loaded, kind, args.prompts, args.prompt_length, args.gen_length, 32)
                   for kind in ("random", "structured")]
    if args.json:
        print(json.dumps({"model": args.model, "device": loaded.info.device, "runs": results}))
        return
    for r in results:
        print(f"{args.model} {r['input']:>10}: {r['union_mean']:.1f} of {r['experts']} experts "
              f"per {r['tokens_per_block']}-token block forward and layer "
              f"({r['union_fraction']:.0%}; min {r['union_min']}, max {r['union_max']}; "
              f"{r['forwards_per_layer']} forwards x {len(r['union_mean_by_layer'])} layers)")


if __name__ == "__main__":
    main()
