"""Unicode for LaTeX symbol macros, super/subscript characters and tall delimiters.

Symbol names come from pylatexenc's LaTeX-to-text tables (hundreds of macros: Greek letters,
relations, arrows, big operators); the few that math models use and pylatexenc leaves out are
added here. Superscript and subscript forms are fixed Unicode code points.
"""

from __future__ import annotations

from functools import cache

# Symbols pylatexenc has no plain replacement for, or renders differently from math usage.
EXTRA_SYMBOLS: dict[str, str] = {
    "ne": "≠", "implies": "⟹", "impliedby": "⟸", "iff": "⟺", "neg": "¬", "lnot": "¬",
    "land": "∧", "lor": "∨", "wedge": "∧", "vee": "∨", "degree": "°", "mapsto": "↦",
    "gets": "←", "cdotp": "·", "colon": ":", "vert": "|", "Vert": "‖", "mid": "∣",
    "lvert": "|", "rvert": "|", "lVert": "‖", "rVert": "‖", "langle": "⟨", "rangle": "⟩",
    "lfloor": "⌊", "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉", "setminus": "∖",
    "varepsilon": "ε", "epsilon": "ϵ", "varphi": "φ", "phi": "ϕ", "dagger": "†",
    "leqslant": "⩽", "geqslant": "⩾", "lesssim": "≲", "gtrsim": "≳", "coloneqq": "≔",
    "dots": "…", "ldots": "…", "cdots": "⋯", "vdots": "⋮", "ddots": "⋱", "prime": "′",
    "det": "det", "gcd": "gcd", "lcm": "lcm", "deg": "deg", "dim": "dim", "ker": "ker",
    "exp": "exp", "arg": "arg", "Pr": "Pr", "bmod": "mod",
    "infty": "∞", "circ": "∘", "bullet": "•", "star": "⋆", "ast": "∗", "top": "⊤", "bot": "⊥",
}
# Macros typeset with limits above and below in display math.
LIMIT_OPERATORS = {"sum", "prod", "coprod", "lim", "limsup", "liminf", "max", "min", "sup",
                   "inf", "bigcup", "bigcap", "bigoplus", "bigotimes", "argmax", "argmin"}
NAMED_OPERATORS = {"argmax": "argmax", "argmin": "argmin", "limsup": "lim sup",
                   "liminf": "lim inf"}

SUPERSCRIPTS = dict(zip("0123456789+-=()nijkxyabcdefghlmoprstuvwzABDEGHIJKLMNOPRTUVW",
                        "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱʲᵏˣʸᵃᵇᶜᵈᵉᶠᵍʰˡᵐᵒᵖʳˢᵗᵘᵛʷᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂ",
                        strict=True))
SUPERSCRIPTS.update({"−": "⁻", "′": "′", "∘": "°", "*": "*", " ": " ", "α": "ᵅ", "β": "ᵝ",
                     "θ": "ᶿ", "ϕ": "ᵠ", "φ": "ᵠ", "γ": "ᵞ", "δ": "ᵟ", "χ": "ᵡ"})
SUBSCRIPTS = dict(zip("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ",
                      strict=True))
SUBSCRIPTS.update({"−": "₋", " ": " ", "β": "ᵦ", "γ": "ᵧ", "ρ": "ᵨ", "φ": "ᵩ", "χ": "ᵪ",
                   ",": ","})

VULGAR_FRACTIONS = {
    ("1", "2"): "½", ("1", "3"): "⅓", ("2", "3"): "⅔", ("1", "4"): "¼", ("3", "4"): "¾",
    ("1", "5"): "⅕", ("2", "5"): "⅖", ("3", "5"): "⅗", ("4", "5"): "⅘", ("1", "6"): "⅙",
    ("5", "6"): "⅚", ("1", "7"): "⅐", ("1", "8"): "⅛", ("3", "8"): "⅜", ("5", "8"): "⅝",
    ("7", "8"): "⅞", ("1", "9"): "⅑", ("1", "10"): "⅒",
}

BLACKBOARD = dict(zip("RNZQCPHE", "ℝℕℤℚℂℙℍ𝔼", strict=True))
CALLIGRAPHIC = dict(zip("LFOHNPE", "ℒℱ𝒪ℋ𝒩𝒫ℰ", strict=True))

# Accent macros: (combining mark for one character inline, mark drawn above in 2-D).
ACCENTS: dict[str, tuple[str, str]] = {
    "hat": ("\u0302", "^"), "widehat": ("\u0302", "^"), "bar": ("\u0304", "_"),
    "overline": ("\u0305", "_"), "vec": ("\u20d7", "→"), "overrightarrow": ("\u20d7", "→"),
    "dot": ("\u0307", "·"), "ddot": ("\u0308", "¨"), "tilde": ("\u0303", "~"),
    "widetilde": ("\u0303", "~"), "underline": ("\u0332", "_"),
}

# Pieces of delimiters taller than one line: (top, middle, bottom, extender).
TALL_DELIMITERS: dict[str, tuple[str, str, str, str]] = {
    "(": ("⎛", "⎜", "⎝", "⎜"), ")": ("⎞", "⎟", "⎠", "⎟"),
    "[": ("⎡", "⎢", "⎣", "⎢"), "]": ("⎤", "⎥", "⎦", "⎥"),
    "{": ("⎧", "⎨", "⎩", "⎪"), "}": ("⎫", "⎬", "⎭", "⎪"),
    "|": ("│", "│", "│", "│"), "‖": ("‖", "‖", "‖", "‖"),
    "⌊": ("│", "│", "└", "│"), "⌋": ("│", "│", "┘", "│"),
    "⌈": ("┌", "│", "│", "│"), "⌉": ("┐", "│", "│", "│"),
    "⟨": ("╱", "⟨", "╲", "│"), "⟩": ("╲", "⟩", "╱", "│"),
}


@cache
def _pylatexenc_db():
    from pylatexenc.latex2text import get_default_latex_context_db

    return get_default_latex_context_db()


@cache
def symbol(name: str) -> str | None:
    """Unicode text for an argument-less symbol macro (`alpha` -> α), or None if unknown."""
    if name in EXTRA_SYMBOLS:
        return EXTRA_SYMBOLS[name]
    spec = _pylatexenc_db().get_macro_spec(name)
    repl = getattr(spec, "simplify_repl", None)
    takes_args = bool(getattr(getattr(spec, "args_parser", None), "argspec", ""))
    if isinstance(repl, str) and "%" not in repl and not takes_args:
        return repl
    return None


def to_superscript(text: str) -> str | None:
    """`text` in superscript characters, or None if one of them has no superscript form."""
    if not text or any(c not in SUPERSCRIPTS for c in text):
        return None
    return "".join(SUPERSCRIPTS[c] for c in text)


def to_subscript(text: str) -> str | None:
    if not text or any(c not in SUBSCRIPTS for c in text):
        return None
    return "".join(SUBSCRIPTS[c] for c in text)
