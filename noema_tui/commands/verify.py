"""`noema verify`: check a response's final answer with sympy, from a shell or a script.

    noema verify --question "Solve 3x + 5 = 20" "... so \\boxed{5}"
    echo "\\boxed{0.5}" | noema verify --reference "1/2" --json

Exit codes: 0 verified, 4 contradicted, 5 could not check, 2 usage.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

NO_RESPONSE = ("no response: pass it as an argument (noema verify --reference 5 '\\boxed{5}') "
               "or pipe it on stdin")


def verify(
    response: Annotated[str | None, typer.Argument(
        help="The model's response (its final answer is extracted: last \\boxed{}, then "
             "'The answer is ...' lines). '-' or no argument reads it from piped stdin.",
        show_default=False)] = None,
    question: Annotated[str | None, typer.Option(
        "--question", "-q", help="The question, for checking without a reference.",
        show_default=False)] = None,
    reference: Annotated[str | None, typer.Option(
        "--reference", "-r", help="The known answer to compare with.",
        show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    timeout: Annotated[float, typer.Option(
        min=0.1, max=600, help="Seconds before giving up (could not check).")] = 5.0,
) -> None:
    """Check the final answer of a response with sympy.

    Against --reference, or independently with --question.
    Exit codes: 0 verified, 4 contradicted, 5 could not check, 2 usage.
    """
    from noema_tui.commands.output import require_finite

    require_finite(timeout=timeout)  # nan passes Typer's range check
    if response is None or response == "-":
        if response is None and sys.stdin.isatty():
            print(f"error: {NO_RESPONSE}", file=sys.stderr)
            raise typer.Exit(2)
        response = sys.stdin.read()
    if reference is None and not question:
        print("error: nothing to check against: give --reference or --question",
              file=sys.stderr)
        raise typer.Exit(2)

    from noema_core.verify import check
    from noema_tui.commands.output import emit
    from noema_tui.terminal_text import visible

    verdict = check(response, question=question, reference=reference, timeout=timeout)
    if as_json:
        emit(json.dumps(verdict.to_dict()))
    else:
        lines = [f"{verdict.label}: {verdict.answer or '(no answer found)'}"]
        for name, value in (("expected", verdict.expected), ("reason", verdict.reason),
                            ("method", verdict.method), ("found by", verdict.rule)):
            if value:
                lines.append(f"  {name + ':':10}{value}")
        emit(visible("\n".join(lines)))  # the answer is the model's text: shown, not obeyed
    raise typer.Exit(verdict.exit_code)
