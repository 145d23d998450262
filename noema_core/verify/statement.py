"""Where a question writes its problem: the statement line and the formulas in it.

The statement is the question's first line (plus the next one when the first ends with a
colon): instructions after it often contain example formulas that must not be mistaken for
the problem. Its formulas are the LaTeX segments (`$...$`, `\\(...\\)`, `\\[...\\]`) or, in
plain text, what follows a colon or the longest runs of math between words. Pure text work:
`classify` decides what the question asks of them.
"""

from __future__ import annotations

import re

from noema_core.verify.scope import directive_text, question_body
from noema_core.verify.shapes import clean, split_top

MATH_SEGMENT = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$])\$([^$]+?)\$",
                          re.DOTALL)
PROSE_WORD = re.compile(r"[A-Za-z]{2,}")
MATH_WORDS = {"sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan", "arcsin",
              "arccos", "arctan", "sinh", "cosh", "tanh", "exp", "log", "ln", "sqrt", "abs",
              "pi", "dx", "dy", "dt", "du", "oo", "inf", "cbrt"}


def statement_of(question: str) -> str:
    """The problem statement: the first line, and the next one if the first ends with ':'.
    Relations on the lines that follow ("Solve the system:" then one equation per line) are
    joined with commas, so a system typed one equation per line reads as a system."""
    lines = [line.strip() for line in question_body(question).strip().splitlines()
             if line.strip()]
    if not lines:
        return ""
    relations = []
    for line in lines[1:]:
        if not _is_bare_relation(line):
            break
        relations.append(trim(line))
    if relations and _is_bare_relation(lines[0]):
        return ", ".join([trim(lines[0]), *relations])
    if len(relations) > 1:
        return lines[0].rstrip(":") + ": " + ", ".join(relations)
    return directive_text("\n".join(lines)) or lines[0]


_RELATION = re.compile(r"[=<>≤≥]")


def _is_bare_relation(line: str) -> bool:
    """A line that is only an equation or inequality, with no prose around it."""
    words = (w.lower() for w in PROSE_WORD.findall(line.replace("\\", " ")))
    return bool(_RELATION.search(line)) and all(w in MATH_WORDS for w in words)


def math_texts(statement: str) -> tuple[list[str], str]:
    """The mathematical objects of a statement and where they came from: LaTeX segments
    ("latex"), the text after a colon ("colon"), or runs of math between words ("words")."""
    segments = [next(g for g in m.groups() if g) for m in MATH_SEGMENT.finditer(statement)]
    if segments:
        texts, source = [clean(s) for s in segments], "latex"
    elif ":" in statement and statement.rsplit(":", 1)[1].strip():
        texts, source = [trim(statement.rsplit(":", 1)[1])], "colon"
    else:
        texts, source = [trim(s) for s in plain_spans(statement)], "words"
    return [part for text in texts for part in _split_relations(text)], source


_ENVIRONMENT = re.compile(r"\\(?:begin|end)\s*\{(?:cases|aligned|align\*?|array)\}(?:\{[^}]*\})?")


def _split_relations(text: str) -> list[str]:
    """`x + y = 5, x - y = 1` (or a cases environment) as separate equations."""
    text = _ENVIRONMENT.sub("", text)
    text = text.replace("&", "").replace("\\\\", ",")
    parts, _ = split_top(text)
    if len(parts) > 1 and all(re.search(r"[=<>≤≥]", p) for p in parts):
        return [trim(p) for p in parts]
    return [trim(text)] if text.strip() else []


def plain_spans(text: str) -> list[str]:
    """Maximal runs of the text with no prose words in them, longest first."""
    cuts = [m.span() for m in PROSE_WORD.finditer(text) if m.group(0).lower() not in MATH_WORDS]
    spans, start = [], 0
    for a, b in cuts + [(len(text), len(text))]:
        piece = text[start:a].strip()
        if re.search(r"\d|[=<>^*/+∫√(]", piece):
            spans.append(piece)
        start = b
    return sorted(spans, key=len, reverse=True)


def trim(text: str) -> str:
    """Without end punctuation; a `!` after a number, letter or bracket is a factorial."""
    text = text.strip().rstrip(".?,;:").strip()
    return text if re.search(r"[\w)}\]]!$", text) else text.rstrip("!").strip()
