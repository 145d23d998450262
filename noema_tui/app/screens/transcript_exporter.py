"""The chat screen's ways out of the app: copy a reply (F4, palette) and export (Ctrl+S,
/export). A mixin of `ChatScreen`; writing the files lives in `noema_tui.app.export`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from noema_tui.app.export import ExportError, export_transcript

if TYPE_CHECKING:
    from noema_tui.app.screens.chat_screen import ChatScreen


class TranscriptExporter:
    """Copy through the terminal's clipboard; export Markdown and JSON."""

    def action_copy_reply(self: ChatScreen) -> None:
        replies = [t for t in self.session.turns
                   if t.role == "assistant" and t.finish_reason != "failed"]
        if not replies:
            self.tell("No reply to copy yet.", kind="copy")
            return
        self.copy_text(replies[-1].content, "the last reply")

    def copy_text(self: ChatScreen, text: str, what: str) -> None:
        """Copy through the terminal (OSC 52). Terminals never confirm that they took it, so
        the notice says how to turn it on where it is off."""
        self.app.copy_to_clipboard(text)
        self.tell(f"Sent {what} (raw LaTeX) to the clipboard. Nothing to paste? Your "
                  "terminal must allow OSC 52 clipboard access (tmux: set -g set-clipboard on; "
                  "or use Ctrl+S to export).", kind="copy", title="Copy", timeout=6)

    def action_export_transcript(self: ChatScreen, target: str | None = None) -> bool:
        """Write the transcript (Markdown and JSON unless `target` names one file)."""
        if not self.session.turns:
            self.tell("Nothing to export yet.", kind="export")
            return True
        try:
            paths = export_transcript(self.session.conversation, self.info,
                                      Path(target) if target else None)
        except ExportError as error:
            self.tell(str(error), kind="export", title="Export failed", severity="error")
            return False
        self.tell("Exported to " + " and ".join(str(p) for p in paths), kind="export",
                  title="Export", timeout=6)  # the paths take a moment to read
        return True
