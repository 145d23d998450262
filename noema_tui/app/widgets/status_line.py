"""One line under the transcript: the loaded model and the live speed of the reply in flight.

While the model loads it carries the load's progress in a few cells (the step and a bar), so a
resumed conversation keeps the whole transcript above it; and while saving is failing it says
so until the writes go through, where a toast would have expired long before.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from noema_core.engine import ModelInfo
from noema_tui.terminal_text import visible

BAR_CELLS = 10  # the load's bar: enough to see it move, small beside the step's text


class StatusLine(Widget):
    """model · device · dtype · quant │ mode │ tok/s · tok/forward · forwards · elapsed."""

    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; background: $panel; color: $text-muted; }
    StatusLine > .status-line--mode { color: $text-accent; text-style: bold; }
    StatusLine > .status-line--bar { color: $text-primary; }
    StatusLine > .status-line--unsaved { color: $text-warning; text-style: bold; }
    """
    COMPONENT_CLASSES = {"status-line--mode", "status-line--bar", "status-line--unsaved"}

    info: reactive[ModelInfo | None] = reactive(None)
    loading_text: reactive[str] = reactive("")  # what is loading, while it loads
    load_fraction: reactive[float | None] = reactive(None)  # of the load, when it is known
    unsaved: reactive[bool] = reactive(False)  # a write failed and has not gone through yet
    mode: reactive[str] = reactive("Q")  # the mode the next reply will use
    running_mode: reactive[str] = reactive("")  # the mode of the reply in flight, if any
    tokens: reactive[int] = reactive(0)
    forwards: reactive[int] = reactive(0)
    elapsed: reactive[float] = reactive(0.0)

    def show_progress(self, tokens: int, forwards: int, elapsed: float) -> None:
        self.tokens, self.forwards, self.elapsed = tokens, forwards, elapsed

    def render(self) -> Text:
        # The live speed matters most while a reply runs: on a narrow terminal the model
        # details shrink (full, then name and device, then name), then the counts go.
        width = self.content_size.width
        models = self._model_parts()
        layouts = [(model, True) for model in models] + [(models[-1], False)]
        for model, counts in layouts:
            text = self._line(model, counts)
            if width <= 0 or text.cell_len <= width:
                break
        return text

    def show_load(self, what: str, fraction: float | None) -> None:
        self.loading_text, self.load_fraction = what, fraction

    def _model_parts(self) -> list[Text]:
        if self.info is None:
            step = Text(visible(self.loading_text, one_line=True) or "no model")  # may name a path
            if self.load_fraction is None:
                return [step]
            done = round(max(0.0, min(1.0, self.load_fraction)) * BAR_CELLS)
            bar = Text.assemble(step, " ", ("━" * done, self.get_component_rich_style(
                "status-line--bar")), ("╌" * (BAR_CELLS - done)),
                f" {self.load_fraction:.0%}")
            return [bar, step]
        info = self.info
        name = visible(info.name, one_line=True)  # from the checkpoint's directory or config
        name += " (random weights)" if info.random_weights else ""
        return [Text(f"{name} · {info.device} · {info.dtype} · quant {info.quant}"),
                Text(f"{name} · {info.device}"), Text(name)]

    def _line(self, model: Text, counts: bool) -> Text:
        text = model.copy()
        if self.unsaved:
            text.append(" │ ")
            text.append("not saved", style=self.get_component_rich_style("status-line--unsaved"))
        text.append(" │ mode ")
        mode_style = self.get_component_rich_style("status-line--mode")
        if self.running_mode and self.running_mode != self.mode:
            text.append(self.running_mode, style=mode_style)
            text.append(f" (next {self.mode})")
        else:
            text.append(self.mode, style=mode_style)
        if self.forwards:  # nothing to report before the first forward of the first reply
            rate = self.tokens / self.elapsed if self.elapsed > 0 else 0.0
            text.append(f" │ {rate:.1f} tok/s · {self.tokens / self.forwards:.2f} tok/fwd")
            if counts:
                text.append(f" · {self.forwards} fwd · {self.elapsed:.1f} s")
        return text
