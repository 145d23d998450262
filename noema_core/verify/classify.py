"""Independent mode, step one: what does the question ask, and about which object?

The object is read from the question's statement (`statement`: its first line, LaTeX
segments or the math between words). Kinds: solve (one equation), system, inequality,
evaluate, simplify, factor, expand, differentiate, integrate (indefinite), definite-integral,
limit, sum. Anything else raises `NotCheckable` with the reason.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field

import sympy
from sympy.core.function import AppliedUndef

from noema_core.verify import followup
from noema_core.verify.context import Context, declared_variable
from noema_core.verify.definitions import Definitions
from noema_core.verify.families import family_task
from noema_core.verify.limits import MAX_MATH_CHARS, InputTooLarge, check_text
from noema_core.verify.notation import rewrite_derivative
from noema_core.verify.phrasing import restate
from noema_core.verify.scope import (
    NAMING,
    OutOfScope,
    prose_words,
    question_body,
    question_latex,
    real_odd_roots,
    require_whole_question,
    split_definitions,
)
from noema_core.verify.shapes import ShapeError, parse_math
from noema_core.verify.statement import MATH_SEGMENT, math_texts, plain_spans, statement_of, trim
from noema_core.verify.trees import MathObject, fold_case, rebuild


class NotCheckable(ValueError):
    """The question is not one sympy can check independently; the message says why."""


@dataclass(frozen=True)
class Task:
    kind: str
    expr: object = None  # the expression (or relation) the question is about
    var: sympy.Symbol | None = None
    equations: tuple = ()  # system: the equations; solve: (the equation,)
    order: int = 1  # differentiate: which derivative
    bounds: tuple = ()  # definite integral (a, b); limit (point, direction)
    source: str = ""  # the math text the object came from
    extras: dict = field(default_factory=dict)


_KINDS: list[tuple[str, re.Pattern[str]]] = [
    ("integrate", re.compile(r"integra|antiderivative|anti-derivative|∫|\\int\b", re.I)),
    ("differentiate", re.compile(r"derivative|differentiat|\bd/d[a-z]\b|\\frac\s*\{\s*d\^?\d?"
                                 r"\s*\}\s*\{\s*d[a-z]", re.I)),
    ("limit", re.compile(r"\blim(?:its?)?(?![a-zA-Z])|\\lim\b", re.I)),
    ("sum", re.compile(r"\\sum\b|∑", re.I)),
    ("factor", re.compile(r"\bfactor(?:ise|ize|ized|ised|ing)?\b(?!\s+of)", re.I)),
    ("expand", re.compile(r"\bexpand\b|\bmultiply\s+out\b", re.I)),
    ("simplify", re.compile(r"\bsimplif|\blowest\s+terms\b|\bsimplest\s+form\b|\breduce\b",
                            re.I)),
    ("solve", re.compile(r"\bsolve\b|\broots?\b|\bzeros?\b|\bintercepts?\b|\bsolutions?\b|\bsatisf|"
                         r"\bvalues?\s+of\b|\bvalue\(s\)|\bfind\s+(?:all\s+)?[a-z]\b", re.I)),
    ("evaluate", re.compile(r"\bevaluate\b|\bcompute\b|\bcalculate\b|\bwhat\s+is\b|\bfind\b|"
                            r"\badd\b|\bsubtract\b|\bmultiply\b|\bdivide\b|\bvalue\b", re.I)),
]
_NOT_PLAIN = re.compile(
    r"\b(?:sum|product)\s+of\s+(?:the|all|its)\b|\bhow\s+many\b|\bnumber\s+of\b|\blargest\b|"
    r"\bsmallest\b|\bgreatest\b|\bleast\b|\bmaximum\b|\bminimum\b|\bpositive\b|\bnegative\b|"
    r"\bintegers?\b|\bprove\b|\bshow\s+that\b|\bexplain\b|\bwhy\b|\bprobability\b|\bnearest\b|"
    r"\bsketch\b|\bgraph\b|\barea\b|\bvolume\b|\bperimeter\b|\bcommon\s+factor|\bprime\b|"
    r"\bfactorial\b|\bremainder\b|\bdigits?\b|\bmod\b|\bdomain\b|\brange\b|\btangent\s+line\b",
    re.I)
_ZEROS = re.compile(r"\b(?:roots?|zeros?|zeroes|x-intercepts?)\b", re.I)
_FUNCTION_DEFINITION = re.compile(r"^\s*(?:[a-zA-Z]\s*\(\s*[a-zA-Z]\s*\)|y)\s*=\s*(?!.*=)")
_ORDERS = {"second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}


def classify(question: str, ctx: Context, earlier: tuple[str, ...] = ()) -> Task:
    """The task the question sets, or NotCheckable with the reason; `earlier` holds the
    conversation's previous questions, for a follow-up (see `followup`)."""
    question = restate(question)
    alone = followup.standalone(question)
    if alone is not None:  # "and 406 - 177?": checked alone when it needs no earlier value
        with contextlib.suppress(NotCheckable):
            task = classify(alone, ctx)
            if followup.self_contained(task):
                return task
        with contextlib.suppress(NotCheckable):  # "now (x - 3)^2" after "expand ..."
            inherited = earlier and followup.with_earlier_task(
                alone, classify(earlier[-1], ctx, earlier[:-1]))
            if inherited:
                return classify(inherited, ctx)
    elif earlier and followup.bare_expression(question):  # the earlier turn's task again
        with contextlib.suppress(NotCheckable):
            inherited = followup.with_earlier_task(
                question, classify(earlier[-1], ctx, earlier[:-1]))
            if inherited:
                return classify(inherited, ctx)
    question, found = split_definitions(rewrite_derivative(question))
    if earlier and followup.refers_to_earlier(question):
        try:
            question, known = followup.resolve(question, earlier,
                                               lambda q: _solve_earlier(q, ctx))
        except OutOfScope as err:
            raise NotCheckable(str(err)) from err
        found = known + [d for d in found if d[0] not in {k[0] for k in known}]
    try:
        family = None if found else family_task(question, lambda t: _parse(question_latex(t), ctx))
    except OutOfScope as err:
        raise NotCheckable(str(err)) from err
    if family is not None:
        kind, value, extras = family
        return Task(kind, expr=value, extras=extras, source=question)
    statement = statement_of(question)
    if not statement:
        raise NotCheckable("the question is empty")
    prose = MATH_SEGMENT.sub(" ", question_body(question))
    blocked = _NOT_PLAIN.search(prose)
    if blocked:
        raise NotCheckable(f"the question asks about {blocked.group(0).strip()!r}, which this "
                           "checker does not model")
    kind = next((k for k, pattern in _KINDS if pattern.search(statement)), None)
    if kind is None and set(prose_words(statement)) <= {"and"} and re.search(r"\d", statement):
        # A bare formula ("406 - 177?") asks for its value, bare relations for their solution
        # (all of them: two equations in a LaTeX cases environment are a system).
        kind = "solve" if re.search(r"[=<>≤≥]", statement) else "evaluate"
    if kind is None:
        raise NotCheckable("the question does not ask to solve, evaluate, simplify, factor, "
                           "expand, differentiate, integrate, or take a limit or sum")
    try:
        require_whole_question(question)
    except OutOfScope as err:
        raise NotCheckable(str(err)) from err
    if kind == "limit" and "\\lim" not in statement:
        return _plain_limit(statement, ctx)
    texts, source = math_texts(statement)
    if source != "latex" and re.search(r"[\w)]!\s*$", statement):
        raise NotCheckable("the final '!' could be a factorial or emphasis; write n! inside the "
                           "formula, e.g. 'What is 5!?'")
    if source == "latex":
        try:
            texts = [question_latex(t) for t in texts]
        except OutOfScope as err:
            raise NotCheckable(str(err)) from err
    try:
        definitions = Definitions(found, ctx.variables)
        texts = [definitions.apply_to_text(t) for t in _objects_only(texts, kind)]
    except OutOfScope as err:
        raise NotCheckable(str(err)) from err
    except (ShapeError, InputTooLarge) as err:
        raise NotCheckable(f"could not read a definition in the question: {err}") from err
    if not texts:
        raise NotCheckable("no mathematical expression found in the question")
    if source == "words" and len(texts) > 1 and kind not in ("solve", "integrate"):
        # "What is 7 divided by 3?": the computation is partly in words we do not read.
        raise NotCheckable("the question's numbers are spread between words; write the "
                           "expression in one piece (or in LaTeX)")
    for text in texts:
        try:
            check_text(text, "the question's expression", MAX_MATH_CHARS)
        except InputTooLarge as err:
            raise NotCheckable(str(err)) from err
    if kind == "integrate" or any("\\int" in t for t in texts):
        return _integral_task(texts, statement, ctx)
    # "Find the zeros of f(x) = x^2 - 4" is about x^2 - 4; "Solve y = 2x + 1" keeps its y.
    definition = kind != "solve" or _ZEROS.search(statement) is not None
    objects = [definitions.apply_to_value(_parse(t, ctx, definition=definition))
               for t in _relevant(texts, kind)]
    kind = _kind_of_object(objects[0], kind)
    if kind == "solve" and not _ZEROS.search(statement) and not any(
            isinstance(o, sympy.core.relational.Relational) for o in objects):
        kind = "evaluate"  # "Find the value of $2x^2 + 3x + 4$ (if $x = -2$)."
    declared = declared_variable(statement)
    if kind == "differentiate":
        return _derivative_task(objects, statement, declared)
    if kind in ("limit", "sum"):
        return _operation_task(kind, objects, texts[0])
    if any(o.atoms(AppliedUndef) for o in objects if isinstance(o, sympy.Basic)):
        raise NotCheckable("the question uses a function (like f(x)) it does not define here")
    if kind == "solve" or any(isinstance(o, sympy.core.relational.Relational) for o in objects):
        return _solve_task(objects, declared, texts, _ZEROS.search(statement) is not None)
    return _expression_task(kind, objects, texts)


def _solve_earlier(question: str, ctx: Context) -> dict:
    try:
        return followup.unique_solution(classify(question, ctx))
    except NotCheckable as err:
        raise OutOfScope(f"the question refers to an earlier turn the checker cannot use ({err})"
                         ) from err


def _objects_only(texts: list[str], kind: str) -> list[str]:
    """The question's formulas without those that only name a variable ("for $x$", "in terms
    of $\\pi$"); refuses a question whose formulas the task does not account for: a solve
    with anything but equations, or another task with more than one formula."""
    if len(texts) <= 1:
        return texts
    objects = [t for t in texts if not NAMING.match(t)] or texts[:1]
    relations = [t for t in objects if re.search(r"[=<>≤≥]|\\le|\\ge", t)]
    if relations and len(relations) < len(objects):
        raise NotCheckable("the question combines equations with other formulas; the checker "
                           "does not know how they relate")
    if not relations and len(objects) > 1 and kind not in ("integrate",):
        raise NotCheckable("the question has several formulas; the checker does not know how "
                           "they combine")
    return objects


def _kind_of_object(obj: MathObject, kind: str) -> str:
    """An integral, derivative, limit or sum written out in the question decides the kind."""
    if isinstance(obj, sympy.Integral):
        return "integrate"
    for cls, name in ((sympy.Derivative, "differentiate"), (sympy.Limit, "limit"),
                      (sympy.Sum, "sum")):
        if isinstance(obj, cls):
            return name
    return kind


def _relevant(texts: list[str], kind: str) -> list[str]:
    if kind in ("solve",):
        relations = [t for t in texts if re.search(r"[=<>≤≥]|\\le|\\ge", t)]
        return relations or texts[:1]
    return texts[:1]


def _parse(text: str, ctx: Context, definition: bool = False) -> MathObject:
    """The question's object; with `definition`, `f(x) = ...` or `y = ...` is its right side."""
    if definition and text.count("=") == 1 and _FUNCTION_DEFINITION.match(text):
        text = _FUNCTION_DEFINITION.sub("", text)
    try:
        tree = parse_math(text, ctx.variables)
        if isinstance(tree, sympy.Basic) and tree.has(sympy.acot):
            raise NotCheckable("arccot has two conventions for its range ((0, π) or "
                               "(-π/2, π/2]); the checker does not pick one")
        return fold_case(rebuild(tree if ctx.domain == "complex" else real_odd_roots(tree)))
    except OutOfScope as err:
        raise NotCheckable(str(err)) from err
    except (ShapeError, InputTooLarge) as err:
        raise NotCheckable(f"could not read the question's expression: {err}") from err


def _pick_variable(expr: MathObject, declared: str | None) -> sympy.Symbol:
    symbols = sorted(getattr(expr, "free_symbols", set()), key=lambda s: s.name)
    if not symbols:
        raise NotCheckable("the question's equation has no unknown in it")
    if declared and sympy.Symbol(declared.lower()) in symbols:
        return sympy.Symbol(declared.lower())
    if len(symbols) == 1:
        return symbols[0]
    if sympy.Symbol("x") in symbols:
        return sympy.Symbol("x")
    raise NotCheckable("the question does not say which variable to use")


def _solve_task(objects: list, declared: str | None, texts: list[str], zeros: bool) -> Task:
    relations = [o for o in objects if isinstance(o, sympy.core.relational.Relational)]
    if not relations and zeros and len(objects) == 1 and isinstance(objects[0], sympy.Expr):
        relations = [sympy.Eq(objects[0], 0)]  # the roots of an expression
    if not relations:
        raise NotCheckable("the question asks to solve, but has no equation or inequality")
    equations = [r for r in relations if isinstance(r, sympy.Eq)]
    if len(equations) > 1:
        if len(equations) != len(relations):
            raise NotCheckable("a mix of equations and inequalities")
        symbols = set().union(*(e.free_symbols for e in equations))
        return Task("system", equations=tuple(equations), source="; ".join(texts),
                    extras={"variables": tuple(sorted(symbols, key=lambda s: s.name))})
    (relation,) = relations if len(relations) == 1 else (None,)
    if relation is None:
        raise NotCheckable("several inequalities at once")
    var = _pick_variable(relation, declared)
    kind = "solve" if isinstance(relation, sympy.Eq) else "inequality"
    return Task(kind, expr=relation, var=var, equations=(relation,), source=texts[0])


def _expression_task(kind: str, objects: list, texts: list[str]) -> Task:
    expr = objects[0]
    if not isinstance(expr, sympy.Expr):
        raise NotCheckable(f"the question's object is not an expression ({type(expr).__name__})")
    return Task(kind, expr=expr, source=texts[0])


def _derivative_task(objects: list, statement: str, declared: str | None) -> Task:
    expr = objects[0]
    order = next((n for word, n in _ORDERS.items() if word in statement.lower()), 1)
    if isinstance(expr, sympy.Derivative):
        var, order = expr.variable_count[0]
        return Task("differentiate", expr=expr.expr, var=var, order=int(order))
    if not isinstance(expr, sympy.Expr):
        raise NotCheckable("the derivative's argument is not an expression")
    respect = re.search(r"respect\s+to\s+\$?([A-Za-z])\b|d/d([A-Za-z])\b", statement)
    name = next((g for g in respect.groups() if g), None) if respect else declared
    return Task("differentiate", expr=expr, var=_pick_variable(expr, name), order=order)


def _operation_task(kind: str, objects: list, text: str) -> Task:
    expr = objects[0]
    if kind == "limit" and isinstance(expr, sympy.Limit):
        body, var, point, _ = expr.args
        # latex2sympy says "+" even for a plain `x \to 0`; only a written side is one-sided.
        side = re.search(r"\\to\s*[^}]*?\^\s*\{?\s*([+-])", text)
        direction = side.group(1) if side else ("+-" if point.is_finite else "+")
        return Task("limit", expr=body, var=var, bounds=(point, direction), source=text)
    if kind == "sum" and isinstance(expr, sympy.Sum):
        return Task("sum", expr=expr)
    raise NotCheckable(f"could not read the {kind} in the question (write it in LaTeX, "
                       f"e.g. \\lim_{{x \\to 0}} or \\sum_{{k=1}}^{{n}})")


_PLAIN_LIMIT = [
    re.compile(r"^(?P<body>.*?)\bas\s+(?P<var>[A-Za-z])\s+(?:approaches|tends\s+to|goes\s+to|"
               r"->|→)\s+(?P<point>[^\s,?]+?)(?P<side>[+-]?)\s*[.?]?$", re.I),
    re.compile(r"\blim(?:it)?\s*_?\s*\{?\s*(?P<var>[A-Za-z])\s*(?:->|→)\s*(?P<point>[^\s}]+?)"
               r"(?P<side>[+-]?)\s*\}?\s+(?:of\s+)?(?P<body>.+?)\s*[.?]?$", re.I),
]


def _plain_limit(statement: str, ctx: Context) -> Task:
    """"limit of (x^2-1)/(x-1) as x approaches 1" or "lim_{x->0} sin(x)/x"."""
    for pattern in _PLAIN_LIMIT:
        m = pattern.search(statement)
        if m:
            spans = plain_spans(m.group("body"))
            if not spans:
                break
            body, var = _parse(trim(spans[0]), ctx), sympy.Symbol(m.group("var").lower())
            point_text = m.group("point").lower()
            point = sympy.oo if point_text in ("infinity", "∞", "oo", "inf") else _parse(
                point_text, ctx)
            side = m.group("side") or ("+-" if point.is_finite else "+")
            return Task("limit", expr=body, var=var, bounds=(point, side), source=m.group(0))
    raise NotCheckable("could not read the limit (write it as \\lim_{x \\to a} f(x), or "
                       "'the limit of f(x) as x approaches a')")


_PLAIN_INTEGRAL = re.compile(
    r"∫\s*(?:_\s*\{?(?P<a>[^{}\s^]+)\}?\s*\^\s*\{?(?P<b>[^{}\s]+)\}?)?\s*(?P<body>.+?)\s*"
    r"\bd(?P<var>[A-Za-z])\s*$")
_FROM_TO = re.compile(r"\bfrom\s+(?P<a>\S+)\s+to\s+(?P<b>[^\s,.?]+)", re.I)


def _integral_task(texts: list[str], statement: str, ctx: Context) -> Task:
    text = next((t for t in texts if "∫" in t or "\\int" in t), texts[0])
    m = _PLAIN_INTEGRAL.search(text) if "\\int" not in text else None
    if m:
        body = _parse(m.group("body"), ctx)
        var = sympy.Symbol(m.group("var").lower())
        if m.group("a") is not None:
            bounds = (_parse(m.group("a"), ctx), _parse(m.group("b"), ctx))
            return Task("definite-integral", expr=body, var=var, bounds=bounds, source=text)
        return Task("integrate", expr=body, var=var, source=text)
    obj = _parse(re.sub(r"\s*\bd[a-z]\s*$", "", text) if "\\int" not in text else text, ctx)
    if isinstance(obj, sympy.Integral):
        (limits,) = obj.limits if len(obj.limits) == 1 else (None,)
        if limits is None:
            raise NotCheckable("multiple integrals are not checked")
        if len(limits) == 3:
            return Task("definite-integral", expr=obj.function, var=limits[0],
                        bounds=limits[1:], source=text)
        return Task("integrate", expr=obj.function, var=limits[0], source=text)
    if not isinstance(obj, sympy.Expr):
        raise NotCheckable("the integrand is not an expression")
    respect = re.search(r"respect\s+to\s+\$?([A-Za-z])\b|\bd([a-z])\b", statement)
    name = next((g for g in respect.groups() if g), None) if respect else None
    var = _pick_variable(obj, name)
    span = _FROM_TO.search(statement)
    if span:
        bounds = (_parse(span.group("a"), ctx), _parse(span.group("b"), ctx))
        return Task("definite-integral", expr=obj, var=var, bounds=bounds, source=text)
    return Task("integrate", expr=obj, var=var, source=text)
