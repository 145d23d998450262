"""The Textual app: one chat screen, Noema's themes, F1 help and command palette entries.

Quitting (Ctrl+Q, or SIGTERM / SIGHUP from outside) first stops a reply in flight and keeps
what it decoded, marked as stopped, then saves, then lets Textual restore the terminal
(alternate screen left, mouse reporting off). A signal exits 128 + its number, as a shell
reports a process it ended: 143 for SIGTERM, 129 for SIGHUP.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import TextArea

from noema_tui.app.conversation import message_name
from noema_tui.app.notices import NoticeBoard
from noema_tui.app.screens.browser_screen import BrowserScreen
from noema_tui.app.screens.chat_screen import ChatScreen
from noema_tui.app.screens.confirm_dialog import ConfirmDialog
from noema_tui.app.screens.help_screen import HelpScreen
from noema_tui.app.screens.rename_dialog import RenameDialog
from noema_tui.app.screens.replay_screen import ReplayScreen
from noema_tui.app.screens.settings_screen import SettingsScreen
from noema_tui.app.themes import NoemaTheme, available_themes, load_theme
from noema_tui.app.widgets.prompt_input import PromptInput
from noema_tui.app.widgets.welcome_panel import card_for
from noema_tui.terminal_text import visible

THEME_SOURCE = ("noema-theme.tcss", "")  # one stylesheet slot, replaced when the theme changes
QUIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
STOP_WAIT_SECONDS = 3.0  # for the forward in progress to end, so its tokens are kept
SAVE_WAIT_SECONDS = 3.0  # for queued writes, before the process ends

# (title, help, action on the chat screen): the palette offers every action a key offers.
CHAT_COMMANDS = [
    ("Stop reply", "Stop generating after the current forward, keeping the partial reply",
     "stop_reply"),
    ("Regenerate reply", "Replace the last reply with a new one", "regenerate_reply"),
    ("Cycle decoding mode", "Quality -> Speed -> AR, from the next reply", "cycle_mode"),
    ("Decoding settings", "Edit every decoding parameter", "open_settings"),
    ("Export transcript", "Write the conversation to Markdown and JSON in this directory",
     "export_transcript"),
    ("Copy last reply", "Copy the last reply with its raw LaTeX", "copy_reply"),
    ("Replay last reply", "Step through the last reply's decoding forward by forward",
     "replay_reply"),
    ("New conversation", "Start a new conversation (the current one stays saved)",
     "new_conversation"),
    ("Browse conversations", "Open, rename, delete and search saved conversations",
     "open_browser"),
]


def binding_ids() -> list[str]:
    """Every binding id a keymap can remap, as the README's key table lists them."""
    owners = (NoemaChatApp, ChatScreen, SettingsScreen, HelpScreen, PromptInput, BrowserScreen,
              RenameDialog, ConfirmDialog, ReplayScreen)
    return [binding.id for owner in owners for binding in owner.BINDINGS
            if isinstance(binding, Binding) and binding.id]


class NoemaChatApp(App[None]):
    TITLE = "Noema"

    BINDINGS = [Binding("f1", "show_help", "Help", id="app.show_help")]

    def __init__(self, chat_screen: ChatScreen, theme: NoemaTheme,
                 notices: list[str] | None = None, keymap: dict[str, str] | None = None
                 ) -> None:
        super().__init__()
        self.notice_board = NoticeBoard(self)
        self.chat_screen = chat_screen
        self.notices = notices or []  # shown once the app is up (e.g. "no saved conversation")
        if keymap:
            self.set_keymap(keymap)  # the user's keymap.toml: binding id -> keys
        self.noema_theme = theme
        self.stylesheet.add_source(theme.css, read_from=THEME_SOURCE, is_default_css=False)

    def get_default_screen(self) -> Screen:
        return self.chat_screen

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every toast, Noema's and Textual's own, goes through the notice board: an identical
        one replaces the one still showing instead of stacking below it, and the timeout
        follows the severity. Screens name a kind with `notice_board.show(kind=...)`."""
        self.notice_board.show(message, title=title, severity=severity, timeout=timeout,
                               markup=markup)

    def on_mount(self) -> None:
        if self.noema_theme.palette in self.available_themes:
            self.theme = self.noema_theme.palette
        for notice in self.notices:  # read as the app opens: a little longer than a toast
            self.notify(notice, timeout=8)
        self._watch_signals(True)

    def on_unmount(self) -> None:
        self._watch_signals(False)

    def _watch_signals(self, watch: bool) -> None:
        """SIGTERM and SIGHUP quit as Ctrl+Q does (only where asyncio can take signals)."""
        try:
            loop = asyncio.get_running_loop()
            for number in QUIT_SIGNALS:
                if watch:
                    loop.add_signal_handler(number, self.quit_on_signal, number)
                else:
                    loop.remove_signal_handler(number)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or a platform without these signals

    def quit_on_signal(self, number: int) -> None:
        self.run_worker(self.quit_keeping_reply(128 + number), group="quit", exclusive=True)

    async def action_quit(self) -> None:
        await self.quit_keeping_reply(0)

    async def quit_keeping_reply(self, return_code: int) -> None:
        """Stop a reply in flight, keep its text (marked stopped), save, then exit."""
        screen = self.chat_screen
        if screen.generating:
            screen.bridge.stop_reply()
            deadline = time.monotonic() + STOP_WAIT_SECONDS
            while screen.generating and time.monotonic() < deadline:
                await asyncio.sleep(0.02)  # the engine ends the forward, the screen saves it
            if screen.generating:
                screen.keep_partial_reply()  # a forward too slow to wait for: keep the blocks
        if screen.session.saver is not None:
            await asyncio.to_thread(screen.session.saver.flush, SAVE_WAIT_SECONDS)
        self.exit(return_code=return_code)

    def apply_noema_theme(self, name: str) -> None:
        """Switch to another theme file: its palette and its token styles."""
        self.noema_theme = load_theme(name)
        self.stylesheet.add_source(self.noema_theme.css, read_from=THEME_SOURCE,
                                   is_default_css=False)
        if self.noema_theme.palette in self.available_themes:
            self.theme = self.noema_theme.palette
        self.refresh_css(animate=False)
        self.notice_board.show(f"Theme {name}.", kind="theme")

    def action_pick_theme(self) -> None:
        """The palette, listing Noema's themes (built in and the user's own)."""
        self.search_commands([(name, lambda name=name: self.apply_noema_theme(name),
                               "Token colours and palette") for name in available_themes()],
                             placeholder="Search for themes…")

    def action_show_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        keys: dict[str, list[str]] = {}  # every key of a binding: "shift+⏎ / ^j"
        shown: dict[str, Binding] = {}
        # Every binding of the focused chain, enabled or not: the footer hides keys until they
        # apply (Esc stops only while a reply runs), help lists them all. Textual exposes the
        # chain only as `_modal_binding_chain`, the one `active_bindings` walks.
        chain = self.screen._modal_binding_chain
        for node, binding in ((node, b) for node, bindings in chain for _, b in bindings):
            # The prompt editor's cursor keys would bury the rest; its own keys have ids.
            if not binding.description or (isinstance(node, TextArea) and not binding.id):
                continue
            name = binding.id or binding.action
            shown.setdefault(name, binding)
            key = self.get_key_display(binding)
            if key not in keys.setdefault(name, []):
                keys[name].append(key)
        # Noema's own keys (they have ids) first, then generic ones such as scrolling.
        names = sorted(shown, key=lambda name: shown[name].id is None)
        listed = [(" / ".join(keys[name]), shown[name]) for name in names]
        info = self.chat_screen.info
        note = f"{info.name}: {card_for(info).summary}" if info is not None else ""
        self.push_screen(HelpScreen(listed, model_note=note))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title == "Theme":  # Textual's lists its own palettes, not Noema's themes
                yield SystemCommand("Theme", "Switch to another Noema theme",
                                    self.action_pick_theme)
            else:
                yield command
        chat = self.chat_screen
        for title, help_text, action in CHAT_COMMANDS:
            yield SystemCommand(title, help_text,
                                lambda action=action: self.run_action(action, chat))
        yield SystemCommand("Help", "Show every key that works right now", self.action_show_help)
        turns = chat.session.turns
        for index, turn in enumerate(turns):  # F4 copies only the last
            name = message_name(turns, index)  # "question 2", "reply 2, try 3": as shown
            preview = " ".join(visible(turn.content).split())[:50]
            yield SystemCommand(f"Copy {name}: {preview}", "Copy this message",
                                lambda turn=turn, what=name: chat.copy_text(turn.content, what),
                                discover=False)
            if turn.trace:
                yield SystemCommand(f"Replay {name}: {preview}",
                                    "Step through this reply's decoding forward by forward",
                                    lambda turn=turn: chat.replay_turn(turn), discover=False)
        if chat.retry_applies():  # the contradicted last reply
            _, how, _ = chat.next_try()
            name = message_name(turns, len(turns) - 1).split(",")[0]
            yield SystemCommand(f"Retry {name}", f"The checker contradicted it: decode it "
                                f"again ({how})", lambda: self.run_action("retry_reply", chat))
        for name in available_themes():
            yield SystemCommand(f"Noema theme: {name}", "Token colours and palette",
                                lambda name=name: self.apply_noema_theme(name), discover=False)
