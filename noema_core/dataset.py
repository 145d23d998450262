"""`noema eval --dataset`: read a public question set (JSONL or CSV) into items with gold answers.

Field defaults fit GSM8K (`question`/`answer`, the gold is the number after the `#### ` line)
and MATH (`problem`/`answer`, or the last `\\boxed{}` of `solution`); which one is picked from
the fields of the first good row when none are given. Malformed rows are kept as `Malformed`
with their line number, so the caller reports them instead of dropping them. Decoding and
grading them is `dataset_grading`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from noema_core.errors import NoemaError


class DatasetError(NoemaError):
    """The `--dataset` file is missing, unreadable or holds no usable row (exit 2, usage)."""

    exit_code = 2


@dataclass(frozen=True)
class DatasetItem:
    line: int  # 1-based line (JSONL) or row (CSV, header is line 1) in the file
    question: str
    gold: str


@dataclass(frozen=True)
class Malformed:
    line: int
    reason: str


@dataclass
class Dataset:
    items: list[DatasetItem]
    malformed: list[Malformed]
    question_field: str
    answer_field: str


def gsm8k_gold(answer: str) -> str | None:
    """The number after GSM8K's `#### ` line, commas removed; the text itself without one."""
    if "####" not in answer:
        return answer.strip() or None
    gold = answer.rsplit("####", 1)[1].strip().replace(",", "")
    return gold or None


def boxed_gold(solution: str) -> str | None:
    """The last `\\boxed{}` of a MATH solution (the checker's own extraction rule)."""
    from noema_core.verify.extract import extract_answer

    found = extract_answer(solution)
    return found.answer if found.rule == "boxed" and found.answer else None


def _rows(path: Path) -> list[tuple[int, dict | None, str]]:
    """(line, row or None, why not) for every non-blank line/row of the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise DatasetError(f"cannot read the dataset {path} ({reason}): pass a JSONL or CSV "
                           "file, e.g. data/natural/questions.jsonl") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        return [(reader.line_num, row, "") for row in reader]
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            rows.append((number, None, f"not JSON ({err.msg})"))
            continue
        rows.append((number, row, "") if isinstance(row, dict)
                    else (number, None, "not a JSON object"))
    return rows


def _fields(row: dict, question_field: str | None,
            answer_field: str | None) -> tuple[str, str]:
    question_field = question_field or ("problem" if "problem" in row and "question" not in row
                                        else "question")
    if answer_field is None:
        answer_field = "answer" if "answer" in row or "solution" not in row else "solution"
    return question_field, answer_field


def _gold(row: dict, answer_field: str) -> str | None:
    value = row.get(answer_field)
    if answer_field == "answer" and not isinstance(value, str | int | float) \
            and isinstance(row.get("solution"), str):  # MATH rows without `answer`
        return boxed_gold(row["solution"])
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        return None
    return boxed_gold(value) if answer_field == "solution" else gsm8k_gold(value)


def load_dataset(path: str | Path, *, question_field: str | None = None,
                 answer_field: str | None = None) -> Dataset:
    """Every row of `path` as an item or as a `Malformed` with its line number."""
    path = Path(path)
    rows = _rows(path)
    first = next((row for _, row, _ in rows if row), {})
    q_field, a_field = _fields(first, question_field, answer_field)
    items, malformed = [], []
    for line, row, why in rows:
        if row is None:
            malformed.append(Malformed(line, why))
            continue
        question = row.get(q_field)
        if not isinstance(question, str) or not question.strip():
            malformed.append(Malformed(line, f"no question in field {q_field!r}"))
            continue
        gold = _gold(row, a_field)
        if gold is None:
            malformed.append(Malformed(line, f"no gold answer in field {a_field!r}"))
            continue
        items.append(DatasetItem(line, question.strip(), gold))
    if not items:
        raise DatasetError(f"the dataset {path} holds no usable question ({len(malformed)} "
                           f"malformed rows): pass rows with fields {q_field!r} and "
                           f"{a_field!r}, or name them with --question-field/--answer-field")
    return Dataset(items, malformed, q_field, a_field)
