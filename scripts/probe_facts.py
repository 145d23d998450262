"""How well a model knows the single steps of its curriculum, apart from decoding.

For every held-out problem the reference solution is laid out as a training canvas; at each
digit that starts a result (the first digit after ' = '), that slot and the rest of its block are
masked, as they are when a decoder reaches that point, and the model's top prediction is
compared with the reference digit. One forward per problem per probed slot, no sampling, no
edits: a low score means the model does not yet know the facts (undertrained), a high score with
low `noema eval` accuracy means the decoding loses them.

    python scripts/probe_facts.py [--model noema-tiny] [--limit 20] [--seed 0]

Prints one JSON object: the share of result digits predicted right, overall and per family.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import torch

from noema_core.decoding.settings import DecodingSettings
from noema_core.engine import Engine
from noema_core.model import block_causal_mask
from noema_core.training.curriculum import held_out_suite


def result_slots(ids: list[int], start: int, digits: set[int], equals: int, space: int
                 ) -> list[int]:
    """Positions (from `start`) of digits that open a result: '=', ' ', digit."""
    return [i for i in range(max(start, 2), len(ids))
            if ids[i] in digits and ids[i - 1] == space and ids[i - 2] == equals]


@torch.no_grad()
def probe(engine: Engine, per_family: int, seed: int) -> dict:
    tokenizer, model, device = engine.tokenizer, engine.model, engine.sampler.device
    block = DecodingSettings().block_length
    hf = tokenizer.hf
    digits = set(hf.convert_tokens_to_ids([str(d) for d in range(10)]))
    equals, space = hf.convert_tokens_to_ids(["Ġ=", "Ġ"])
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for problem in held_out_suite(per_family, seed=seed):
        prompt = tokenizer.encode_chat([{"role": "user", "content": problem.question}])
        ids = prompt + hf.encode(problem.solution, add_special_tokens=False)
        slots = result_slots(ids, len(prompt), digits, equals, space)
        if not slots:
            continue
        canvases = torch.tensor(ids).repeat(len(slots), 1)
        for row, slot in enumerate(slots):
            canvases[row, slot:(slot // block + 1) * block] = tokenizer.mask_id
        mask = block_causal_mask(len(ids), block)
        logits = model(canvases.to(device), mask=mask.to(device))
        predicted = logits[torch.arange(len(slots)), torch.tensor(slots)].argmax(-1).tolist()
        right = sum(p == ids[s] for p, s in zip(predicted, slots, strict=True))
        for key in (problem.family, "overall"):
            tally[key][0] += right
            tally[key][1] += len(slots)
    return {key: {"result_digits": n, "right": round(ok / n, 4)}
            for key, (ok, n) in sorted(tally.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="noema-tiny")
    parser.add_argument("--limit", type=int, default=20, help="problems per family")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    engine = Engine.load(args.model, device="cpu")
    print(json.dumps({"model": args.model, **probe(engine, args.limit, args.seed)}, indent=1))


if __name__ == "__main__":
    main()
