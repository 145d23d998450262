"""The prompt editor: Enter sends, Shift+Enter or Ctrl+J breaks the line, Up/Down recall prompts."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

OWN_ACTIONS = ("submit_prompt", "insert_newline")


class PromptInput(TextArea):
    """A multi-line prompt with shell-like history of earlier prompts."""

    DEFAULT_CSS = """
    PromptInput { height: auto; max-height: 10; min-height: 3; border: tall $primary 40%; }
    PromptInput:focus { border: tall $primary; }
    """

    BINDINGS = [
        # Not in the footer (the placeholder says it): the footer's room goes to F1 Help.
        Binding("enter", "submit_prompt", "Send", id="prompt.send", show=False),
        Binding("shift+enter,ctrl+j", "insert_newline", "New line", show=False,
                id="prompt.newline"),
    ]

    class Submitted(Message):
        def __init__(self, prompt_input: PromptInput, text: str) -> None:
            super().__init__()
            self.prompt_input, self.text = prompt_input, text

        @property
        def control(self) -> PromptInput:
            return self.prompt_input

    def __init__(self, sent_prompts: list[str] | None = None, **kwargs) -> None:
        super().__init__(soft_wrap=True, tab_behavior="focus", highlight_cursor_line=False,
                         placeholder="Ask Noema… (Enter sends, Shift+Enter or Ctrl+J: new line)",
                         **kwargs)
        self.sent_prompts = list(sent_prompts or [])
        self._recalled: int | None = None  # index into history while browsing it
        self._draft = ""  # what was typed before browsing began

    async def _on_key(self, event: events.Key) -> None:
        # This widget's own bindings (Enter sends, Shift+Enter / Ctrl+J break the line) run
        # here, in order with the typing around them: left to bubble up to the app's binding
        # check, they would land after keys typed behind them in the same burst of input.
        # Looking them up in the live bindings keeps user keymaps working.
        active = self.screen.active_bindings.get(event.key)
        if active is not None and active.node is self and active.binding.action in OWN_ACTIONS:
            event.stop()
            event.prevent_default()  # and TextArea's own Enter handling
            await self.run_action(active.binding.action)

    def action_submit_prompt(self) -> None:
        if self.text.strip():
            self.post_message(self.Submitted(self, self.text.strip()))

    def action_insert_newline(self) -> None:
        self.replace("\n", *self.selection)

    def remember(self, prompt: str) -> None:
        """Add a sent prompt to the history and clear the editor."""
        if not self.sent_prompts or self.sent_prompts[-1] != prompt:
            self.sent_prompts.append(prompt)
        self._recalled = None
        self.load_text("")

    def put_back(self, prompt: str) -> None:
        """Restore a prompt for editing, unless the user has already typed something new."""
        if not self.text.strip():
            self._show(prompt)

    def action_cursor_up(self, select: bool = False) -> None:
        if not select and self.cursor_location[0] == 0 and self.sent_prompts and \
                self._recalled != 0:
            if self._recalled is None:
                self._draft, self._recalled = self.text, len(self.sent_prompts)
            self._recalled -= 1
            self._show(self.sent_prompts[self._recalled])
            return
        super().action_cursor_up(select)

    def action_cursor_down(self, select: bool = False) -> None:
        last_row = self.document.line_count - 1
        if not select and self._recalled is not None and self.cursor_location[0] == last_row:
            self._recalled += 1
            if self._recalled == len(self.sent_prompts):
                self._recalled = None
                self._show(self._draft)
            else:
                self._show(self.sent_prompts[self._recalled])
            return
        super().action_cursor_down(select)

    def _show(self, text: str) -> None:
        self.load_text(text)
        self.move_cursor(self.document.end)
