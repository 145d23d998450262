"""Independent checks for equations, systems and inequalities.

An equation's claimed roots are each substituted back (an exact root that does not satisfy the
equation is contradicted, whatever else is true), then compared with every root sympy finds,
so missing and extraneous roots are both caught. Decimal roots are compared with sympy's roots
at the precision they show. The domain is the one the question states; if it says nothing,
the reals, unless the answer itself uses complex numbers.
"""

from __future__ import annotations

import sympy

from noema_core.verify.classify import NotCheckable, Task
from noema_core.verify.context import Context
from noema_core.verify.equality import decimals_equal, expressions_equal, is_number, sets_equal
from noema_core.verify.reference import as_set
from noema_core.verify.shapes import Parsed
from noema_core.verify.trees import fold_case, short
from noema_core.verify.verdict import CONTRADICTED, UNVERIFIABLE, VERIFIED, Verdict, outcome

# Residual |LHS - RHS| relative to the size of the equation's terms.
_ZERO = sympy.Float(10) ** -40
_NONZERO = sympy.Float(10) ** -10


def claimed_values(ans: Parsed, names: set[str]) -> list[Parsed]:
    """The values an answer claims for a variable, read as an unordered list."""
    if ans.shape == "empty":
        return []
    if ans.shape == "assign":
        name = ans.name.lower()
        if not any(name == n or name.startswith(n + "_") for n in names):
            raise NotCheckable(f"the answer gives {ans.name}, the question asks for "
                               f"{', '.join(sorted(names))}")
        return claimed_values(ans.items[0], names)
    if ans.shape in ("list", "set", "tuple", "pair", "choice"):
        return [v for item in ans.items for v in claimed_values(item, names)]
    if ans.shape == "value" and isinstance(ans.value, sympy.Expr):
        return [ans.with_(value=fold_case(ans.value))]
    raise NotCheckable(f"the answer ({ans.text[:60]}) is not a list of values")


def residual_status(f: sympy.Expr, point: dict) -> str:
    """'zero', 'nonzero', 'undefined' or 'unknown' for f at the point."""
    try:
        value = f.xreplace(point)
        if value.has(sympy.nan, sympy.zoo) or value.has(sympy.oo, -sympy.oo):
            return "undefined"
        if value.free_symbols:
            same = expressions_equal(value, sympy.S.Zero)
            return {True: "zero", False: "nonzero", None: "unknown"}[same]
        scale = max([abs(sympy.N(t.xreplace(point), 50)) for t in sympy.Add.make_args(f)]
                    + [sympy.S.One])
        size = abs(sympy.N(value, 60))
        if size <= _ZERO * scale:
            return "zero"
        if size > _NONZERO * scale:
            return "nonzero"
        return "zero" if sympy.simplify(value) == 0 else "unknown"
    except (TypeError, ValueError, ArithmeticError):
        return "unknown"


def _roots(f: sympy.Expr, var: sympy.Symbol, domain: str) -> sympy.Set:
    others = f.free_symbols - {var}
    if others:  # solved for var in terms of the other letters
        return sympy.FiniteSet(*sympy.solve(f, var))
    if not others and f.is_polynomial(var):
        try:
            poly = sympy.Poly(f, var)
            if poly.degree() <= 0:
                return sympy.S.Reals if poly.is_zero else sympy.S.EmptySet
            found = poly.real_roots() if domain == "real" else poly.all_roots()
            return sympy.FiniteSet(*found)
        except (sympy.PolynomialError, NotImplementedError, sympy.DomainError):
            pass
    return sympy.solveset(f, var, sympy.S.Reals if domain == "real" else sympy.S.Complexes)


def _show(values: list[sympy.Expr]) -> str:
    shown = []
    for v in values:
        shown.append(short(v) if sympy.count_ops(v) <= 12 and not v.has(sympy.CRootOf)
                     else short(sympy.N(v, 8)))
    return "{" + ", ".join(shown) + "}"


def _matches(root: sympy.Expr, leaf: Parsed) -> bool | None:
    if is_number(root) and is_number(leaf.value):
        return decimals_equal(root, sympy.S.Zero, leaf.value, leaf.tolerance)
    return expressions_equal(root, leaf.value)


def check_equation(task: Task, ans: Parsed, ctx: Context) -> Verdict:
    var, relation = task.var, task.expr
    f = relation.lhs - relation.rhs
    claimed = claimed_values(ans, {var.name}) if ans.shape != "reals" else None
    if claimed is not None and any(c.value.free_symbols - f.free_symbols for c in claimed):
        raise NotCheckable("the answer uses variables the equation does not have")
    domain = ctx.domain or ("complex" if claimed and any(
        is_number(c.value) and not c.value.is_real for c in claimed) else "real")
    for leaf in claimed or []:
        if leaf.tolerance:
            continue  # a rounded root never satisfies the equation exactly; compared below
        status = residual_status(f, {var: leaf.value})
        if status == "nonzero":
            return outcome(CONTRADICTED, "solve:substitute",
                           f"{var} = {leaf.describe()} does not satisfy the equation")
        if status == "undefined":
            return outcome(CONTRADICTED, "solve:substitute",
                           f"the equation is undefined at {var} = {leaf.describe()}")
        if domain == "real" and is_number(leaf.value) and leaf.value.is_real is False:
            return outcome(CONTRADICTED, "solve:substitute", f"{leaf.describe()} is not real")
    solution_set = _roots(f, var, domain)
    finite = solution_set is sympy.S.EmptySet or isinstance(solution_set, sympy.FiniteSet)
    roots = list(solution_set) if finite else []
    expected = _show(roots) if finite else short(solution_set)
    if claimed is None:  # "all real numbers"
        same = sets_equal(solution_set, sympy.S.Reals)
        status = {True: VERIFIED, False: CONTRADICTED, None: UNVERIFIABLE}[same]
        return outcome(status, "solve:solveset", "every real number is a solution" if same else
                       "not every real number is a solution", expected)
    if not finite:
        return outcome(UNVERIFIABLE, "solve:substitute",
                       "no claimed root failed substitution, but sympy could not list all the "
                       f"solutions to check none is missing ({short(solution_set, 80)})",
                       expected)
    for root in roots:
        found = [_matches(root, c) for c in claimed]
        if True not in found:
            if None in found:
                return outcome(UNVERIFIABLE, "solve:roots", "could not compare the roots",
                               expected)
            return outcome(CONTRADICTED, "solve:roots",
                           f"a solution is missing: {var} = {_show([root])[1:-1]}", expected)
    for leaf in claimed:
        if True not in [_matches(root, leaf) for root in roots]:
            return outcome(CONTRADICTED, "solve:roots",
                           f"{var} = {leaf.describe()} is not a solution", expected)
    how = "every root sympy finds is claimed" if roots else "sympy finds no solution either"
    check = "substituted back and " if any(not c.tolerance for c in claimed) else ""
    return outcome(VERIFIED, "solve:substitute+roots",
                   f"{check}{how} ({domain} numbers)", expected)


def _claimed_solutions(ans: Parsed, variables: tuple) -> list[dict]:
    names = [v.name for v in variables]
    if ans.shape == "empty":
        return []
    if ans.shape == "list" and all(i.shape == "assign" for i in ans.items):
        solution = {i.name.lower(): i.items[0] for i in ans.items}
        if set(solution) != set(names):
            raise NotCheckable(f"the answer names {sorted(solution)}, expected {names}")
        return [solution]
    if ans.shape in ("pair", "tuple") and len(ans.items) == len(names):
        return [dict(zip(names, ans.items, strict=True))]
    if ans.shape in ("list", "set"):
        return [s for item in ans.items for s in _claimed_solutions(item, variables)]
    raise NotCheckable(f"could not read the answer as values of ({', '.join(names)}) "
                       "(tuples follow alphabetical order)")


def _partial_assignments(ans: Parsed, variables: tuple) -> list[tuple[str, Parsed]] | None:
    """`m = 2, m = 5` or `x = 3` for a system in two unknowns: assignments that do not give
    each unknown exactly once, all to unknowns of the system; None for any other answer."""
    items = [ans] if ans.shape == "assign" else ans.items if ans.shape == "list" else []
    if not items or any(i.shape != "assign" for i in items):
        return None
    named = [(i.name.lower(), i.items[0]) for i in items]
    names = sorted(v.name for v in variables)
    if sorted(n for n, _ in named) == names or not {n for n, _ in named} <= set(names):
        return None
    return named


def _check_partial(task: Task, named: list[tuple[str, Parsed]], variables: tuple) -> Verdict:
    """A value the system's only solution does not have is wrong, whatever else is missing;
    right values with an unknown left out are not judged (the question may ask for one)."""
    found = sympy.solve(list(task.equations), list(variables), dict=True)
    names = sorted(v.name for v in variables)
    if len(found) != 1 or set(found[0]) != set(variables) or any(
            x.free_symbols for x in found[0].values()):
        raise NotCheckable(f"the answer names {sorted({n for n, _ in named})}, expected {names}")
    exact = {v.name: value for v, value in found[0].items()}
    expected = ", ".join(f"{k} = {short(exact[k])}" for k in names)
    for name, leaf in named:
        if _matches(exact[name], leaf) is False:
            return outcome(CONTRADICTED, "system:solve",
                           f"{name} = {leaf.describe()} is wrong: the system's only solution "
                           f"has {name} = {short(exact[name])}", expected)
    raise NotCheckable(f"the answer names {sorted({n for n, _ in named})}, expected {names}")


def check_system(task: Task, ans: Parsed) -> Verdict:
    variables = task.extras["variables"]
    named = _partial_assignments(ans, variables)
    if named is not None:
        return _check_partial(task, named, variables)
    claimed = _claimed_solutions(ans, variables)
    functions = [e.lhs - e.rhs for e in task.equations]
    for solution in claimed:
        if any(leaf.tolerance for leaf in solution.values()):
            continue
        point = {v: fold_case(solution[v.name].value) for v in variables}
        for f in functions:
            status = residual_status(f, point)
            if status in ("nonzero", "undefined"):
                shown = ", ".join(f"{k} = {v.describe()}" for k, v in solution.items())
                return outcome(CONTRADICTED, "system:substitute",
                               f"{shown} does not satisfy the system")
    found = sympy.solve(list(task.equations), list(variables), dict=True)
    expected = "; ".join(", ".join(f"{k} = {short(v)}" for k, v in s.items()) for s in found) \
        or "no solution"
    if any(set(s) != set(variables) or any(x.free_symbols for x in s.values()) for s in found):
        return outcome(UNVERIFIABLE, "system:substitute",
                       "the claimed solution satisfies the system, which has infinitely many",
                       expected)

    def same(solution: dict, exact: dict) -> bool:
        return all(_matches(exact[v], solution[v.name]) for v in variables)
    for exact in found:
        if not any(same(s, exact) for s in claimed):
            return outcome(CONTRADICTED, "system:solve", "a solution is missing", expected)
    for s in claimed:
        if not any(same(s, exact) for exact in found):
            return outcome(CONTRADICTED, "system:solve", "a claimed solution is wrong", expected)
    return outcome(VERIFIED, "system:substitute+solve",
                   "the claimed solutions are exactly sympy's", expected)


def check_inequality(task: Task, ans: Parsed, ctx: Context) -> Verdict:
    expected_set = sympy.solveset(task.expr, task.var, sympy.S.Reals)
    claimed = as_set(ans.items[0] if ans.shape == "assign" else ans,
                     Context(ctx.variables, ctx.percent, True, ctx.domain))
    if claimed is None:
        raise NotCheckable("could not read the answer as a set of numbers")
    same = sets_equal(expected_set, fold_case(claimed))
    status = {True: VERIFIED, False: CONTRADICTED, None: UNVERIFIABLE}[same]
    reason = {True: "the answer describes exactly the solution set",
              False: "the answer describes a different set",
              None: "could not compare the sets"}[same]
    return outcome(status, "inequality:solveset", reason, short(expected_set))
