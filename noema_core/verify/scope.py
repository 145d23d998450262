"""Independent mode, step zero: does the formula capture the whole question?

A verdict without a reference is only honest when the mathematics the checker reads is all the
question depends on. So before anything is computed, the question's prose (its text outside
the formulas) must be made of directive words only: the task ("solve", "evaluate", "find the
derivative of"), fillers ("the", "value", "of") and instructions about the answer's form
("express your answer as a common fraction"). Any other word means the question says something
the formula does not: a word problem, an object defined in prose, a condition ("such that",
"if", "positive"), a property to find ("the degree", "the units digit"): it is "could not
check", with the words that made it so. Diagrams (`[asy]`) are refused outright, and words
that point back at an earlier turn ("now", "that", "the previous") get their own reason.

Lines that announce answer-format rules ("please follow these instructions:") end the question:
what follows them is about how to write the answer, not what to compute.
"""

from __future__ import annotations

import re

import sympy

_MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$])\$([^$]+?)\$", re.DOTALL)
_INSTRUCTIONS = re.compile(r"^.*\b(?:instructions|guidelines|rules|requirements)\s*:\s*$",
                           re.I | re.M)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]")

# Words a directive may use. Not answers, not topics: the verbs of the tasks the checker
# computes, the fillers around them, and the vocabulary of answer-format instructions.
_TASK_WORDS = """
find compute evaluate calculate determine work out simplify simplified reduce solve factor factorise
factorize factorised factorized factoring factorising factorizing expand multiply add subtract
divide differentiate integrate rationalize rationalise write express give enter state list
answer answers
what is are the of value values exact numerical numeric expression following this
equation equations system inequality polynomial quadratic fraction fractions number numbers
for all real complex solution solutions root roots zero zeros zeroes satisfies satisfy
x-intercept x-intercepts that which unknown over
derivative derivatives second third fourth with respect to integral indefinite definite
antiderivative anti-derivative limit as approaches tends goes from
your in as simplest lowest terms term form radical common decimal decimals whole mixed
pi π exact standard notation interval intervals separated by commas comma possible only
final please show work steps step using use out and or its radians
"""
_TWO_LETTER_WORDS = {"is", "of", "if", "in", "to", "as", "by", "an", "at", "be", "or", "it",
                     "do", "so", "we", "on", "no", "up", "me", "my", "us", "go", "he", "am"}
_MATH_NAMES = {"sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan", "arcsin",
               "arccos", "arctan", "sinh", "cosh", "tanh", "exp", "log", "ln", "sqrt", "abs",
               "pi", "dx", "dy", "dt", "du", "dz", "oo", "inf", "cbrt", "i", "e", "mod", "lim"}
ALLOWED_WORDS = frozenset(_TASK_WORDS.split())

# Words that point at an earlier turn of a conversation ("Now what is x + y?").
EARLIER_TURN = re.compile(r"^\s*(?:then|so|and)\b|\b(?:now|previous(?:ly)?|earlier|above|before|"
                          r"again|same|last|"
                           r"it|those|these|result|this(?!\s+(?:equation|expression|system|"
                           r"inequality|polynomial|integral|limit|fraction|number))|"
                           r"(?<!such )(?<!so )that(?!\s+satisf))\b", re.I)
# Properties of an object rather than the object's value (named in the reason).
_PROPERTY = re.compile(r"\b(?:degree|coefficient|constant\s+term|base|digits?|angle|slope|"
                       r"discriminant|vertex|asymptotes?|radius|distance|midpoint|period|"
                       r"remainder|divisors?|multiples?|inverse|conjugate|modulo|residue)\b",
                       re.I)


class OutOfScope(ValueError):
    """The question depends on more than its formulas; the message says what."""


def mask_math(text: str) -> str:
    """The text with every LaTeX formula replaced by a placeholder (its prose only)."""
    return _MATH.sub(" ⟨math⟩ ", text)


def question_body(question: str) -> str:
    """The question without a trailing block of answer-format instructions."""
    m = _INSTRUCTIONS.search(question)
    return question[:m.start()].rstrip() if m else question


def prose_words(text: str) -> list[str]:
    """The words of `text` outside formulas that are not names of math functions, lower case.
    In plain text one- and two-letter tokens are variables (`x`, `xy`) unless English."""
    words = []
    for word in _WORD.findall(mask_math(text).replace("⟨math⟩", " ")):
        low = word.lower()
        # "x-y" in "x-y=8" is a difference of variables, not a hyphenated word
        if all(_is_variable_like(part) for part in low.split("-")):
            continue
        words.append(low)
    return words


def _is_variable_like(token: str) -> bool:
    return token in _MATH_NAMES or len(token) == 1 or (len(token) == 2 and
                                                        token not in _TWO_LETTER_WORDS)


def require_whole_question(question: str) -> str:
    """The question's body if its formulas are all it depends on; else OutOfScope."""
    if "[asy]" in question:
        raise OutOfScope("the question has a diagram ([asy]) the checker cannot see")
    body = question_body(question)
    prose = mask_math(body)
    words = prose_words(body)
    property_word = _PROPERTY.search(prose)
    if property_word:
        raise OutOfScope(f"the question asks for a property ({property_word.group(0).lower()!r})"
                         " that the checker does not compute")
    earlier = EARLIER_TURN.search(prose)
    if earlier:
        raise OutOfScope(f"the question refers to an earlier turn ({earlier.group(0)!r}); "
                         "the checker sees only this question")
    unknown = [w for w in words if w not in ALLOWED_WORDS]
    if unknown:
        shown = ", ".join(dict.fromkeys(unknown[:6]))
        raise OutOfScope(f"the question says more than its formulas ({shown}): a word problem "
                         "or a condition the checker does not model")
    for sentence in sentences(" ".join(body.split("\n"))):
        formulas = [next(g for g in m.groups() if g) for m in _MATH.finditer(sentence)]
        if is_answer_form(sentence) and any(not NAMING.match(f.strip().rstrip(".,"))
                                            for f in formulas):
            raise OutOfScope("the question asks for the answer in a form of its own "
                             f"({sentence[:60]!r}), which the checker does not model")
    return body


# A formula that only names a variable or constant ("for $x$", "in terms of $\\pi$").
NAMING = re.compile(r"^\s*(?:[A-Za-z](?:_\{?\w+\}?)?|\\(?:pi|theta|alpha|beta|omega))\s*$")
_SENTENCE_END = re.compile(r"[.?!](?:\s+|$)")
_ANSWER_FORM = re.compile(r"\byour\s+(?:final\s+)?answers?\b|^\s*(?:express|enter|give|round|"
                          r"leave|write|list|show|provide|present|state)\s+(?:your|the|all|each|"
                          r"only|them|it)\b", re.I)


def sentences(text: str) -> list[str]:
    """`text` split into sentences at `.`, `?` or `!` followed by a space, outside formulas."""
    pieces, start, cursor = [], 0, 0
    spans = [m.span() for m in _MATH.finditer(text)] + [(len(text), len(text))]
    for a, b in spans:
        for m in _SENTENCE_END.finditer(text, cursor, a):
            pieces.append(text[start:m.end()].strip())
            start = m.end()
        # MATH style puts the full stop inside the formula: `$x = 0.$  Compute ...`
        if b < len(text) and re.search(r"[.?!]\s*(?:\$\$|\$|\\\]|\\\))$", text[a:b]) \
                and text[b:b + 1].isspace():
            pieces.append(text[start:b].strip())
            start = b
        cursor = b
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]


def is_answer_form(sentence: str) -> bool:
    """An instruction about how to write the answer ("Express your answer as a fraction.")."""
    has_formula = bool(_MATH.search(sentence)) or bool(re.search(r"[=+*/^\d]", sentence))
    return bool(_ANSWER_FORM.search(sentence)) or not has_formula


def directive_text(body: str) -> str:
    """The sentences of the question that set the task (answer-form instructions left out)."""
    kept = [s for s in sentences(" ".join(body.split("\n"))) if not is_answer_form(s)]
    return " ".join(kept)


_DEGREES = re.compile(r"(\d+(?:\.\d+)?)\s*\^\s*(?:\{\s*\\circ\s*\}|\\circ)")
_ONE_TOKEN_POWER = re.compile(r"\^(\d)(?=\d)")
_BARE_LOG = re.compile(r"\\(?:log|ln)(?:_\s*(?:\{(?:[^{}]|\{[^{}]*\})*\}|\\?[A-Za-z0-9]))?"
                       r"\s*([0-9.]+(?![0-9.])|[A-Za-z])\s*(?=[0-9A-Za-z(\\])(?!\\(?:cdot|times|right|div|pm)\b)")


def question_latex(text: str) -> str:
    """A formula of the question read the way TeX and the problem mean it: `30^\\circ` is
    degrees (converted to radians), `6^210^2` is 6^2 times 10^2 (a superscript takes one
    token). A logarithm whose argument runs into the next factor (`\\log_2 8\\sqrt{2}`) is
    ambiguous and refused."""
    text = re.sub(r"_(\d)(?=\d)", r"_{\1}", text)  # `\log_381` is log base 3 of 81
    if _BARE_LOG.search(text):
        raise OutOfScope("the question's logarithm has an ambiguous argument (add braces)")
    text = _DEGREES.sub(r"(\1 \\pi / 180)", text)
    if "\\circ" in text or "°" in text:
        raise OutOfScope("the question has an angle in degrees the checker cannot convert")
    text = re.sub(r"\)\s*\(", r") \\cdot (", text)  # `(a)(b)`: the LaTeX grammar misreads it
    return _ONE_TOKEN_POWER.sub(r"^{\1}", text)


def real_odd_roots(obj: object) -> object:
    """Odd roots of negative numbers taken as real (∛-8 = -2), as problems mean them; sympy's
    principal root is complex. Works on the unevaluated tree. An odd root of an expression
    that could be negative is refused."""
    if not isinstance(obj, sympy.Basic):
        return obj
    mapping = {}
    for node in sympy.preorder_traversal(obj):
        if isinstance(node, sympy.Pow) and node.exp.is_Rational and node.exp.q % 2 == 1 \
                and node.exp.q > 1:
            if node.base.is_number and node.base.is_negative:
                root = -sympy.root(-node.base, node.exp.q)
                mapping[node] = root ** node.exp.p
            elif not node.base.is_number and not node.base.is_nonnegative:
                raise OutOfScope("the question takes an odd root of an expression that may be "
                                 "negative (real or principal root?)")
    return obj.xreplace(mapping) if mapping else obj


# `f(x) = ...` or `a = ...`: a formula that defines one function or one variable.
_DEFINES = re.compile(r"^\s*(?P<name>[A-Za-z])\s*(?:\(\s*(?P<var>[A-Za-z])\s*\))?\s*=\s*"
                      r"(?P<expr>[^=<>≤≥]+?)\s*[.,]?\s*$")
_CLAUSE = re.compile(r"\b(?:let|if|given(?:\s+that)?|suppose(?:\s+that)?|define|assume(?:\s+that)?"
                     r"|where)\s+(?:the\s+functions?\s+)?(?P<defs>⟨D\d+⟩(?:\s*,?\s*(?:and\s+)?(?:let\s+)?"
                     r"⟨D\d+⟩)*)\s*(?:be\s+(?:a\s+)?functions?\s*)?(?:[,.;]\s*(?:then\s+)?|(?=\s)"
                     r"|$)", re.I)


def split_definitions(question: str) -> tuple[str, list[tuple[str, str | None, str]]]:
    """The question without its definition clauses ("Let $f(x) = x^2$.", "If $x = 3$ and
    $y = 5$,"), and the definitions as (name, variable or None, formula text). A name
    defined twice, or a definition clause mixed with other formulas, stays in the text."""
    found: list[tuple[str, str | None, str]] = []
    segments = list(_MATH.finditer(question))
    marked, cursor = [], 0
    for i, m in enumerate(segments):
        inner = next(g for g in m.groups() if g)
        d = _DEFINES.match(inner) if "\\begin" not in inner else None
        marked.append(question[cursor:m.start()] + (f"⟨D{i}⟩" if d else f"⟨M{i}⟩"))
        cursor = m.end()
    marked.append(question[cursor:])
    text = "".join(marked)
    for clause in _CLAUSE.finditer(text):
        for index in re.findall(r"⟨D(\d+)⟩", clause.group("defs")):
            inner = next(g for g in segments[int(index)].groups() if g)
            d = _DEFINES.match(inner)
            found.append((d.group("name"), d.group("var"), d.group("expr")))
    names = [name for name, _, _ in found]
    if not found or len(set(names)) < len(names):
        return question, []
    text = _CLAUSE.sub(" ", text)
    # Put the remaining formulas back.
    rest = re.sub(r"⟨[DM](\d+)⟩", lambda m: segments[int(m.group(1))].group(0), text)
    return re.sub(r"^[\s,;]*(?:and\b)?[\s,]*", "", rest), found
