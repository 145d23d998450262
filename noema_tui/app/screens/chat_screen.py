"""The chat: transcript, prompt and status line, driven by the engine bridge's messages.

The screen owns the flow of a turn (prompt -> live blocks -> reply -> verdict), split by seam
into mixins, one per file: the model load (`LoadWatcher`), the reply in flight
(`ReplyStreamer`), retries, copy and export, slash commands, conversation switching, replay.
Drawing lives in the widgets, persistence in `ChatSession`, file writing in `export`.

What the screen tells the user in passing is a toast (`tell`), one per kind, so repeating an
action replaces its notice instead of stacking another; what stays true (a load failure, the
chat past the model's trained turns, unsaved changes) stays on screen while it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer

from noema_core.decoding.settings import DecodingSettings, ModelPresets
from noema_core.engine import ModelInfo
from noema_tui.app.bridge import EngineBridge
from noema_tui.app.conversation import Conversation, Turn
from noema_tui.app.mode_memory import ModeMemory, is_custom
from noema_tui.app.protocol import Checker, EngineLoader
from noema_tui.app.screens.conversation_switcher import ConversationSwitcher
from noema_tui.app.screens.load_watcher import LoadWatcher
from noema_tui.app.screens.replay_launcher import ReplayLauncher
from noema_tui.app.screens.reply_retrier import ReplyRetrier
from noema_tui.app.screens.reply_streamer import ReplyStreamer
from noema_tui.app.screens.settings_screen import ChatSettings, SettingsScreen
from noema_tui.app.screens.slash_command_runner import SlashCommandRunner
from noema_tui.app.screens.transcript_exporter import TranscriptExporter
from noema_tui.app.session import ChatSession
from noema_tui.app.store import ConversationStore, StoreError
from noema_tui.app.widgets.load_panel import LoadPanel
from noema_tui.app.widgets.prompt_input import PromptInput
from noema_tui.app.widgets.reply_view import ReplyView
from noema_tui.app.widgets.status_line import StatusLine
from noema_tui.app.widgets.turn_notice import TurnNotice
from noema_tui.app.widgets.user_message import UserMessage
from noema_tui.app.widgets.welcome_panel import WelcomePanel

if TYPE_CHECKING:
    from noema_tui.app.chat_app import NoemaChatApp


class ChatScreen(LoadWatcher, ReplyStreamer, ReplyRetrier, TranscriptExporter,
                 ConversationSwitcher, SlashCommandRunner, ReplayLauncher, Screen[None]):
    DEFAULT_CSS = """
    ChatScreen { layout: vertical; }
    ChatScreen > #transcript { height: 1fr; padding: 0 1; }
    """

    BINDINGS = [
        Binding("escape", "stop_reply", "Stop", id="chat.stop_reply"),
        Binding("f2", "cycle_mode", "Mode", id="chat.cycle_mode",
                tooltip="Cycle the decoding mode Q -> S -> AR, from the next reply"),
        Binding("f3", "open_settings", "Settings", id="chat.open_settings"),
        Binding("ctrl+r", "regenerate_reply", "Regen", id="chat.regenerate_reply",
                tooltip="Regenerate the last reply"),
        Binding("ctrl+s", "export_transcript", "Export", id="chat.export_transcript"),
        Binding("f4", "copy_reply", "Copy", id="chat.copy_reply",
                tooltip="Copy the last reply with its raw LaTeX"),
        Binding("f5", "replay_reply", "Replay", id="chat.replay_reply", show=False,
                tooltip="Replay the last reply forward by forward (any reply: Ctrl+P)"),
        Binding("ctrl+t", "retry_reply", "Retry", id="chat.retry_reply",
                tooltip="Decode the contradicted last reply again (AR, stricter, new seeds)"),
        Binding("ctrl+n", "new_conversation", "New chat", id="chat.new_conversation",
                show=False),
        Binding("ctrl+o", "open_browser", "Chats", id="chat.open_browser", show=False,
                tooltip="Browse, search, open, rename and delete saved conversations"),
        # The conversation scrolls while the prompt keeps focus, as in every chat app. They
        # are priority bindings: the prompt editor would otherwise take PageUp/PageDown for
        # its own cursor; Home/End scroll only while the prompt is empty (else they move the
        # cursor within the line, see check_action).
        Binding("pageup", "scroll_transcript('page_up')", "Scroll up", show=False,
                priority=True, id="chat.scroll_page_up"),
        Binding("pagedown", "scroll_transcript('page_down')", "Scroll down", show=False,
                priority=True, id="chat.scroll_page_down"),
        Binding("ctrl+home", "scroll_transcript('home')", "First turn", show=False,
                priority=True, id="chat.scroll_first"),
        Binding("ctrl+end", "scroll_transcript('end')", "Last turn", show=False,
                priority=True, id="chat.scroll_last"),
        Binding("home", "scroll_transcript('home', True)", "First turn", show=False,
                priority=True, id="chat.scroll_home"),
        Binding("end", "scroll_transcript('end', True)", "Last turn", show=False,
                priority=True, id="chat.scroll_end"),
    ]

    class SaveFailed(Message):
        """A write to the store failed (posted from the saver's thread)."""

        def __init__(self, error: StoreError) -> None:
            super().__init__()
            self.error = error

    class SavesCaughtUp(Message):
        """Writes that had failed are now in the store."""

        def __init__(self, count: int) -> None:
            super().__init__()
            self.count = count

    def __init__(self, *, loader: EngineLoader, checker: Checker, settings: DecodingSettings,
                 conversation: Conversation, store: ConversationStore | None,
                 clock: Callable[[], float], auto_retry: int = 0) -> None:
        super().__init__()
        self.loader = loader
        self.checker = checker
        self.settings = settings
        self.auto_retry = auto_retry  # retries of a contradicted reply made without asking
        self.session = ChatSession(
            conversation, store, lambda error: self.post_message(self.SaveFailed(error)),
            lambda count: self.post_message(self.SavesCaughtUp(count)))
        self.clock = clock
        self.info: ModelInfo | None = None
        self.presets: ModelPresets = {}  # the loaded model's own Q/S thresholds, if any
        self.mode_memory = ModeMemory()  # what F3 tuned in each mode, kept across F2
        self.sendable: frozenset[str] | None = None  # what a --server takes (None: all)
        self._settings_used = settings  # what the reply in flight is decoded with
        self._checking: dict[int, tuple[ReplyView, Turn]] = {}  # replies being checked

    # ----------------------------------------------------------------- layout and start

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="transcript"):
            if not self.session.turns:  # a resumed chat shows its turns, and loads below
                yield LoadPanel(self.loader.model)
        yield TurnNotice()
        yield PromptInput(self.session.conversation.prompts(), id="prompt")
        yield StatusLine()
        yield Footer()
        yield EngineBridge(self.loader, self.checker)

    async def on_mount(self) -> None:
        self.status.show_load(f"loading {self.loader.model}…", None)
        self._show_mode()
        for turn in self.session.turns:  # drawn before the load starts, so readable at once
            await self._show_saved_turn(turn)
        self.transcript.anchor()
        self.prompt.focus()
        self.bridge.load_engine()

    async def _show_saved_turn(self, turn: Turn) -> None:
        if turn.role == "user":
            await self.transcript.mount(UserMessage(turn.content))
            return
        view = ReplyView(turn.mode or "?", attempt=turn.attempt, how=turn.how)
        await self.transcript.mount(view)
        if turn.finish_reason == "failed":
            view.fail("no text was generated")
            return
        await view.finish(turn.content, turn.generation_stats, turn.finish_reason or "eos")
        view.show_verdict(turn.verdict)

    @property
    def transcript(self) -> VerticalScroll:
        return self.query_one("#transcript", VerticalScroll)

    @property
    def prompt(self) -> PromptInput:
        return self.query_one(PromptInput)

    @property
    def status(self) -> StatusLine:
        return self.query_one(StatusLine)

    @property
    def bridge(self) -> EngineBridge:
        return self.query_one(EngineBridge)

    def tell(self, message: str, *, kind: str, title: str = "",
             severity: SeverityLevel = "information", timeout: float | None = None) -> None:
        """A toast that replaces the last one of its `kind` (see `noema_tui.app.notices`)."""
        app = cast("NoemaChatApp", self.app)  # the only app this screen runs in
        app.notice_board.show(message, kind=kind, title=title, severity=severity,
                              timeout=timeout)

    @on(SaveFailed)
    def warn_unsaved(self, event: SaveFailed) -> None:
        # The toast names the cause; the status line says "not saved" until it is.
        self.status.unsaved = True
        self.tell(str(event.error), kind="save", title="Not saved", severity="error")

    @on(SavesCaughtUp)
    def confirm_saved(self, event: SavesCaughtUp) -> None:
        self.status.unsaved = False
        self.tell(f"Saved the {event.count} change(s) that were waiting.", kind="save",
                  title="Saved")

    @on(WelcomePanel.ExamplePicked)
    def use_example(self, event: WelcomePanel.ExamplePicked) -> None:
        self.prompt.load_text(event.text)
        self.prompt.move_cursor(self.prompt.document.end)
        self.prompt.focus()

    def on_unmount(self) -> None:
        self.session.close(timeout=2.0)  # the writes still queued get a last chance

    # ----------------------------------------------------------------- sending

    @on(PromptInput.Submitted)
    async def handle_prompt(self, event: PromptInput.Submitted) -> None:
        text = event.text
        if text.startswith("/"):
            await self.run_slash_command(text)
            return
        if self.generating:
            self.tell("A reply is being written: Esc stops it.", kind="send",
                      severity="warning")
            return
        if self.info is None:
            self.refuse_send()
            return
        self.prompt.remember(text)
        self.session.add_prompt(text)
        await self.transcript.query(WelcomePanel).remove()
        self.show_turn_notice()
        await self.transcript.mount(UserMessage(text))
        await self.start_reply()

    # ----------------------------------------------------------------- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide keys that do nothing right now: an 80-column footer has room only for the keys
        that apply (Stop while a reply runs, Regen/Settings/New chat between replies)."""
        if action == "stop_reply":
            return self.generating
        if action in ("regenerate_reply", "new_conversation", "open_settings", "open_browser"):
            return not self.generating
        if action == "retry_reply":
            return self.retry_applies()
        if action == "scroll_transcript" and len(parameters) > 1 and parameters[1]:
            return not self.prompt.text  # plain Home/End: the prompt's own while it has text
        return True

    def action_stop_reply(self) -> None:
        if self.generating:
            self.bridge.stop_reply()

    def _show_mode(self) -> None:
        """The status line's mode: the label, and "custom" once a value differs from the
        mode's preset, so a hand-tuned threshold is never in force unseen."""
        custom = " custom" if is_custom(self.settings, self.presets) else ""
        self.status.mode = self.settings.mode.label + custom

    def action_scroll_transcript(self, where: str, only_if_prompt_empty: bool = False) -> None:
        transcript = self.transcript
        if where == "page_up":
            transcript.scroll_page_up()
        elif where == "page_down":
            transcript.scroll_page_down()
        elif where == "home":
            transcript.scroll_home(animate=False)
        else:
            transcript.scroll_end(animate=False)

    def action_cycle_mode(self) -> None:
        self.settings = self.mode_memory.switch(self.settings, self.settings.mode.next(),
                                                self.presets)
        self._show_mode()  # the status line says it; while a reply runs, also that it waits
        if self.generating:
            self.tell(f"Mode {self.settings.mode.label} applies from the next reply.",
                      kind="mode")

    def action_open_settings(self) -> None:
        def apply(saved: ChatSettings | None) -> None:
            if saved is None:
                return
            if (saved.decoding, saved.auto_retry) != (self.settings, self.auto_retry):
                self.tell("Settings apply from the next reply.", kind="settings")
            self.settings, self.auto_retry = saved.decoding, saved.auto_retry
            self._show_mode()

        self.app.push_screen(SettingsScreen(self.settings, self.presets, self.sendable,
                                            self.auto_retry), apply)
