"""What verifier-guided retry buys on the bundled model: accuracy with and without it.

    python scripts/measure_retry.py --tries 3 --mode q                  # natural set + held-out
    python scripts/measure_retry.py --questions data/natural/questions.jsonl --held-out 0

Every single-question item is decoded once as asked; when the independent checker (no
reference) contradicts the answer, `noema_core.retry` decodes again (stricter thresholds, then
other seeds at a small temperature) up to --tries times. Both answers are then graded against
the gold answer in reference mode. Prints accuracy without and with retry, how many retries
ran and the extra decoding time they cost (checking time excluded).
"""

from __future__ import annotations

import argparse

from noema_core.decoding.settings import Mode
from noema_core.engine import Engine
from noema_core.evaluation import grade, held_out_items, load_questions
from noema_core.retry import chosen, decode_until_verified
from noema_core.verify import check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", nargs="*", default=["data/natural/questions.jsonl"])
    parser.add_argument("--held-out", type=int, default=10, help="held-out problems per family")
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--mode", default="q", choices=[m.value for m in Mode])
    parser.add_argument("--limit", type=int, default=0, help="first N items of each source")
    args = parser.parse_args()

    engine = Engine.load("noema-tiny", device="cpu")
    settings = engine.settings_for(args.mode, gen_length=320)
    sources = {}
    if args.questions:
        sources["natural set"] = [i for i in load_questions(args.questions) if len(i.turns) == 1]
    if args.held_out:
        sources["held-out suite"] = held_out_items(args.held_out)
    print(f"noema-tiny, mode {args.mode}, up to {args.tries} retries when contradicted")
    print(f"{'source':16} {'items':>5} {'without':>8} {'with':>8} {'retried':>8} "
          f"{'fixed':>6} {'broken':>6} {'time +':>7}")
    for name, items in sources.items():
        if args.limit:
            items = items[:args.limit]
        right_once = right_retry = retried = fixed = broken = 0
        first_seconds = all_seconds = 0.0
        for item in items:
            turn = item.turns[0]
            messages = [{"role": "user", "content": turn.question}]
            attempts = decode_until_verified(engine.generate, check, messages, settings,
                                             turn.question, args.tries)
            first_seconds += attempts[0].result.stats.seconds  # decoding time only
            all_seconds += sum(a.result.stats.seconds for a in attempts)
            once = grade(attempts[0].result.text, turn.question, turn.reference)
            after = grade(chosen(attempts).result.text, turn.question, turn.reference)
            right_once += once
            right_retry += after
            retried += len(attempts) > 1
            fixed += after and not once
            broken += once and not after
        n = max(1, len(items))
        extra = (all_seconds / first_seconds - 1) if first_seconds else 0.0
        print(f"{name:16} {len(items):5d} {right_once / n:8.1%} {right_retry / n:8.1%} "
              f"{retried:8d} {fixed:6d} {broken:6d} {extra:+7.0%}")


if __name__ == "__main__":
    main()
