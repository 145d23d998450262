"""Write a conversation to Markdown and JSON: raw LaTeX kept, verdicts and stats included.

Files are written to a temporary sibling and renamed into place, so a failed export never
leaves a half-written file or clobbers an earlier one.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from noema_core.engine import ModelInfo
from noema_core.errors import NoemaError
from noema_tui.app.conversation import Conversation, verdict_record
from noema_tui.formatting import stats_line, verdict_line

FORMAT = "noema-transcript/1"


class ExportError(NoemaError):
    """A transcript could not be written where asked."""


def transcript_markdown(conversation: Conversation, info: ModelInfo | None,
                        exported_at: float) -> str:
    title = conversation.title or "Noema conversation"
    model = (f"{info.name} ({info.device}, {info.dtype}, quant {info.quant})" if info
             else conversation.model)
    lines = [f"# {title}", "", f"- model: {model}",
             f"- exported: {time.strftime('%Y-%m-%d %H:%M', time.localtime(exported_at))}"]
    if conversation.id is not None:
        lines.append(f"- conversation: {conversation.id}")
    for turn in conversation.turns:
        if turn.role == "user":
            lines += ["", "## You", "", turn.content]
            continue
        lines += ["", f"## Noema (mode {turn.mode})" if turn.mode else "## Noema", "",
                  turn.content]
        notes = []
        if turn.finish_reason == "failed":
            notes.append("**Failed:** no text was generated.")
        if turn.stopped:
            notes.append("**Stopped** before the end of the reply.")
        if turn.verdict:
            notes.append(f"**Verdict:** {verdict_line(verdict_record(turn.verdict))}")
        if turn.generation_stats is not None:
            notes.append(f"**Stats:** {stats_line(turn.generation_stats)}")
        if notes:
            lines += [""] + [f"> {note}  " for note in notes]
    return "\n".join(lines) + "\n"


def transcript_json(conversation: Conversation, info: ModelInfo | None,
                    exported_at: float) -> str:
    document = {
        "format": FORMAT,
        "title": conversation.title,
        "conversation_id": conversation.id,
        "exported_at": exported_at,
        "model": asdict(info) if info else {"name": conversation.model},
        "turns": [{"role": t.role, "content": t.content, "mode": t.mode,
                   "finish_reason": t.finish_reason, "stats": t.stats, "verdict": t.verdict}
                  for t in conversation.turns],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def export_targets(target: Path | None, conversation: Conversation,
                   exported_at: float) -> list[Path]:
    """Which files to write: both formats for a directory (or none given), else the one named."""
    stem = time.strftime("noema-chat-%Y%m%d-%H%M%S", time.localtime(exported_at))
    if target is None:
        target = Path.cwd()
    target = target.expanduser()
    if target.is_dir() or str(target).endswith(os.sep):
        return [target / f"{stem}.md", target / f"{stem}.json"]
    return [target]


def export_transcript(conversation: Conversation, info: ModelInfo | None,
                      target: Path | None = None, *, exported_at: float | None = None
                      ) -> list[Path]:
    """Write the transcript; returns the paths written. Raises `ExportError` with the fix."""
    exported_at = time.time() if exported_at is None else exported_at
    written = []
    for path in export_targets(target, conversation, exported_at):
        text = (transcript_json if path.suffix.lower() == ".json" else transcript_markdown)(
            conversation, info, exported_at)
        _write_atomically(path, text)
        written.append(path)
    return written


def _write_atomically(path: Path, text: str) -> None:
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, _file_mode(path))  # mkstemp makes it private (0600)
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
        reason = error.strerror or str(error)
        raise ExportError(f"could not write {path} ({reason}): choose a writable path, e.g. "
                          f"/export ~/noema-chat.md") from None


def _file_mode(path: Path) -> int:
    """The permissions a plain `open(path, "w")` would give: the replaced file's own, else
    0666 less the umask."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0o022)  # reading the umask means setting it; put it straight back
        os.umask(umask)
        return 0o666 & ~umask
