"""The chat: transcript, prompt and status line, driven by the engine bridge's messages.

The screen owns the flow of a turn (prompt -> live blocks -> reply -> verdict); drawing lives
in the widgets, persistence in `ChatSession`, file writing in `export`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer

from noema_core.decoding.events import TokenState
from noema_core.decoding.settings import DecodingSettings, ModelPresets
from noema_core.engine import ModelInfo
from noema_tui.app.bridge import EngineBridge
from noema_tui.app.conversation import Conversation, Turn
from noema_tui.app.export import ExportError, export_transcript
from noema_tui.app.mode_memory import ModeMemory, is_custom
from noema_tui.app.protocol import Checker, EngineLoader
from noema_tui.app.screens.conversation_switcher import ConversationSwitcher
from noema_tui.app.screens.replay_launcher import ReplayLauncher
from noema_tui.app.screens.reply_retrier import ReplyRetrier
from noema_tui.app.screens.settings_screen import (
    ChatSettings,
    SettingsScreen,
    switch_mode,
    uses_card_preset,
)
from noema_tui.app.screens.slash_command_runner import SlashCommandRunner
from noema_tui.app.session import ChatSession
from noema_tui.app.store import ConversationStore, StoreError
from noema_tui.app.widgets.load_panel import LoadPanel
from noema_tui.app.widgets.prompt_input import PromptInput
from noema_tui.app.widgets.reply_view import ReplyView
from noema_tui.app.widgets.status_line import StatusLine
from noema_tui.app.widgets.turn_notice import TurnNotice, turn_notice
from noema_tui.app.widgets.user_message import UserMessage
from noema_tui.app.widgets.welcome_panel import WelcomePanel

DECODED = (TokenState.UNMASKED, TokenState.STABLE, TokenState.EDITED)


class ChatScreen(ConversationSwitcher, SlashCommandRunner, ReplayLauncher, ReplyRetrier,
                 Screen[None]):
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
                tooltip="Decode the contradicted last reply again (stricter, then new seeds)"),
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
        self.load_failed = False
        self.reply: ReplyView | None = None  # the reply being generated
        self._reply_ids = 0
        self._asked = ""  # the prompt of the reply in flight
        self._settings_used = settings  # what the reply in flight is decoded with
        self._try: tuple[int, str] | None = None  # the reply in flight's try, if a retry
        self._started = 0.0
        self._done_tokens = self._done_forwards = 0  # of the finished blocks of this reply
        self._checking: dict[int, tuple[ReplyView, Turn]] = {}

    # ----------------------------------------------------------------- layout and start

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="transcript"):
            yield LoadPanel(self.loader.model)
        yield PromptInput(self.session.conversation.prompts(), id="prompt")
        yield StatusLine()
        yield Footer()
        yield EngineBridge(self.loader, self.checker)

    async def on_mount(self) -> None:
        self.status.loading_text = f"loading {self.loader.model}…"
        self._show_mode()
        for turn in self.session.turns:
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

    @property
    def generating(self) -> bool:
        return self.reply is not None

    @on(SaveFailed)
    def warn_unsaved(self, event: SaveFailed) -> None:
        self.notify(str(event.error), title="Not saved", severity="error", timeout=15)

    @on(SavesCaughtUp)
    def confirm_saved(self, event: SavesCaughtUp) -> None:
        self.notify(f"Saved the {event.count} change(s) that were waiting.", title="Saved")

    def on_unmount(self) -> None:
        self.session.close(timeout=2.0)  # the writes still queued get a last chance

    # ----------------------------------------------------------------- loading

    @on(EngineBridge.LoadProgressed)
    def show_load_progress(self, event: EngineBridge.LoadProgressed) -> None:
        self.query_one(LoadPanel).show_progress(event.what, event.fraction)
        self.status.loading_text = event.what

    @on(EngineBridge.EngineLoaded)
    def show_engine(self, event: EngineBridge.EngineLoaded) -> None:
        self.info = self.status.info = event.info
        self.presets = event.info.decoding_presets
        if uses_card_preset(self.settings):  # not tuned by hand: take the model's preset
            self.settings = switch_mode(self.settings, self.settings.mode, self.presets)
        self._show_mode()
        self.query_one(LoadPanel).remove()
        engine = self.bridge.engine
        self.sendable = getattr(engine, "sendable_settings", None)
        if note := getattr(engine, "limits_note", ""):  # an OpenAI-only --server
            self.notify(note, title="Server", severity="warning", timeout=15)
        self._welcome()
        self.offer_retry()  # a contradicted reply opened from history

    def _welcome(self) -> None:
        """On an empty conversation, the model and example prompts to start from."""
        if self.info is not None and not self.session.turns:
            self.transcript.mount(WelcomePanel(self.info))

    @on(WelcomePanel.ExamplePicked)
    def use_example(self, event: WelcomePanel.ExamplePicked) -> None:
        self.prompt.load_text(event.text)
        self.prompt.move_cursor(self.prompt.document.end)
        self.prompt.focus()

    @on(EngineBridge.LoadFailed)
    def show_load_failure(self, event: EngineBridge.LoadFailed) -> None:
        self.load_failed = True
        self.query_one(LoadPanel).show_failure(event.reason, event.hint)
        self.status.loading_text = f"{event.model} failed to load"

    # ----------------------------------------------------------------- sending

    @on(PromptInput.Submitted)
    async def handle_prompt(self, event: PromptInput.Submitted) -> None:
        text = event.text
        if text.startswith("/"):
            await self.run_slash_command(text)
            return
        if self.generating:
            self.notify("A reply is being written: Esc stops it.", severity="warning")
            return
        if self.info is None:
            why = ("the model failed to load (see above)" if self.load_failed
                   else "the model is still loading")
            self.notify(f"Cannot send: {why}.", severity="warning")
            return
        self.prompt.remember(text)
        self.session.add_prompt(text)
        await self.transcript.query(WelcomePanel).remove()
        notice = turn_notice(self.info, len(self.session.conversation.prompts()))
        if notice:
            await self.transcript.mount(TurnNotice(notice))
        await self.transcript.mount(UserMessage(text))
        await self.start_reply()

    async def start_reply(self, *, settings: DecodingSettings | None = None,
                          attempt: int | None = None, how: str | None = None,
                          messages: Sequence[dict[str, str]] | None = None) -> None:
        """Decode a reply to the conversation as it stands (it ends with a prompt), or, for a
        retry, try `attempt` of the last reply with `settings` from `messages`."""
        self._reply_ids += 1
        self._asked = self.session.last_prompt() or ""
        self._started = self.clock()
        self._done_tokens = self._done_forwards = 0
        self._settings_used = settings = settings or self.settings
        self._try = (attempt, how or "") if attempt else None
        for view in self.transcript.query(ReplyView):
            view.show_offer("")  # an offer applies only until something else is decoded
        self.reply = ReplyView(settings.mode.label, reply_id=self._reply_ids, attempt=attempt,
                               how=how)
        await self.transcript.mount(self.reply)
        self.transcript.anchor()
        self.status.running_mode = settings.mode.label if attempt else self.status.mode
        self.status.show_progress(0, 0, 0.0)
        self.refresh_bindings()
        if messages is None:
            messages = self.session.conversation.engine_messages()
        self.bridge.stream_reply(self._reply_ids, messages, settings)

    def _is_current(self, reply_id: int) -> bool:
        return self.reply is not None and reply_id == self.reply.reply_id

    # ----------------------------------------------------------------- decoding events

    @on(EngineBridge.BlockUpdated)
    def show_block(self, event: EngineBridge.BlockUpdated) -> None:
        if not self._is_current(event.reply_id):
            return
        update = event.update
        self.reply.show_snapshot(update)
        decoded = sum(state in DECODED for state in update.states)
        self.status.show_progress(self._done_tokens + decoded,
                                  self._done_forwards + update.forward,
                                  self.clock() - self._started)

    @on(EngineBridge.BlockFinished)
    async def add_block(self, event: EngineBridge.BlockFinished) -> None:
        if not self._is_current(event.reply_id):
            return
        self._done_tokens += len(event.block.token_ids)
        self._done_forwards += event.block.forwards
        await self.reply.add_block(event.block.text)

    @on(EngineBridge.ReplyFinished)
    async def finish_reply(self, event: EngineBridge.ReplyFinished) -> None:
        if not self._is_current(event.reply_id):
            return
        view, result = self.reply, event.result
        self._end_reply()
        await view.finish(result.text, result.stats, result.finish_reason)
        stats = result.stats
        self.status.show_progress(stats.new_tokens, stats.forwards, stats.seconds)
        attempt, how = self._try or (None, None)
        turn = self.session.add_reply(result, view.mode_label, event.trace, attempt, how)
        if attempt is None:
            self.retry_base = (turn, self._settings_used)
        if result.cancelled:
            view.show_verdict(None, note="not checked: the reply was stopped")
            if attempt is None:  # a stopped retry leaves the earlier tries as the answer
                self.prompt.put_back(self._asked)
            self.offer_retry()
        elif not result.text.strip():
            view.show_verdict(None, note="not checked: the reply is empty")
        else:
            view.show_checking()
            self._checking[event.reply_id] = (view, turn)
            earlier = tuple(self.session.conversation.prompts()[:-1])  # for a follow-up
            self.bridge.check_reply(event.reply_id, result.text, self._asked, earlier)

    @on(EngineBridge.ReplyFailed)
    def show_reply_failure(self, event: EngineBridge.ReplyFailed) -> None:
        if not self._is_current(event.reply_id):
            return
        self.reply.fail(event.reason)
        attempt, how = self._try or (None, None)
        self.session.add_failed_reply(self.reply.mode_label, attempt, how)
        self._end_reply()
        if attempt is None:
            self.prompt.put_back(self._asked)
        self.offer_retry()

    def keep_partial_reply(self) -> None:
        """Save the reply in flight as far as it was drawn (the app is closing before the
        engine could hand back its partial result)."""
        if self.reply is None:
            return
        text = self.reply.raw_text + self.reply.live_block.decoded_text()
        self.session.add_stopped_reply(text, self.reply.mode_label, *(self._try or ()))
        self._end_reply()

    def _end_reply(self) -> None:
        self.reply = None
        self.status.running_mode = ""
        self.refresh_bindings()

    @on(EngineBridge.VerdictReached)
    async def show_verdict(self, event: EngineBridge.VerdictReached) -> None:
        view, turn = self._checking.pop(event.reply_id, (None, None))
        if view is None or not view.is_attached:
            return  # the reply was regenerated or the chat cleared meanwhile
        view.show_verdict(event.verdict)
        self.session.set_verdict(turn, event.verdict)
        await self.after_check(turn)

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
        self._show_mode()
        if self.generating:
            self.notify(f"Mode {self.settings.mode.label} applies from the next reply.")

    def action_open_settings(self) -> None:
        def apply(saved: ChatSettings | None) -> None:
            if saved is not None:
                self.settings, self.auto_retry = saved.decoding, saved.auto_retry
                self._show_mode()

        self.app.push_screen(SettingsScreen(self.settings, self.presets, self.sendable,
                                            self.auto_retry), apply)

    def action_copy_reply(self) -> None:
        replies = [t for t in self.session.turns
                   if t.role == "assistant" and t.finish_reason != "failed"]
        if not replies:
            self.notify("No reply to copy yet.")
            return
        self.copy_text(replies[-1].content, "the last reply")

    def copy_text(self, text: str, what: str) -> None:
        """Copy through the terminal (OSC 52). Terminals never confirm that they took it, so
        the notice says how to turn it on where it is off."""
        self.app.copy_to_clipboard(text)
        self.notify(f"Sent {what} (raw LaTeX) to the clipboard. Nothing to paste? Your "
                    "terminal must allow OSC 52 clipboard access (tmux: set -g set-clipboard on; "
                    "or use Ctrl+S to export).", title="Copy", timeout=6)

    def action_export_transcript(self, target: str | None = None) -> bool:
        """Write the transcript (Markdown and JSON unless `target` names one file)."""
        if not self.session.turns:
            self.notify("Nothing to export yet.")
            return True
        try:
            paths = export_transcript(self.session.conversation, self.info,
                                      Path(target) if target else None)
        except ExportError as error:
            self.notify(str(error), title="Export failed", severity="error", timeout=10)
            return False
        self.notify("Exported to " + " and ".join(str(p) for p in paths), title="Export")
        return True
