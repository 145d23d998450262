"""LaTeX in model replies, made readable in a terminal.

- `latex_to_unicode(latex)`: one line of Unicode (x², ½, √2, π, ≤, xᵢ).
- `layout_2d(latex)`: lines of a 2-D picture (stacked fractions, raised powers, radicals,
  matrices, boxed answers in a frame).
- `render_markdown(text)`: a Markdown reply with inline math as Unicode and each display-math
  block as a fenced ```text block holding its 2-D layout.

All three keep what the model wrote in the order it wrote it (no algebraic simplification),
and fall back to the raw text on malformed input instead of raising. Callers keep the original
string for copy and export.
"""

from __future__ import annotations

from noema_tui.mathtext.markdown import convert_display, convert_inline, render_markdown

__all__ = ["latex_to_unicode", "layout_2d", "render_markdown"]


def latex_to_unicode(latex: str) -> str:
    """One line of Unicode for a math fragment (no `$`), or the raw text if it is malformed."""
    converted = convert_inline(latex)
    return latex if converted is None else converted


def layout_2d(latex: str) -> list[str]:
    """The fragment laid out in 2-D as lines of equal meaning; the raw lines if malformed."""
    lines = convert_display(latex)
    if lines is None:
        return latex.splitlines() or [""]
    return lines
