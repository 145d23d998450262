"""A reply's decoding trace: every event the sampler yielded, saved to replay it later.

The trace is the Noema stream's wire format (`noema_core.remote.wire`) written to one JSON
file, with what produced it (model, question, settings). Per forward it keeps the active
block's token ids, pieces, states and confidences; the token an edit replaced is the same
slot's token in the block's previous frame (`replaced_pieces`), so it is not stored twice.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noema_core.decoding.events import BlockUpdated, DecodingEvent, TokenState
from noema_core.errors import NoemaError
from noema_core.remote.wire import WireError, event_from_wire, event_to_wire

FORMAT = "noema-trace"
VERSION = 1
MAX_TRACE_BYTES = 256 * 1024 * 1024  # a 4096-token reply is a few MB; refuse anything absurd


class TraceError(NoemaError):
    """A trace file that cannot be read or written (one line: the file, the cause, the fix)."""

    exit_code = 2


@dataclass
class Trace:
    model: str = ""
    question: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    events: list[DecodingEvent] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "model": self.model,
                "question": self.question, "settings": self.settings,
                "events": [event_to_wire(event) for event in self.events]}

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file in the same directory, then a rename)."""
        path = Path(path)
        if path.exists() and not path.is_file():
            raise TraceError(f"{path} exists and is not a regular file: choose a file path")
        text = json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))
        try:
            handle, temporary = tempfile.mkstemp(dir=path.parent or ".", prefix=".trace-")
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
            os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it 0600
            os.replace(temporary, path)
        except OSError as err:
            raise TraceError(f"could not write the trace to {path} ({err.strerror or err}): "
                             "choose a writable path") from None

    @property
    def frames(self) -> list[BlockUpdated]:
        return [event for event in self.events if isinstance(event, BlockUpdated)]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_trace(path: Path) -> Trace:
    """Read a trace written by `Trace.save`; `TraceError` names what is wrong with it."""
    path = Path(path)
    fix = "pass a file written by noema ask --trace"
    try:
        if not path.is_file():
            raise TraceError(f"trace {path} is not a file: {fix}")
        if path.stat().st_size > MAX_TRACE_BYTES:
            raise TraceError(f"trace {path} is larger than {MAX_TRACE_BYTES >> 20} MB: {fix}")
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TraceError(f"trace {path} cannot be read ({err}): {fix}") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise TraceError(f"{path} is not a Noema trace (no \"format\": \"{FORMAT}\"): {fix}")
    if obj.get("version") != VERSION:
        raise TraceError(f"trace {path} has version {obj.get('version')!r}, this Noema reads "
                         f"version {VERSION}: record it again with this version")
    try:
        events = [event_from_wire(item) for item in obj.get("events", [])]
    except WireError as err:
        raise TraceError(f"trace {path} holds {err}: {fix}") from None
    settings = obj.get("settings")
    return Trace(model=str(obj.get("model", "")), question=str(obj.get("question", "")),
                 settings=settings if isinstance(settings, dict) else {}, events=events)


def replaced_pieces(previous: BlockUpdated | None, frame: BlockUpdated) -> dict[int, str]:
    """Slot -> the text an edit in `frame` replaced (from the same block's previous frame)."""
    if previous is None or previous.block_index != frame.block_index or not previous.pieces:
        return {}
    return {slot: previous.pieces[slot] for slot, state in enumerate(frame.states)
            if state is TokenState.EDITED and slot < len(previous.pieces)}


def events_to_blob(events: list[dict[str, Any]]) -> bytes:
    """Wire events as one compact blob (zlib'd JSON) for a database column.

    Consecutive frames of a block differ in a few slots, so deflate shrinks them ~10x."""
    text = json.dumps(events, ensure_ascii=False, separators=(",", ":"))
    return zlib.compress(text.encode("utf-8"), 6)


def events_from_blob(blob: bytes) -> list[dict[str, Any]]:
    """The wire events `events_to_blob` packed; `TraceError` when the blob is not one."""
    try:
        events = json.loads(zlib.decompress(blob, bufsize=1 << 16).decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, ValueError, TypeError) as err:
        raise TraceError(f"a stored trace cannot be read ({err}): it is left out") from None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise TraceError("a stored trace is not a list of events: it is left out")
    return events


def settings_dict(settings: Any) -> dict[str, Any]:
    """A DecodingSettings as plain JSON values (the mode by its value)."""
    return {k: getattr(v, "value", v) for k, v in dataclasses.asdict(settings).items()}
