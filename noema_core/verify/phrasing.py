"""Questions as people type them, restated in the words the classifier reads.

"Can you expand (2x - 1)^2 please", "how much is 36 times 24?", "84 ÷ 7 = ?", "what's the
difference between 812 and 395?", "56 x 7" ask for one task each, in words the classifier
did not read (it refused them as word problems). Each rule here removes words that carry no math
(courtesy, "how much is") or turns a phrase naming one operation on two plain numbers into
that operation, and gives up (returns the question unchanged) where a phrase could mean more
than one thing: several operation words ("10 plus 2 times 3"), operands that are not plain
numbers, or letters that could be unknowns. What comes out is still checked by every rule
downstream, so a restatement can only make a question checkable, never loosen a check.
"""

from __future__ import annotations

import re

from noema_core.verify.scope import prose_words

# Words that carry no math at either end of a question.
_COURTESY_START = re.compile(
    r"^\s*(?:(?:hey|hi|hello|ok(?:ay)?|quick\s+one|question)\s*[,:!.-]?\s*|please\s+|pls\s+|"
    r"(?:can|could|would|will)\s+you\s+(?:please\s+)?|(?:i\s+(?:need|want|would\s+like|'d\s+like)"
    r"\s+(?:you\s+)?(?:to\s+)?|help\s+me\s+(?:to\s+)?|tell\s+me\s+)(?=[\d(\-]|the\s|"
    r"(?:solve|find|compute|calculate|evaluate|simplify|expand|factor|differentiate|add|"
    r"subtract|multiply|divide|work\s+out|know)\b))", re.I)
_COURTESY_END = re.compile(r"(?:[\s,]+(?:please|pls|for\s+me|thanks|thank\s+you))+\s*([?.!]*)\s*$",
                           re.I)
# Openers that ask for a value without the classifier's "what is".
_VALUE_OPENER = re.compile(r"^\s*(?:how\s+much\s+is|what'?s|whats|what\s+do\s+(?:you|we|i)\s+"
                           r"get\s+(?:for|from)|work\s+out|figure\s+out)\b", re.I)
_ENDS_EQUALS = re.compile(r"\s*(?:=|equals?)\s*(?:what|\?)?\s*\??\s*$", re.I)
_WHAT_DOES_EQUAL = re.compile(r"^\s*what\s+does\s+(?P<body>.+?)\s+(?:equal|come\s+to|give|"
                              r"make)\s*\??\s*$", re.I)

# A plain number: an integer or decimal, or a fraction of two integers.
_NUM = r"-?\d+(?:\.\d+)?(?:\s*/\s*\d+)?"
_A, _B = rf"(?P<a>{_NUM})", rf"(?P<b>{_NUM})"
_THE = r"(?:the\s+)?"
# (pattern, template): each names one operation on two plain numbers.
_OPERATIONS: list[tuple[re.Pattern[str], str]] = [(re.compile(p, re.I), t) for p, t in [
    (rf"{_THE}sum\s+of\s+{_A}\s+and\s+{_B}", "{a} + {b}"),
    (rf"{_THE}difference\s+(?:between|of)\s+{_A}\s+and\s+{_B}", "{a} - {b}"),
    (rf"{_THE}product\s+of\s+{_A}\s+and\s+{_B}", "{a} * {b}"),
    (rf"{_THE}quotient\s+of\s+{_A}\s+(?:and|by)\s+{_B}", "{a} / {b}"),
    (rf"\badd\s+{_A}\s+(?:and|to)\s+{_B}", "{a} + {b}"),
    (rf"\bsubtract\s+{_A}\s+from\s+{_B}", "{b} - {a}"),
    (rf"\bmultiply\s+{_A}\s+(?:by|and|with)\s+{_B}", "{a} * {b}"),
    (rf"\bdivide\s+{_A}\s+by\s+{_B}", "{a} / {b}"),
    (rf"{_A}\s+plus\s+{_B}", "{a} + {b}"),
    (rf"{_A}\s+minus\s+{_B}", "{a} - {b}"),
    (rf"{_A}\s+(?:times|multiplied\s+by)\s+{_B}", "{a} * {b}"),
    (rf"{_A}\s+(?:divided\s+by|over)\s+{_B}", "{a} / {b}"),
]]
# "56 x 7", "2 x 3 x 4": a spaced x between two numbers is a multiplication sign, where no
# other lone letter could be an unknown and nothing is being solved.
_TIMES_SIGN = re.compile(r"(?<=\d)\s+[xX]\s+(?=-?\d)")
_LONE_LETTER = re.compile(r"(?<![A-Za-z'])[A-Za-z](?![A-Za-z'])")
_OPERATION_WORD = re.compile(r"\b(?:sum|difference|product|quotient|add|subtract|multiply|"
                             r"multiplied|divide|divided|plus|minus|times|over)\b", re.I)
_ARITHMETIC_SIGN = re.compile(r"[-+*/×÷^]")

# Polynomial chores named in other words.
_SIMPLIFY_WORDS = re.compile(r"^\s*(?:combine|collect|gather)\s+(?:(?:the\s+)?like\s+terms"
                             r"\s*(?:in|of)?\s*:?|terms\s*(?:in|of)?\s*:?)?|^\s*tidy\s+up\b",
                             re.I)
_EXPANDED = re.compile(r"^\s*(?:what\s+is\s+|what'?s\s+|whats\s+)?(?P<body>.+?)\s+(?:expanded|"
                       r"multiplied\s+out)\s*\??\s*$", re.I)
_EXPAND_THE_PRODUCT = re.compile(r"^\s*(?:expand|multiply\s+out)\s+the\s+product\s+", re.I)
_SIMPLIFIES_TO = re.compile(r"^\s*what\s+does\s+(?P<body>.+?)\s+simplify\s+to\s*\??\s*$", re.I)
_SIMULTANEOUSLY = re.compile(r"(?<=solve)\s+simultaneously\b\s*:?", re.I)
_TAKE_THE = re.compile(r"^\s*take\s+the\s+(?=derivative|integral|limit)", re.I)
# "what is x if 2x + 9 = 1", "find t when ...", "If y/6 + 1 = 3, what is y?": a solve.
_VARS = r"(?P<vars>[a-z](?:\s*(?:,|and)\s*[a-z])*)"
_ASK_VARS = rf"(?:what\s+(?:is|are)|find|solve\s+for)\s+{_VARS}"
_RELATIONS = r"(?P<eqs>[^?]*=[^?]*?)"
_SOLVE_FOR = [re.compile(p, re.I) for p in (
    rf"^\s*{_ASK_VARS}\s+(?:if|when|given(?:\s+that)?)\s+{_RELATIONS}\s*\??\s*$",
    rf"^\s*(?:if|when|given(?:\s+that)?)\s+{_RELATIONS}\s*,\s*{_ASK_VARS}\s*\??\s*$",
    rf"^\s*what\s+value\s+of\s+{_VARS}\s+(?:makes|satisfies)\s+{_RELATIONS}"
    r"(?:\s+true)?\s*\??\s*$",
)]


# "(t + 1)(t - 9), expand it", "7 = x - 8, solve it": the formula first, then the task.
_FORMULA_THEN_VERB = re.compile(r"^\s*(?P<body>[^,]+?)\s*[,:]\s*(?P<verb>solve|expand|simplify|"
                                r"factor|differentiate)\s+(?:it|this)\s*[?.!]*\s*$", re.I)
# "10 - x = 4, x = ?", "a - b = 5, a + b = -1. what are a and b?": relations, then the ask.
_RELATIONS_THEN_ASK = re.compile(
    rf"^\s*(?P<eqs>[^?]*=[^?]*?)\s*[,.;]\s*(?:{_VARS}\s*=\s*\?|(?:what\s+(?:is|are)|find|"
    r"solve\s+for)\s+(?P<vars2>[a-z](?:\s*(?:,|and)\s*[a-z])*)\s*\??)\s*$", re.I)
# Relations listed with ";", ",", new lines or "and": a system to solve.
_LISTED_RELATIONS = re.compile(r"\s*(?:[;,\n]|\band\b)\s*", re.I)
# "solve these: ...", "the following:": pointing at what comes next, not at an earlier turn.
_POINTS_AHEAD = re.compile(r"\s*\b(?:these|this|the\s+following)(?:\s+(?:equations?|system))?"
                           r"\s*:\s*", re.I)
# "multiply (x - 9)(x - 1)": multiplying out a product with letters in it.
_MULTIPLY_PRODUCT = re.compile(r"^\s*multiply\s+(?P<body>\(.+\)\s*(?:\(.+\)|\^\s*\d+))"
                               r"\s*[?.!]*\s*$", re.I)


# LaTeX typed without delimiters: a run of commands, braces, digits, signs and lone letters.
_TEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_TEX_RUN = re.compile(r"(?:\\[A-Za-z]+|[{}\[\]\d^_+\-*/=().,|]|\s|"
                      r"(?<![A-Za-z\\])[A-Za-z](?![A-Za-z]))+")

# Typed questions are a line or two; the rules' patterns take quadratic time on some long
# inputs (20,000 '=' took 9 s), so longer text is read as written.
MAX_RESTATED_CHARS = 400


def restate(question: str) -> str:
    """The question in the classifier's words where a rule here applies; else unchanged."""
    if len(question) > MAX_RESTATED_CHARS:
        return question
    text = _without_courtesy(question)
    if "$" in text or "\\(" in text or "\\[" in text:
        return text  # LaTeX questions are read as written
    if _TEX_COMMAND.search(text):
        return _TEX_RUN.sub(_delimited, text)  # "\frac{3}{8} + \frac{5}{12}", typed bare
    text = _TAKE_THE.sub("Find the ", _SIMULTANEOUSLY.sub(" ", text), count=1)
    text = _POINTS_AHEAD.sub(" ", text, count=1)
    for pattern in _SOLVE_FOR:
        m = pattern.match(text)
        if m:
            return f"Solve {m.group('eqs').strip()} for {m.group('vars').strip()}"
    m = _RELATIONS_THEN_ASK.match(text)
    if m and not set(prose_words(m.group("eqs"))) - {"and"}:
        unknowns = (m.group("vars") or m.group("vars2")).strip()
        return f"Solve {_LISTED_RELATIONS.sub(', ', m.group('eqs').strip())} for {unknowns}"
    m = _FORMULA_THEN_VERB.match(text)
    if m and not prose_words(m.group("body")):
        return f"{m.group('verb').capitalize()} {m.group('body')}"
    m = _MULTIPLY_PRODUCT.match(text)
    if m and re.search(r"[a-z]", m.group("body"), re.I):
        return f"Expand {m.group('body')}"
    system = _system(text)
    if system is not None:
        return system
    text = _SIMPLIFY_WORDS.sub("Simplify ", text, count=1)
    text = _EXPAND_THE_PRODUCT.sub("Expand ", text, count=1)
    for pattern, template in ((_EXPANDED, "Expand {body}"),
                              (_SIMPLIFIES_TO, "Simplify {body}")):
        m = pattern.match(text)
        if m and not prose_words(m.group("body")):  # one formula, not a sentence
            return template.format(body=m.group("body"))
    return _value_question(_times_signs(text))


def _times_signs(text: str) -> str:
    """'what is 56 x 7' -> 'what is 56 * 7'; unchanged where an x could be the unknown."""
    if not _TIMES_SIGN.search(text) or re.search(r"[=<>]", text):
        return text
    signed = _TIMES_SIGN.sub(" * ", text)
    return text if _LONE_LETTER.search(signed) else signed


def _delimited(run: re.Match[str]) -> str:
    """A run of LaTeX typed without `$`, between `$` (spaces around it kept outside)."""
    body = run.group(0)
    if "\\" not in body:
        return body
    lead, core = body[:len(body) - len(body.lstrip())], body.strip()
    return f"{lead}${core}${body[len(lead) + len(core):]}"


def _system(text: str) -> str | None:
    """'x + y = 10 and x - y = 2', 'x + 3y = -4; 2x - y = 6': 'Solve x + y = 10, x - y = 2'."""
    parts = [p.strip().rstrip("?.!") for p in _LISTED_RELATIONS.split(text.strip())]
    if len(parts) < 2 or any(p.count("=") != 1 or prose_words(p) for p in parts):
        return None
    if any(not side.strip() for p in parts for side in p.split("=")):
        return None  # "f(x) = x^2, f'(x) = ?": the last part asks, it is no equation
    return "Solve " + ", ".join(parts)


def _without_courtesy(question: str) -> str:
    text = question
    while True:
        shorter = _COURTESY_END.sub(r"\1", _COURTESY_START.sub("", text, count=1))
        if shorter == text or not shorter.strip():
            return text
        text = shorter


def _value_question(text: str) -> str:
    """'how much is 36 times 24?' -> 'What is 36 * 24?'; '84 ÷ 7 = ?' -> 'What is 84 ÷ 7?'."""
    m = _WHAT_DOES_EQUAL.match(text)
    body, asked = (m.group("body"), True) if m else (text, False)
    opener = _VALUE_OPENER.match(body)
    if opener:
        body, asked = body[opener.end():], True
    ends = _ENDS_EQUALS.search(body)
    if ends and not re.search(r"[=<>]", body[:ends.start()]) and re.search(r"\d", body):
        body, asked = body[:ends.start()], True
    operation = _one_operation(body)
    if operation is not None:
        body, asked = operation, True
    if not asked:
        return text
    return "What is " + body.strip()


def _one_operation(text: str) -> str | None:
    """The text with its one operation phrase on two plain numbers written as the operation,
    when that phrase is all it says besides 'what is'; None otherwise."""
    if len(_OPERATION_WORD.findall(text)) != 1:
        return None
    for pattern, template in _OPERATIONS:
        m = pattern.search(text)
        if m is None:
            continue
        rest = (text[:m.start()] + " " + text[m.end():]).strip(" ?.!")
        rest = re.sub(r"^(?:what\s+is|find|compute|calculate|evaluate)\b", "", rest,
                      flags=re.I).strip(" ?.!:")
        if rest or _ARITHMETIC_SIGN.search(text[:m.start()] + text[m.end():]):
            return None  # more than the one operation: read as written
        if "/" in template and _inexact_division(m.group("a"), m.group("b")):
            return None  # "7 divided by 3": 7/3, or 2 remainder 1?
        return template.format(a=_operand(m.group("a")), b=_operand(m.group("b")))
    return None


def _inexact_division(a: str, b: str) -> bool:
    """Whole numbers that do not divide: in words that may ask for a quotient and remainder."""
    if not (re.fullmatch(r"-?\d+", a.strip()) and re.fullmatch(r"-?\d+", b.strip())):
        return False
    return int(b) == 0 or int(a) % int(b) != 0


def _operand(number: str) -> str:
    """A fraction operand keeps its own bracket: 3/4 divided by 9/10 is (3/4)/(9/10)."""
    number = number.strip()
    return f"({number})" if "/" in number or number.startswith("-") else number
