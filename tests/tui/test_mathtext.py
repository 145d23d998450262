"""LaTeX in replies rendered for a terminal: Unicode inline, 2-D display, Markdown plumbing."""

from __future__ import annotations

import random

import pytest

from noema_tui.mathtext import latex_to_unicode, layout_2d, render_markdown


@pytest.mark.parametrize(("latex", "expected"), [
    (r"x^2", "x²"),
    (r"x^{10} + y_1", "x¹⁰ + y₁"),
    (r"x_i^2", "xᵢ²"),
    (r"10^{-3}", "10⁻³"),
    (r"\frac{1}{2}", "½"),
    (r"\frac{3}{4}x", "¾x"),
    (r"\frac{7}{9}", "7/9"),
    (r"\frac{x+1}{2}", "(x+1)/2"),
    (r"\frac{a}{b}c", "(a/b)c"),
    (r"\sqrt{2}", "√2"),
    (r"\sqrt{x+1}", "√(x+1)"),
    (r"\sqrt[3]{x}", "∛x"),
    (r"\pi r^2", "πr²"),
    (r"a \leq b \neq c", "a ≤ b ≠ c"),
    (r"2 \cdot 3 \times 4", "2 · 3 × 4"),
    (r"e^{i\pi}", "e^(iπ)"),
    (r"\boxed{5}", "⟦5⟧"),
    (r"\left(\frac{a}{b}\right)^2", "(a/b)²"),
    (r"\sin^2 x + \cos^2 x = 1", "sin² x + cos² x = 1"),
    (r"\text{speed} = 5\,\text{km}/h", "speed = 5 km/h"),
    (r"x \in \mathbb{R}", "x ∈ ℝ"),
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", "(1, 2; 3, 4)"),
    (r"\sum_{i=1}^{n} i", "∑ᵢ₌₁ⁿ i"),
    (r"\frac{\partial f}{\partial x}", "∂f/∂x"),
    (r"90^\circ", "90°"),
    (r"a \equiv b \pmod{n}", "a ≡ b (mod n)"),
    (r"\begin{cases} 1 & x \ge 0 \\ 0 & x < 0 \end{cases}", "{ 1, x ≥ 0; 0, x < 0"),
])
def test_inline_math_becomes_unicode(latex, expected):
    assert latex_to_unicode(latex) == expected


def test_inline_keeps_the_order_the_model_wrote():
    # an algebra system would print x + 5 and 3*x; the reader must see what was written
    assert latex_to_unicode(r"5 + x = 3x") == "5 + x = 3x"
    assert latex_to_unicode(r"\frac{2}{4}") == "2/4"


def test_unknown_macros_are_kept_as_written():
    assert latex_to_unicode(r"\foo{x} + 1") == r"\foo{x} + 1"


@pytest.mark.parametrize("broken", [
    r"\frac{1}{", r"x^", r"{x", r"x}", r"\left( x", r"\begin{pmatrix} 1 & 2",
    r"\sqrt[3", r"\end{cases}", "", "$",
])
def test_malformed_latex_degrades_to_the_raw_text(broken):
    assert latex_to_unicode(broken) == broken
    assert layout_2d(broken) == (broken.splitlines() or [""])


def test_random_garbage_never_raises():
    rng = random.Random(7)
    alphabet = list("x2^_{}[]()&$ +=-") + [r"\frac", r"\sqrt", r"\left", r"\right", r"\\",
                                           r"\begin{pmatrix}", r"\end{pmatrix}", r"\boxed"]
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        assert isinstance(latex_to_unicode(text), str)
        assert all(isinstance(line, str) for line in layout_2d(text))
        assert isinstance(render_markdown(f"a ${text}$ b $${text}$$ c {text}"), str)


def test_display_fraction_is_stacked_over_a_bar():
    assert layout_2d(r"x = \frac{15}{3}") == [
        "     15",
        "x = ────",
        "     3",
    ]


def test_display_quadratic_formula_has_a_radical_over_its_content():
    assert layout_2d(r"x = \frac{-b \pm \sqrt{b^2-4ac}}{2a}") == [
        "           ______",
        "     -b ± √b²-4ac",
        "x = ──────────────",
        "          2a",
    ]


def test_display_radical_of_a_fraction_climbs_the_content():
    assert layout_2d(r"\sqrt{\frac{1}{2}}") == [
        "    ___",
        "   ╱ 1",
        "  ╱ ───",
        "╲╱   2",
    ]


def test_display_power_of_a_fraction_grows_the_parentheses():
    expected = ["⎛ a ⎞²", "⎜───⎟", "⎝ b ⎠"]
    assert layout_2d(r"\left(\frac{a}{b}\right)^2") == expected
    assert layout_2d(r"(\frac{a}{b})^{2}") == expected


def test_display_raises_a_power_that_has_no_unicode_form():
    assert layout_2d(r"e^{\frac{x}{2}}") == ["  x", " ───", "  2", "e"]


def test_display_matrix_is_drawn_with_tall_brackets():
    assert layout_2d(r"\begin{bmatrix} 1 & 20 \\ 300 & 4 \\ 5 & 6 \end{bmatrix}") == [
        "⎡  1   20 ⎤",
        "⎢ 300  4  ⎥",
        "⎣  5   6  ⎦",
    ]


def test_boxed_answer_is_drawn_in_a_frame():
    assert layout_2d(r"\boxed{x = 5}") == ["┌───────┐", "│ x = 5 │", "└───────┘"]


def test_aligned_steps_line_up_on_the_relation():
    assert layout_2d(r"\begin{aligned} 3x + 5 &= 20 \\ 3x &= 15 \\ x &= 5 \end{aligned}") == [
        "3x + 5 = 20",
        "    3x = 15",
        "     x = 5",
    ]


def test_sum_limits_sit_above_and_below_the_operator():
    assert layout_2d(r"\sum_{i=1}^{n} i") == [" n", " ∑  i", "i=1"]


def test_cases_get_a_left_brace():
    lines = layout_2d(r"\begin{cases} x & x > 0 \\ -x & \text{otherwise} \end{cases}")
    assert lines[0].startswith("⎧") and lines[-1].startswith("⎩")
    assert "otherwise" in lines[-1]


def test_markdown_inline_math_in_dollars_and_parens_becomes_unicode():
    out = render_markdown(r"Solve $3x + 5 = 20$, so \(x = \frac{15}{3}\).")
    assert out == "Solve 3x + 5 = 20, so x = 15/3."


def test_markdown_display_math_becomes_a_fenced_text_block():
    out = render_markdown("Divide:\n$$x = \\frac{15}{3}$$\nDone.")
    assert out == "Divide:\n```text\n     15\nx = ────\n     3\n```\n\nDone."


def test_markdown_bracket_display_math_spanning_lines_becomes_a_block():
    out = render_markdown("\\[\n\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}\n\\]\n")
    assert "```text\n⎛ 1  2 ⎞\n⎝ 3  4 ⎠\n```" in out


def test_markdown_boxed_answer_on_its_own_line_is_framed():
    out = render_markdown("So the answer is:\n$\\boxed{5}$\n")
    assert "```text\n┌───┐\n│ 5 │\n└───┘\n```" in out


def test_markdown_boxed_answer_inside_a_sentence_stays_inline():
    assert render_markdown(r"The answer is $\boxed{5}$.") == "The answer is ⟦5⟧."


def test_markdown_bare_latex_without_delimiters_is_converted():
    out = render_markdown(r"Half is \frac{1}{2}, x^2 grows, a_n too; \sqrt{2} \approx 1.41")
    assert out == "Half is ½, x² grows, aₙ too; √2 ≈ 1.41"


def test_markdown_bare_boxed_answer_is_converted():
    assert render_markdown(r"Final answer: \boxed{42} (checked)") == "Final answer: ⟦42⟧ (checked)"


def test_markdown_prose_identifiers_and_prices_are_left_alone():
    text = "Set my_var and snake_case; it costs $5 and $10; see file_2.txt."
    assert render_markdown(text) == text


def test_markdown_code_spans_and_code_blocks_are_untouched():
    text = "Use `x^2 $y$` here:\n```python\na = x^2  # $z$ \\frac{1}{2}\n```\nand $x^2$.\n"
    assert render_markdown(text) == (
        "Use `x^2 $y$` here:\n```python\na = x^2  # $z$ \\frac{1}{2}\n```\nand x².\n")


def test_markdown_escapes_converted_math_that_looks_like_formatting():
    assert render_markdown(r"$a * b * c$") == r"a \* b \* c"


def test_markdown_malformed_math_is_shown_raw():
    text = "Broken: $\\frac{1}{$ and $$\\left( x$$ stay."
    assert render_markdown(text) == text


def test_markdown_keeps_plain_prose_and_emphasis():
    text = "# Title\n\n- *one* and **two**\n- [link](http://example.com)\n"
    assert render_markdown(text) == text


def test_markdown_multiplication_stars_are_not_read_as_emphasis():
    # Markdown pairs the stars of 5*5-3*3 into "5<em>5-3</em>3"; each must stay a star.
    assert render_markdown("compute 5*5-3*3") == r"compute 5\*5-3\*3"
    assert render_markdown("2*(x+1) = f(x)*g(x)") == r"2\*(x+1) = f(x)\*g(x)"
    assert render_markdown("so x^2*3*y") == r"so x²\*3\*y"
    # emphasis and spaced stars are left to Markdown
    assert render_markdown("*one*, **two** and 3 * 4") == "*one*, **two** and 3 * 4"
