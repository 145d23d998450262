"""The chat screen's model load: its progress, the loaded model, or why it failed.

A mixin of `ChatScreen`. Where the progress shows depends on what is on screen. An empty chat
has room for the load panel (model, step, a progress bar naming the device). A resumed or
opened conversation keeps its transcript, scrollable from the first frame, and the status line
carries the step and a compact bar instead. Prompts can be typed during the load; Enter
refuses with a notice and keeps the text in the prompt (nothing is sent behind the user's
back once the model arrives), then a notice says that Enter sends. A failure stays: the panel
shows its cause and fix below the conversation (or alone), and the status line says it.

Handlers here use Textual's naming convention (`on_engine_bridge_...`): `@on` handlers are
collected only from classes of Textual's own hierarchy, which a plain mixin is not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from noema_tui.app.bridge import EngineBridge
from noema_tui.app.screens.settings_screen import switch_mode, uses_card_preset
from noema_tui.app.widgets.load_panel import LoadPanel
from noema_tui.app.widgets.turn_notice import TurnNotice, turn_notice
from noema_tui.app.widgets.welcome_panel import WelcomePanel

if TYPE_CHECKING:
    from noema_tui.app.screens.chat_screen import ChatScreen


class LoadWatcher:
    """Follows `EngineBridge`'s load messages; knows whether sending can work yet."""

    load_failure: tuple[str, str] | None = None  # (reason, hint) once the load has failed
    load_step: tuple[str, float | None] = ("starting the engine (importing PyTorch)", None)
    refused_while_loading = False  # a prompt was refused: say so when it can be sent

    @property
    def load_failed(self) -> bool:
        return self.load_failure is not None

    def load_percent(self: ChatScreen) -> str:
        """' (40%)' while the load reports how far it is, else ''."""
        fraction = self.load_step[1]
        return f" ({fraction:.0%})" if fraction is not None else ""

    async def place_load_panel(self: ChatScreen) -> None:
        """The panel fills an empty chat while it loads, and shows a failure below whatever
        conversation is on screen; otherwise the status line alone carries the load."""
        panels = self.transcript.query(LoadPanel)
        wanted = self.load_failed or (self.info is None and not self.session.turns)
        if not wanted:
            await panels.remove()
            return
        if panels:
            panel = panels.first()
            if panel is not self.transcript.children[-1]:  # below turns opened since
                self.transcript.move_child(panel, after=self.transcript.children[-1])
        else:
            panel = LoadPanel(self.loader.model)
            await self.transcript.mount(panel)
            panel.show_progress(*self.load_step)
        if self.load_failure is not None and not panel.has_class("-failed"):
            panel.show_failure(*self.load_failure)

    def on_engine_bridge_load_progressed(self: ChatScreen,
                                         event: EngineBridge.LoadProgressed) -> None:
        self.load_step = (event.what, event.fraction)
        for panel in self.transcript.query(LoadPanel):
            panel.show_progress(event.what, event.fraction)
        self.status.show_load(event.what, event.fraction)

    async def on_engine_bridge_engine_loaded(self: ChatScreen,
                                             event: EngineBridge.EngineLoaded) -> None:
        self.info = self.status.info = event.info
        self.presets = event.info.decoding_presets
        if uses_card_preset(self.settings):  # not tuned by hand: take the model's preset
            self.settings = switch_mode(self.settings, self.settings.mode, self.presets)
        self._show_mode()
        await self.place_load_panel()
        engine = self.bridge.engine
        self.sendable = getattr(engine, "sendable_settings", None)
        if note := getattr(engine, "limits_note", ""):  # an OpenAI-only --server
            self.tell(note, kind="server", title="Server", severity="warning", timeout=15)
        if self.refused_while_loading:
            self.refused_while_loading = False
            self.tell(f"{event.info.name} is loaded: Enter sends your prompt.", kind="send")
        self.show_welcome()
        self.show_turn_notice()  # a resumed chat may already be past the trained turns
        self.offer_retry()  # a contradicted reply opened from history

    def on_engine_bridge_engine_noticed(self: ChatScreen,
                                        event: EngineBridge.EngineNoticed) -> None:
        self.tell(event.line, kind="engine", title="Engine", severity="warning")

    async def on_engine_bridge_load_failed(self: ChatScreen,
                                           event: EngineBridge.LoadFailed) -> None:
        self.load_failure = (event.reason, event.hint)
        self.status.show_load(f"{event.model} failed to load", None)
        await self.place_load_panel()
        self.transcript.scroll_end(animate=False)  # to the cause and fix, near the prompt

    def refuse_send(self: ChatScreen) -> None:
        """Enter before the model can take a prompt: say why; the text stays in the prompt."""
        if self.load_failed:
            why = "the model failed to load (its cause and fix are in the transcript)"
        else:
            why = f"{self.loader.model} is still loading{self.load_percent()}"
            self.refused_while_loading = True
        self.tell(f"Not sent: {why}. Your prompt stays here.", kind="send",
                  severity="warning")

    def show_welcome(self: ChatScreen) -> None:
        """On an empty conversation, the model and example prompts to start from."""
        if self.info is not None and not self.session.turns:
            self.transcript.mount(WelcomePanel(self.info))

    def show_turn_notice(self: ChatScreen) -> None:
        """The line above the prompt, while the chat is past the model's trained turns."""
        questions = len(self.session.conversation.prompts())
        self.query_one(TurnNotice).show(turn_notice(self.info, questions))
