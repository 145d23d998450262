"""Figures for `noema_core.verify` on reasoning-gym problems (seeded, offline).

For each family it builds, per problem, a response with the true answer and one with a
perturbed (wrong) answer, half in LaTeX and half in plain text inside `\\boxed{}` (the bundled
model's style), and checks both with and without the reference.

    python scripts/measure_verify.py                 # 300 problems per family, seed 42
    python scripts/measure_verify.py --per-family 50 --seed 1 --json

Reports per family and mode: coverage (share of true answers the checker could decide) and
correct verdicts (true answer verified, wrong answer contradicted), over decided checks and
over all checks. Needs the dev extra (`reasoning-gym`).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter

import sympy

from noema_core.verify import check, warm_up
from noema_core.verify.shapes import parse_math
from noema_core.verify.trees import rebuild

FAMILIES = ["simple_equations", "polynomial_equations", "simple_integration",
            "intermediate_integration", "fraction_simplification", "complex_arithmetic"]


def latex_of(answer: str) -> str:
    """The answer as the bundled model would write it in LaTeX (numbers kept as written)."""
    if re.fullmatch(r"[-+0-9.,\s]*", answer) or "i" in answer.replace("pi", ""):
        return answer  # decimals and complex numbers are written the same way
    value = rebuild(parse_math(answer.strip("$")))
    return sympy.latex(value, inv_trig_style="full")


def true_answer(item: dict) -> str:
    """The dataset's answer; an unevaluated `Integral(...)` (a reasoning-gym quirk) is
    replaced by sympy's antiderivative so the true answer is an actual answer."""
    answer = item["answer"]
    if "Integral(" not in answer:
        return answer
    meta = item["metadata"]
    integrand = rebuild(parse_math(meta["integrand"]))
    antiderivative = sympy.integrate(integrand, sympy.Symbol(meta["variable"]))
    return str(antiderivative) + " + C"


def wrong_answer(family: str, answer: str, item: dict, index: int) -> str:
    """A plausible but wrong answer: one value or one term changed."""
    if family == "simple_equations":
        return str(int(answer) + (1 if index % 2 else -1))
    if family == "polynomial_equations":
        roots = [r.strip() for r in answer.split(",") if r.strip()]
        if index % 2 and len(roots) > 1:
            return ", ".join(roots[:-1])  # a root missing
        roots[0] = f"{float(roots[0]) + 1:.4f}"
        return ", ".join(roots)
    if family.endswith("integration"):
        var = item["metadata"]["variable"]
        body = answer.replace(" + C", "")
        doubled_is_wrong = body.strip() != "0"  # the antiderivative of 0 doubled is still C
        return f"2*({body}) + C" if index % 2 == 0 and doubled_is_wrong else f"{body} + {var} + C"
    if family == "fraction_simplification":
        p, q = re.findall(r"\d+", answer)[:2]
        return answer.replace(p, str(int(p) + 1), 1)
    if family == "complex_arithmetic":
        value = rebuild(parse_math(answer))
        re_part, im_part = value.as_real_imag()
        return f"{float(re_part) + 1:.1f} {'-' if im_part < 0 else '+'} {abs(float(im_part)):.1f}i"
    raise ValueError(family)


def respond(answer: str, index: int) -> str:
    shown = latex_of(answer) if index % 2 == 0 else answer.strip("$")
    return f"Working through the steps gives the result.\n\\boxed{{{shown}}}"


def measure(per_family: int, seed: int, timeout: float, show: bool = False) -> dict:
    import reasoning_gym

    warm_up(wait=60)
    results: dict = {}
    for family in FAMILIES:
        data = reasoning_gym.create_dataset(family, seed=seed, size=per_family)
        counts: Counter = Counter()
        times: dict[str, list[float]] = {"independent": [], "reference": []}
        for index, item in enumerate(data):
            answer = true_answer(item)
            counts["unevaluated_integral_answers"] += answer != item["answer"]
            if not answer.strip():
                counts["skipped"] += 1
                continue
            wrong = wrong_answer(family, answer, item, index)
            for mode, kwargs in (("independent", {"question": item["question"]}),
                                 ("reference", {"reference": answer})):
                for truth, given in ((True, answer), (False, wrong)):
                    verdict = check(respond(given, index), timeout=timeout, **kwargs)
                    times[mode].append(verdict.elapsed_ms)
                    want = "verified" if truth else "contradicted"
                    counts[f"{mode}:total"] += 1
                    counts[f"{mode}:decided"] += verdict.status != "unverifiable"
                    counts[f"{mode}:correct"] += verdict.status == want
                    counts[f"{mode}:true_decided"] += truth and verdict.status != "unverifiable"
                    counts[f"{mode}:true_total"] += truth
                    if show and verdict.status == "unverifiable":
                        print(f"COULD NOT CHECK {family} {mode}: {item['question'][:70]!r} "
                              f"{given!r}: {verdict.reason}", file=sys.stderr)
                    if verdict.status not in (want, "unverifiable"):
                        counts[f"{mode}:wrong"] += 1
                        print(f"WRONG {family} {mode} truth={truth}: {given!r} -> "
                              f"{verdict.status} ({verdict.reason})", file=sys.stderr)
        results[family] = {"counts": dict(counts), "ms": times}
    return results


def summary(results: dict) -> list[dict]:
    rows = []
    totals: Counter = Counter()
    all_times: dict[str, list[float]] = {"independent": [], "reference": []}
    for family, result in results.items():
        c = Counter(result["counts"])
        totals.update(c)
        for mode, ms in result["ms"].items():
            all_times[mode].extend(ms)
        rows.append(_row(family, c, result["ms"]))
    rows.append(_row("all", totals, all_times))
    return rows


def _row(name: str, c: Counter, times: dict[str, list[float]]) -> dict:
    def pct(a: str, b: str) -> float:
        return round(100 * c[a] / c[b], 1) if c[b] else 0.0
    row = {"family": name}
    for mode in ("independent", "reference"):
        ms = sorted(times[mode]) or [0.0]
        row[f"{mode}_coverage"] = pct(f"{mode}:true_decided", f"{mode}:true_total")
        row[f"{mode}_correct_of_decided"] = pct(f"{mode}:correct", f"{mode}:decided")
        row[f"{mode}_correct_of_all"] = pct(f"{mode}:correct", f"{mode}:total")
        row[f"{mode}_wrong_verdicts"] = c[f"{mode}:wrong"]
        row[f"{mode}_checks"] = c[f"{mode}:total"]
        row[f"{mode}_median_ms"] = round(statistics.median(ms), 1)
        row[f"{mode}_p99_ms"] = round(ms[int(0.99 * (len(ms) - 1))], 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-family", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--show-unverifiable", action="store_true",
                        help="list every check that could not be decided (on stderr)")
    args = parser.parse_args()
    start = time.monotonic()
    results = measure(args.per_family, args.seed, args.timeout, args.show_unverifiable)
    rows = summary(results)
    elapsed = time.monotonic() - start
    if args.json:
        print(json.dumps({"rows": rows, "results": results, "seconds": round(elapsed, 1)}))
        return
    print(f"reasoning-gym, seed {args.seed}, {args.per_family} problems per family, "
          f"timeout {args.timeout:g} s ({elapsed:.0f} s)\n")
    print("| family | independent: coverage | correct (of decided / of all) | median ms | "
          "reference: coverage | correct (of decided / of all) | median ms | wrong verdicts |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['family']} | {r['independent_coverage']}% | "
              f"{r['independent_correct_of_decided']}% / {r['independent_correct_of_all']}% | "
              f"{r['independent_median_ms']} | {r['reference_coverage']}% | "
              f"{r['reference_correct_of_decided']}% / {r['reference_correct_of_all']}% | "
              f"{r['reference_median_ms']} | "
              f"{r['independent_wrong_verdicts'] + r['reference_wrong_verdicts']} |")
    total = rows[-1]
    replaced = sum(r["counts"].get("unevaluated_integral_answers", 0) for r in results.values())
    print(f"\nchecks: {total['independent_checks']} independent + {total['reference_checks']} "
          f"reference; 99th percentile {total['independent_p99_ms']} ms / "
          f"{total['reference_p99_ms']} ms per check; {replaced} dataset answers were an "
          "unevaluated Integral(...) and were replaced by sympy's antiderivative")


if __name__ == "__main__":
    main()
