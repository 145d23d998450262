"""Independent-mode figures for `noema_core.verify` on real competition problems (MATH dev set).

For every problem of `math_dev.jsonl` (fields `problem`, `answer`, `type`, `level`) it checks,
without the reference, the response `The answer is $\\boxed{GOLD}$.`: the right verdict is
"verified" ("contradicted" is wrong). For an integer gold it also checks `\\boxed{GOLD+1}`:
the right verdict is "contradicted" ("verified" is wrong). "Could not check" is never wrong;
it only lowers coverage.

    python scripts/measure_verify_math.py                        # the whole file, 2 processes
    python scripts/measure_verify_math.py --limit 300 --type Algebra --show wrong

Printed per MATH `type`, per `level` and overall: checks, verdicts, right verdicts, precision
(right verdicts / verdicts) and coverage (verdicts / checks).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import sys
import time
from collections import Counter
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
# The project's outside data lives in ../shared next to the checkout (or the main checkout).
_CANDIDATES = [root / "shared" / "data" / "math_dev.jsonl" for root in _ROOT.parents[:2]]
DEFAULT_DATA = next((p for p in _CANDIDATES if p.is_file()), _CANDIDATES[0])
_INTEGER = re.compile(r"-?\d+")


def load(path: Path, limit: int | None, kind: str | None) -> list[dict]:
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    if kind:
        items = [item for item in items if item["type"].lower() == kind.lower()]
    return items[:limit] if limit else items


def cases(item: dict) -> list[tuple[str, str]]:
    """(response, the right verdict) pairs for one problem."""
    gold = item["answer"].strip()
    pairs = [(f"The answer is $\\boxed{{{gold}}}$.", "verified")]
    if _INTEGER.fullmatch(gold):
        pairs.append((f"The answer is $\\boxed{{{int(gold) + 1}}}$.", "contradicted"))
    return pairs


def _check_item(args: tuple[dict, float]) -> list[dict]:
    from noema_core.verify import check

    item, timeout = args
    rows = []
    for response, want in cases(item):
        verdict = check(response, question=item["problem"], timeout=timeout)
        rows.append({"type": item["type"], "level": item["level"], "want": want,
                     "status": verdict.status, "kind": verdict.kind, "reason": verdict.reason,
                     "expected": verdict.expected, "problem": item["problem"],
                     "answer": verdict.answer})
    return rows


def _warm(_: int) -> None:
    from noema_core.verify import warm_up

    warm_up(wait=60)


def run(items: list[dict], timeout: float, jobs: int) -> list[dict]:
    work = [(item, timeout) for item in items]
    if jobs <= 1:
        _warm(0)
        return [row for item in work for row in _check_item(item)]
    # fork before any worker exists: each pool process starts its own checker worker.
    with multiprocessing.get_context("fork").Pool(jobs, initializer=_warm, initargs=(0,)) as pool:
        return [row for rows in pool.imap(_check_item, work, chunksize=8) for row in rows]


def tally(rows: list[dict], key: str | None) -> dict[str, Counter]:
    groups: dict[str, Counter] = {}
    for row in rows:
        name = row[key] if key else "all"
        c = groups.setdefault(name, Counter())
        c["checks"] += 1
        decided = row["status"] != "unverifiable"
        c["verdicts"] += decided
        c["right"] += decided and row["status"] == row["want"]
    return dict(sorted(groups.items()))


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f}%" if b else "-"


def table(rows: list[dict]) -> str:
    lines = ["| group | checks | verdicts | right | precision | coverage |",
             "|---|---|---|---|---|---|"]
    for key in ("type", "level", None):
        for name, c in tally(rows, key).items():
            label = f"**{name}**" if key is None else name
            lines.append(f"| {label} | {c['checks']:,} | {c['verdicts']:,} | {c['right']:,} | "
                         f"{pct(c['right'], c['verdicts'])} | {pct(c['verdicts'], c['checks'])} |")
    return "\n".join(lines)


def show(rows: list[dict], which: str) -> None:
    for row in rows:
        decided = row["status"] != "unverifiable"
        wrong = decided and row["status"] != row["want"]
        if which == "wrong" and not wrong or which == "right" and not (decided and not wrong) \
                or which == "unverifiable" and decided:
            continue
        tag = "WRONG" if wrong else row["status"].upper()
        print(f"{tag} [{row['type']}/{row['level']}] kind={row['kind']} answer={row['answer']!r} "
              f"expected={row['expected']!r}: {row['reason']}\n    {row['problem'][:300]!r}",
              file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems")
    parser.add_argument("--type", default=None, help="only one MATH type, e.g. Algebra")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per check")
    parser.add_argument("--jobs", type=int, default=2, help="checking processes (default 2)")
    parser.add_argument("--show", choices=("wrong", "right", "unverifiable"), default=None,
                        help="list those checks on stderr")
    parser.add_argument("--json", action="store_true", help="print every row as JSON")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"error: no data file at {args.data}; pass --data PATH")
    items = load(args.data, args.limit, args.type)
    start = time.monotonic()
    rows = run(items, args.timeout, args.jobs)
    elapsed = time.monotonic() - start
    if args.show:
        show(rows, args.show)
    if args.json:
        print(json.dumps(rows))
        return
    total = tally(rows, None)["all"]
    print(f"MATH dev ({args.data.name}): {len(items):,} problems, {total['checks']:,} checks, "
          f"independent mode, timeout {args.timeout:g} s ({elapsed:.0f} s)\n")
    print(table(rows))
    print(f"\n{total['right']:,} right of {total['verdicts']:,} verdicts "
          f"({pct(total['right'], total['verdicts'])}); "
          f"{total['verdicts'] - total['right']:,} wrong; "
          f"coverage {pct(total['verdicts'], total['checks'])}")


if __name__ == "__main__":
    main()
