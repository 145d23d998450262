"""Find the final answer in a model response, and say which rule found it.

Order of rules (the first that finds something wins):
1. `boxed`: the last complete `\\boxed{...}` (or `\\fbox{...}`), nested braces handled; boxes
   that directly precede it joined only by commas/"and"/"or" are kept as a list
   (`\\boxed{2} and \\boxed{-3}` gives `2, -3`).
2. Explicit answer lines, the last one in the text: `final-answer` ("Final answer: ...",
   "The final answer is ..."), `answer-is` ("The answer is ..."), `answer-label` ("Answer: ...",
   "A: ...") and `hashes` ("#### ...").
3. Fallbacks, reported as such: `fallback:last-math` (the last `$...$`, `\\(...\\)` or `\\[...\\]`)
   and `fallback:last-number` (the last number standing on its own: not the `2` of `x^2` or
   `2x`), both outside double-quoted text (a reply that declines and quotes example questions
   answers none of them).

A response whose only `\\boxed{` is never closed (a truncated reply) gets no answer and the
rule `unclosed-box`: a number picked from inside the broken box would be a guess.

Pure string work (no sympy) so the parent process can do it without the worker; every scan is
linear in the response length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A box whose content runs past this is treated as unterminated (hostile or truncated).
MAX_BOX_SCAN = 20_000
# Only the last few `\boxed` occurrences are tried, so a response made of thousands of
# unterminated boxes stays linear.
MAX_BOX_ATTEMPTS = 16
# The fallbacks look only at the end of a response: a lazy `\[...\]` search over a whole
# hostile response (thousands of unclosed `\[`) would be quadratic, and this runs in the
# caller's process, outside the worker's deadline.
FALLBACK_TAIL = 4_000

_BOX_OPENERS = re.compile(r"\\(?:boxed|fbox)\s*")
_BOX_JOINER = re.compile(r"^[\s,;$]*(?:(?:and|or)[\s$]*)?$", re.IGNORECASE)

_LINE_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("final-answer", re.compile(r"final\s+answer\s*(?:is\b|:|=)?\s*:?[ \t]*([^\n]+)",
                                re.IGNORECASE)),
    ("answer-is", re.compile(r"\banswer\s+is\b\s*:?[ \t]*([^\n]+)", re.IGNORECASE)),
    ("answer-label", re.compile(r"^[ \t>*_#]*(?:answer|ans)[ \t*_]*[:=][ \t*_]*([^\n]+)",
                                re.IGNORECASE | re.MULTILINE)),
    ("answer-label", re.compile(r"^[ \t*_]*A[ \t*_]*:[ \t*_]*([^\n]+)", re.MULTILINE)),
    ("hashes", re.compile(r"^[ \t]*####[ \t]*([^\n]+)", re.MULTILINE)),
]

_MATH_SEGMENT = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$])\$([^$\n]+?)\$",
                           re.DOTALL)
# A number glued to a letter, caret or underscore is part of a term (`2x`, `x^2`, `a_1`), not
# an answer on its own; `1,000` is one number (thousands separators), `1,2` two.
_NUMBER = re.compile(r"(?<![\w^.])-?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?"
                     r"(?:\s*/\s*\d+)?%?(?![\w^])")
# Text in double quotes is somebody else's words (an example question, a quotation), never the
# reply's own answer: "Try, for example: \"Expand (2x - 1)^2\"" answers nothing.
_QUOTED = re.compile(r'"[^"\n]*"|“[^”\n]*”')
# Where a sentence stops after an answer written in prose: ". Next" or a final period.
_SENTENCE_END = re.compile(r"\.(?:\s+(?=[A-Z(])|\s*$)")


@dataclass(frozen=True)
class Extraction:
    answer: str
    rule: str  # "boxed", "final-answer", "answer-is", "answer-label", "hashes",
    #            "fallback:last-math", "fallback:last-number", "unclosed-box" or "none"

    @property
    def is_fallback(self) -> bool:
        return self.rule.startswith("fallback")


def extract_answer(response: str) -> Extraction:
    """The final answer of a response and the rule that found it ("" and "none" if nothing)."""
    boxed = _last_boxed(response)
    if boxed is not None:
        return Extraction(boxed, "boxed")
    if _BOX_OPENERS.search(response):
        return Extraction("", "unclosed-box")
    line = _last_answer_line(response)
    if line is not None:
        return Extraction(*line)
    tail = _QUOTED.sub(" ", response[-FALLBACK_TAIL:])
    math = list(_MATH_SEGMENT.finditer(tail))
    if math:
        text = next(g for g in math[-1].groups() if g is not None)
        return Extraction(text.strip(), "fallback:last-math")
    numbers = _NUMBER.findall(tail)
    if numbers:
        return Extraction(numbers[-1].strip(), "fallback:last-number")
    return Extraction("", "none")


def _box_content(text: str, start: int) -> tuple[str, int] | None:
    """Content of the brace group opening at `text[start]` and the index after it, or None.

    Escaped braces (`\\{`, `\\}`) are content, not structure.
    """
    if start >= len(text) or text[start] != "{":
        return None
    depth = 0
    i = start
    stop = min(len(text), start + MAX_BOX_SCAN)
    while i < stop:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
        i += 1
    return None


def _boxes(response: str) -> list[tuple[int, int, str]]:
    """The last complete boxes as (start, end, content), in text order."""
    starts = [m for m in _BOX_OPENERS.finditer(response)][-MAX_BOX_ATTEMPTS:]
    found = []
    for m in starts:
        got = _box_content(response, m.end())
        if got is None:
            # `\boxed 5`: a box without braces holds one token.
            bare = re.match(r"[^\s${}\\]+", response[m.end():m.end() + 200])
            if bare:
                found.append((m.start(), m.end() + bare.end(), bare.group(0)))
            continue
        content, end = got
        found.append((m.start(), end, content))
    return found


def _last_boxed(response: str) -> str | None:
    boxes = _boxes(response)
    if not boxes:
        return None
    start, _, content = boxes[-1]
    parts = [content.strip()]
    for prev_start, prev_end, prev_content in reversed(boxes[:-1]):
        if prev_end > start or not _BOX_JOINER.match(response[prev_end:start]):
            break
        parts.insert(0, prev_content.strip())
        start = prev_start
    return ", ".join(p for p in parts if p)


def _last_answer_line(response: str) -> tuple[str, str] | None:
    best: tuple[int, str, str] | None = None
    for rule, pattern in _LINE_RULES:
        last = None
        for last in pattern.finditer(response):  # noqa: B007 - we want the last match
            pass
        if last is None:
            continue
        text = _trim_answer_text(last.group(1))
        if text and (best is None or last.start(1) > best[0]):
            best = (last.start(1), text, rule)
    return None if best is None else (best[1], best[2])


def _trim_answer_text(text: str) -> str:
    """The answer part of an answer line: its first math segment, else its first sentence."""
    text = text.strip().strip("*_").strip()
    math = _MATH_SEGMENT.match(text)
    if math:
        return next(g for g in math.groups() if g is not None).strip()
    end = _SENTENCE_END.search(text)
    if end:
        text = text[:end.start()]
    return text.strip().rstrip(".,;:").strip("*_ ")
