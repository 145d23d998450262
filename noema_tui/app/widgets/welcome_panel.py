"""Shown on an empty conversation: what the loaded model is, what it is good at, and example
prompts to pick (click one, or Tab to the list and press Enter) so a newcomer's first
question is one the model can answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label, OptionList, Static

from noema_core.engine import ModelInfo


@dataclass(frozen=True)
class ModelCard:
    summary: str
    examples: tuple[str, ...]


BUNDLED_CARD = ModelCard(
    "The small diffusion model bundled with Noema. It solves school-math exercises step by "
    "step: arithmetic, order of operations, fractions, linear and quadratic equations, "
    "systems of two linear equations, and expanding, simplifying or differentiating "
    "polynomials. Questions of other kinds are beyond it.",
    ("What is 48 + 37?", "Solve 3x + 5 = 20", "Expand (2x - 1)^2",
     "Find the derivative of x^3 - 4x", "Solve x + y = 10, x - y = 2"),
)
NOEMA1_CARD = ModelCard(
    "A Noema-1 masked-diffusion model for math reasoning: it writes its working and puts "
    "the final answer in \\boxed{}, which Noema checks with sympy.",
    ("Solve x^2 - 5x + 6 = 0", "What is the sum of the first 100 positive integers?",
     "Differentiate x^2 sin x", "Simplify (x^2 - 1)/(x - 1)"),
)


def card_for(info: ModelInfo) -> ModelCard:
    """The bundled model's card for noema-tiny (and checkpoints trained by its recipe, which
    declare how many turns they were trained on), Noema-1's otherwise."""
    if info.name.rstrip("/").endswith("noema-tiny") or info.max_turns_trained:
        return BUNDLED_CARD
    return NOEMA1_CARD


def _size(parameters: int) -> str:
    return f"{parameters / 1e9:.2f}B" if parameters >= 1e9 else f"{parameters / 1e6:.1f}M"


class WelcomePanel(Vertical):
    """The model, what it solves, and example prompts; picking one fills the prompt."""

    DEFAULT_CSS = """
    WelcomePanel { height: auto; padding: 1 2; margin-bottom: 1; border: round $accent 50%; }
    WelcomePanel > .welcome-panel--title { text-style: bold; color: $text-accent; }
    WelcomePanel > .welcome-panel--summary { margin-bottom: 1; }
    WelcomePanel > .welcome-panel--hint { color: $text-muted; }
    WelcomePanel > OptionList { height: auto; max-height: 8; border: none; padding: 0; }
    """

    class ExamplePicked(Message):
        """The user chose an example prompt."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, info: ModelInfo) -> None:
        super().__init__()
        self.info = info
        self.card = card_for(info)

    def compose(self) -> ComposeResult:
        info = self.info
        yield Label(f"{info.name} · {_size(info.parameters)} parameters · {info.device}",
                    markup=False, classes="welcome-panel--title")
        summary = self.card.summary
        if info.history_exchanges == 0:
            summary += " It answers each question on its own, without reading earlier turns."
        yield Static(summary, markup=False, classes="welcome-panel--summary")
        yield Static("Try one (click it, or Tab here and press Enter):", markup=False,
                     classes="welcome-panel--hint")
        yield OptionList(*self.card.examples, id="welcome-examples")

    @on(OptionList.OptionSelected, "#welcome-examples")
    def pick_example(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.ExamplePicked(str(event.option.prompt)))
