"""Write a conversation to Markdown and JSON: LaTeX kept, verdicts and stats included.

Export writes regular files only. Every target is checked before anything is written: one
that exists and is not a regular file (a device such as /dev/null or /dev/full, a FIFO, a
socket) is refused, as are names longer than the file system allows. Each file is written
to a temporary sibling and renamed into place, so a failed export never leaves a
half-written file or clobbers an earlier one. Markdown puts math in `$...$` / `$$...$$`, as
Markdown readers expect; JSON keeps each turn's text exactly as the model wrote it.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from noema_core.engine import ModelInfo
from noema_core.errors import NoemaError
from noema_tui.app.conversation import Conversation, mode_value, verdict_record
from noema_tui.formatting import stats_line, verdict_line
from noema_tui.mathtext.delimit import delimit_math

FORMAT = "noema-transcript/1"
MARKDOWN_SUFFIXES = (".md", ".markdown")
NAME_MAX, PATH_MAX = 255, 4096  # bytes, as Linux and macOS file systems allow
FIX = "choose a writable path, e.g. /export ~/noema-chat.md"
KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
         (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


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
            lines += ["", "## You", "", delimit_math(turn.content)]
            continue
        about = [f"mode {mode_value(turn.mode)}"] if turn.mode else []
        if turn.attempt:  # verifier-guided retry: every try is kept, each with its verdict
            about.append(f"try {turn.attempt}" + (f" · {turn.how}" if turn.how else ""))
        lines += ["", f"## Noema ({', '.join(about)})" if about else "## Noema",
                  "", delimit_math(turn.content)]
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
        "turns": [{"role": t.role, "content": t.content,
                   "mode": mode_value(t.mode) if t.mode else None,  # as ask --json: q, s, ar
                   "finish_reason": t.finish_reason, "stats": t.stats, "verdict": t.verdict,
                   **({"try": t.attempt, "how": t.how} if t.attempt else {}),
                   **({"trace": t.trace} if t.trace is not None else {})}
                  for t in conversation.turns],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def export_targets(target: Path | None, conversation: Conversation,
                   exported_at: float) -> list[Path]:
    """Which files to write: both formats into a directory (the current one when none is
    given), both beside a new name without an extension (out -> out.md, out.json), else the
    one file named. Raises `ExportError` before anything is written."""
    stem = time.strftime("noema-chat-%Y%m%d-%H%M%S", time.localtime(exported_at))
    target = Path.cwd() if target is None else target.expanduser()
    _check_length(target)
    kind = _kind(target)
    if kind == "a directory" or str(target).endswith(os.sep):
        paths = [target / f"{stem}.md", target / f"{stem}.json"]
    elif kind is None and not target.suffix:
        paths = [target.with_name(target.name + ".md"), target.with_name(target.name + ".json")]
    else:
        paths = [target]
    for path in paths:
        _check_target(path)
    return paths


def export_transcript(conversation: Conversation, info: ModelInfo | None,
                      target: Path | None = None, *, exported_at: float | None = None
                      ) -> list[Path]:
    """Write the transcript; returns the paths written. Raises `ExportError` with the fix."""
    exported_at = time.time() if exported_at is None else exported_at
    written = []
    for path in export_targets(target, conversation, exported_at):
        render = transcript_json if path.suffix.lower() == ".json" else transcript_markdown
        _write_atomically(path, render(conversation, info, exported_at))
        written.append(path)
    return written


def _kind(path: Path) -> str | None:
    """What is at `path` (following links): None when nothing, "a regular file", or another
    kind of file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _error(path, error) from None
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((kind for test, kind in KINDS if test(mode)), "not a regular file")


def _check_length(path: Path) -> None:
    longest = max((len(os.fsencode(part)) for part in path.parts), default=0)
    if longest > NAME_MAX:
        raise ExportError(f"a file or folder name in the export path is {longest} bytes long, "
                          f"more than the {NAME_MAX} file systems allow: {FIX}")
    if len(os.fsencode(str(path))) >= PATH_MAX:
        raise ExportError(f"the export path is {len(os.fsencode(str(path)))} bytes long, more "
                          f"than the {PATH_MAX} file systems allow: {FIX}")


def _check_target(path: Path) -> None:
    """Refuse, before writing anything, a target that exists and is not a regular file."""
    _check_length(path)
    kind = _kind(path)
    if kind not in (None, "a regular file"):
        raise ExportError(f"{_shown(path)} is {kind}, not a regular file: export writes only "
                          f"regular files; {FIX}")
    if _kind(path.parent) != "a directory":
        raise ExportError(f"could not write {_shown(path)} (no folder {_shown(path.parent)}): "
                          f"create it or {FIX}")


def _shown(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 120 else text[:60] + "…" + text[-40:]


def _error(path: Path, error: OSError) -> ExportError:
    reason = error.strerror or str(error)
    return ExportError(f"could not write {_shown(path)} ({reason}): {FIX}")


def _write_atomically(path: Path, text: str) -> None:
    real = Path(os.path.realpath(path))  # a link to a file: replace the file, keep the link
    temporary = None
    try:
        # A short temporary name: one built from a long target name could pass NAME_MAX.
        handle, temporary = tempfile.mkstemp(dir=real.parent, prefix=".noema-export-",
                                             suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, _file_mode(real))  # mkstemp makes it private (0600)
        if _kind(real) not in (None, "a regular file"):  # appeared since the check
            raise ExportError(f"{_shown(path)} is not a regular file: export writes only "
                              f"regular files; {FIX}")
        os.replace(temporary, real)
        temporary = None
    except OSError as error:
        raise _error(path, error) from None
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)


def _file_mode(path: Path) -> int:
    """The permissions a plain `open(path, "w")` would give: the replaced file's own, else
    0666 less the umask."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0o022)  # reading the umask means setting it; put it straight back
        os.umask(umask)
        return 0o666 & ~umask
