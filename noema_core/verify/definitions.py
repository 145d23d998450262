"""Functions and variables the question defines by a formula, applied to the formula asked about.

"If $f(x) = 3x + 2$ and $g(x) = (x - 1)^2$, what is $f(g(-2))$?" defines f and g (see
`scope.split_definitions`); here each call `f(...)`, innermost first, is replaced by the
definition's value at its argument, and each defined variable (`If $x = 2$ ...`) by its value.
Calls are replaced in the text because the LaTeX grammar reads `f(4)` as the product f·4.
A definition in terms of itself, an inverse (`f^{-1}`) or a derivative (`f'`) of a defined
function, or a result too large to write, is refused.
"""

from __future__ import annotations

import re

import sympy

from noema_core.verify.limits import MAX_MATH_CHARS
from noema_core.verify.scope import OutOfScope, question_latex
from noema_core.verify.shapes import parse_math
from noema_core.verify.trees import MathObject, fold_case, rebuild

_MAX_CALLS = 40


class Definitions:
    def __init__(self, found: list[tuple[str, str | None, str]],
                 variables: frozenset[str]) -> None:
        self._variables = variables
        self.functions: dict[str, tuple[sympy.Symbol, sympy.Expr]] = {}
        self.values: dict[sympy.Symbol, sympy.Expr] = {}
        for name, var, text in found:
            if re.search(rf"(?<![\\A-Za-z]){name}\s*\(", text):
                raise OutOfScope(f"the question defines {name} in terms of itself")
            body = self._read(self.apply_to_text(text))  # in terms of earlier definitions
            if var is None:
                self.values[sympy.Symbol(name)] = body
            else:
                self.functions[name] = (sympy.Symbol(var), body)

    def _read(self, text: str) -> sympy.Expr:
        value = rebuild(parse_math(question_latex(text), self._variables))
        if not isinstance(value, sympy.Expr):
            raise OutOfScope("a definition in the question is not an expression")
        return value

    def apply_to_text(self, text: str) -> str:
        """`text` with every call of a defined function replaced by its value."""
        if not self.functions:
            return text
        names = "".join(self.functions)
        if re.search(rf"(?<![\\A-Za-z])[{names}]\s*(?:'|\^\s*\{{?\s*-)", text):
            raise OutOfScope("the question asks for an inverse or derivative of a function it "
                             "defines")
        call = re.compile(rf"(?<![\\A-Za-z])([{names}])\s*\(([^()]*)\)")
        for _ in range(_MAX_CALLS):
            m = call.search(text)
            if not m:
                return text
            var, body = self.functions[m.group(1)]
            argument = self._read(m.group(2)) if m.group(2).strip() else None
            if argument is None:
                raise OutOfScope("a defined function is called without an argument")
            value = body.xreplace({var: argument})
            shown = sympy.latex(value)
            if len(text) + len(shown) > MAX_MATH_CHARS:
                raise OutOfScope("the defined function's values grow too large to check")
            # Brackets, not parentheses, so the call around this one is found next.
            text = text[:m.start()] + f"\\left[{shown}\\right]" + text[m.end():]
        raise OutOfScope("too many calls of defined functions to check")

    def apply_to_value(self, obj: MathObject) -> MathObject:
        """`obj` with each defined variable replaced by its value."""
        if not self.values or not isinstance(obj, sympy.Basic):
            return obj
        return fold_case(obj.xreplace(self.values))
