"""Which second decoding fixes the answers a mode gets wrong: the evidence for retry's plan.

    noema eval --dataset data/natural/questions.jsonl --mode q --batch-size 16 --output q.jsonl
    python scripts/compare_retry_decodings.py q.jsonl

Reads a `noema eval --dataset --output` file, takes its rows not verified against the gold
answer, decodes each question again in several ways (greedy AR, AR with seeds at temperature
0.3, Q-mode with stricter thresholds, with and without seeds, Q-mode at temperature 0.5) and
prints how many of them each way gets right, per seed and in any seed.
"""

from __future__ import annotations

import argparse
import json

from noema_core.engine import Engine
from noema_core.evaluation import grade
from noema_core.retry import retry_plan

SEEDS = (1, 2, 3, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="a noema eval --dataset --output JSONL file")
    parser.add_argument("--model", default="noema-tiny")
    args = parser.parse_args()
    with open(args.results, encoding="utf-8") as lines:
        wrong = [row for row in map(json.loads, lines) if row["verdict"] != "verified"]
    engine = Engine.load(args.model, device="cpu")
    q = engine.settings_for("q", gen_length=320)
    plan = dict(retry_plan(q, 2))  # the shipped plan's AR and stricter-threshold decodings
    ar, strict = plan["one token per forward"], plan["stricter thresholds"]
    ways = {"AR": [ar], "Q stricter": [strict],
            "AR, temperature 0.3": [ar.replace(temperature=0.3, seed=s) for s in SEEDS],
            "Q stricter, temperature 0.3": [strict.replace(temperature=0.3, seed=s)
                                            for s in SEEDS],
            "Q, temperature 0.5": [q.replace(temperature=0.5, seed=s) for s in SEEDS]}
    print(f"{len(wrong)} answers not verified in {args.results}; right when decoded again:")
    for name, settings in ways.items():
        right = [0] * len(settings)
        fixed_any = 0
        for row in wrong:
            messages = [{"role": "user", "content": row["question"]}]
            fixed = [grade(engine.generate(messages, each).text, row["question"], row["gold"])
                     for each in settings]
            right = [r + f for r, f in zip(right, fixed, strict=True)]
            fixed_any += any(fixed)
        print(f"  {name:28} {right}  any: {fixed_any}", flush=True)


if __name__ == "__main__":
    main()
