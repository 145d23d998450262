"""The chat screen's slash commands: each one is the action a key or the palette also runs.

A mixin of `ChatScreen`, kept in its own file so the screen stays readable; parsing and the
list of commands live in `noema_tui.app.slash_commands`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from noema_core.engine import parse_history_exchanges
from noema_core.errors import SettingsError
from noema_tui.app.screens.settings_screen import parse_auto_retry
from noema_tui.app.slash_commands import (
    NAMES,
    apply_set,
    describe_history,
    parse_mode,
    split_command,
    usage_line,
)

if TYPE_CHECKING:
    from noema_tui.app.screens.chat_screen import ChatScreen


class SlashCommandRunner:
    """`/help`, `/new`, `/mode`, `/set`, `/export` typed in the prompt."""

    async def run_slash_command(self: ChatScreen, text: str) -> None:
        """Run a /command; a command that fails stays in the prompt to be corrected."""
        name, argument = split_command(text)
        if name not in NAMES:
            self.tell(f"Unknown command {name}. Commands: {usage_line()}", kind="command",
                      title="Commands", severity="warning", timeout=10)  # a list to read
            return
        try:
            done = await self._run_command(name, argument)
        except SettingsError as error:
            self.tell(str(error), kind="command", title=name, severity="error")
            return
        if done:
            self.prompt.remember(text)

    async def _run_command(self: ChatScreen, name: str, argument: str) -> bool:
        if name == "/export":
            return self.action_export_transcript(argument or None)
        if name == "/help":
            self.app.action_show_help()
        elif name == "/new":
            if self.generating:
                self.tell("A reply is being written: Esc stops it first.", kind="send",
                          severity="warning")
                return False
            await self.action_new_conversation()
        elif name == "/mode":
            mode = parse_mode(argument)
            self.settings = self.mode_memory.switch(self.settings, mode, self.presets)
            self._show_mode()
            self.tell(f"Mode {mode.label} from the next reply.", kind="mode")
        elif name == "/set" and argument.partition(" ")[0] == "auto_retry":
            self.auto_retry = parse_auto_retry(argument.partition(" ")[2])
            self.tell(f"Auto-retry: a contradicted reply is decoded again up to "
                      f"{self.auto_retry} time(s).", kind="settings")
        elif name == "/set" and argument.partition(" ")[0] == "history":
            self._set_history(argument.partition(" ")[2])
        elif name == "/set":
            self.settings = apply_set(self.settings, argument)
            self._show_mode()
            self.tell(f"Set {argument.split()[0]} = {argument.split(maxsplit=1)[1]} "
                      "from the next reply.", kind="settings")
        return True

    def _set_history(self: ChatScreen, value: str) -> None:
        exchanges = parse_history_exchanges(value)
        info = self.bridge.set_history(exchanges)
        if info is None:
            raise SettingsError("history: this model decodes on a server (or is not loaded "
                                "yet), which decides how much of the chat it reads")
        self.info = self.status.info = info
        self.show_turn_notice()
        self.tell(describe_history(info.name, exchanges), kind="settings")
