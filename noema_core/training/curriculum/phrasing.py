"""How people type a question: the surface of the curriculum's questions.

The families build the mathematical content (an expression, an equation, a polynomial) and
pick a sentence for it; this module varies what a person would vary and the answer never
depends on: politeness and filler ("please", "can you", "I need to"), capitalisation,
trailing punctuation, spacing around operators, the notation of powers and products, and
a question split over two lines. The solutions stay in the curriculum's one notation.
"""

from __future__ import annotations

import random
import re

# Ways to ask for a value, around an expression E (arithmetic, order of operations, fractions).
VALUE_Q = [
    "What is {e}?", "what is {e}", "What's {e}?", "what's {e}", "whats {e}", "{e}", "{e}?",
    "{e} = ?", "{e} =", "{e} equals what?", "How much is {e}?", "how much is {e}",
    "Compute {e}.", "compute {e}", "Calculate {e}", "calculate: {e}", "Evaluate {e}.",
    "evaluate {e}", "Work out {e}.", "work out {e}", "Find {e}.", "find the value of {e}",
    "What is the value of {e}?", "What does {e} equal?", "what do you get for {e}?",
    "tell me {e}", "Solve {e}", "{e} is what?", "Find the value of {e}.", "Simplify {e}.",
    "what's the answer to {e}", "quick one: {e}", "{e}, what is it?",
]

# Imperative sentences get these wrappers some of the time ({q} starts lower case).
POLITE = [
    "please {q}", "Please {q}", "can you {q}", "Can you {q}?", "could you {q}", "Could you {q}?",
    "I need to {q}", "i need to {q}", "help me {q}", "{q} please", "{Q} please", "{Q} for me",
    "pls {q}", "would you {q}?", "Can you please {q}", "I'd like you to {q}", "{Q}, thanks",
    "hey, {q}", "Hi! {Q}", "ok, {q}",
]

FILLER_PREFIX = ["quick question: ", "Question: ", "hey, ", "next one: ", "ok ", "Help: ",
                 "hi, ", "now ", "And ", "another one: ", "Homework: ", "Q: "]
FILLER_SUFFIX = [" please", " thanks", " pls", " thank you!", " for me", "??", "!", " :)",
                 " thx", " (show steps)"]

IMPERATIVE = re.compile(r"^(Solve|Compute|Calculate|Evaluate|Work out|Find|Expand|Simplify|"
                        r"Differentiate|Multiply|Divide|Add|Subtract|Reduce|Write|Combine|"
                        r"Collect|Take|Factor|Tidy)\b", re.IGNORECASE)


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def politely(rng: random.Random, question: str, share: float = 0.3) -> str:
    """An imperative question wrapped in a politeness formula some of the time."""
    if rng.random() >= share or not IMPERATIVE.match(question):
        return question
    core = question.rstrip(".?! ")
    return rng.choice(POLITE).format(q=lower_first(core), Q=upper_first(core))


def casual(rng: random.Random, question: str) -> str:
    """Filler, capitalisation, punctuation and line breaks as people type them."""
    question = politely(rng, question)
    roll = rng.random()
    if roll < 0.08:
        question = rng.choice(FILLER_PREFIX) + lower_first(question)
    elif roll < 0.16:
        question = question.rstrip(".?! ") + rng.choice(FILLER_SUFFIX)
    roll = rng.random()
    if roll < 0.25:
        question = lower_first(question)
    elif roll < 0.3:
        question = upper_first(question)
    roll = rng.random()
    if roll < 0.15:
        question = question.rstrip(".?! ")
    elif roll < 0.2 and not question.endswith(("?", ".", "!")):
        question += rng.choice(["?", ".", "!"])
    if rng.random() < 0.06:
        question = split_line(rng, question)
    if rng.random() < 0.03:
        question = question + rng.choice([" ", "  ", "\n"])
    return question


def split_line(rng: random.Random, question: str) -> str:
    """Break a question over two lines where a person would: after a colon or a comma, or
    before the mathematics."""
    for mark in (": ", ", ", "? ", ". "):
        if mark in question:
            head, tail = question.split(mark, 1)
            return f"{head}{mark.strip()}\n{tail}"
    words = re.match(r"[A-Za-z',!? ]*[A-Za-z]{2,}(?= )", question)  # "Solve" | "what is"
    if words and words.end() + 1 < len(question):
        return question[:words.end()] + "\n" + question[words.end() + 1:]
    return question


def spacing(rng: random.Random, expression: str) -> str:
    """Operators spaced, unspaced or unevenly spaced, as typed."""
    roll = rng.random()
    if roll < 0.25:
        return expression.replace(" ", "")
    if roll < 0.32:
        return re.sub(r" ([-+]) ", lambda m: rng.choice([f" {m[1]} ", m[1], f"{m[1]} "]),
                      expression)
    return expression


def product_sign(rng: random.Random, latex: bool = False, letters: bool = True) -> str:
    """The sign a person types for a product of numbers (`letters`: also x, between two
    numbers only, where it cannot be read as a variable)."""
    if latex:
        return rng.choice(["\\times", "\\cdot", "\\times"])
    return rng.choice(["×", "*", "*", "×", "·"] + (["x", "x", "X"] if letters else []))


def quotient_sign(rng: random.Random, latex: bool = False) -> str:
    if latex:
        return "\\div"
    return rng.choice(["÷", "/", "/", "÷"])


def powers(rng: random.Random, text: str) -> str:
    """x^2 as x^2, x**2, x² (and ^3 as ³), one notation per question."""
    roll = rng.random()
    if roll < 0.15:
        return text.replace("^", "**")
    if roll < 0.27:
        return text.replace("^2", "²").replace("^3", "³")
    if roll < 0.3:
        return re.sub(r"\^(\d)", r"^{\1}", text)
    return text


def in_latex(rng: random.Random, text: str, share: float = 0.1) -> str:
    """Mathematics in $...$ (or \\(...\\)) some of the time."""
    if rng.random() >= share:
        return text
    return rng.choice(["${}$", "$ {} $", "\\({}\\)"]).format(text)
