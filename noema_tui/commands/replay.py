"""`noema replay`: play a reply's decoding trace (from `noema ask --trace`) forward by forward.

    noema ask --trace solve.json "Solve 3x + 5 = 20"
    noema replay solve.json --fps 4
    noema replay solve.json --cast solve.cast     # asciinema's asciicast v2, for web pages
    noema replay solve.json --svg solve.svg       # an animated SVG, for READMEs

In a terminal each forward is drawn as `noema ask` draws it live, with the token each edit
replaced; piped, it prints one line per forward. Exit codes: 0 ok, 2 usage (a missing or
malformed trace, an unwritable --cast/--svg path), 130 interrupted.
"""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from noema_tui.commands.output import emit, fail

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from noema_core.decoding.trace import Trace

CAST_SIZE = (100, 24)  # columns, rows of a .cast recording


def replay(
    path: Annotated[Path, typer.Argument(help="A trace file written by noema ask --trace.",
                                         show_default=False)],
    fps: Annotated[float, typer.Option(
        "--fps", min=0.1, max=240.0, help="Forwards per second [0.1, 240].")] = 6.0,
    cast: Annotated[Path | None, typer.Option(
        "--cast", help="Write an asciicast v2 recording (asciinema) instead of playing.",
        show_default=False, dir_okay=False)] = None,
    svg: Annotated[Path | None, typer.Option(
        "--svg", help="Write an animated SVG (one frame per forward) instead of playing.",
        show_default=False, dir_okay=False)] = None,
) -> None:
    """Play a decoding trace forward by forward, or export it as an asciicast recording.

    Exit codes: 0 ok, 2 usage (missing or malformed trace, unwritable --cast path),
    130 interrupted.
    """
    from noema_core.decoding.trace import TraceError, load_trace

    try:
        trace = load_trace(path)
    except TraceError as err:
        fail(str(err), err.exit_code)
    if cast is not None:
        write_cast(trace, cast, fps)
        return
    if svg is not None:
        write_svg(trace, svg, fps)
        return
    try:
        play(trace, fps)
    except KeyboardInterrupt:
        fail("interrupted", 130)


def frames(trace: Trace) -> list[RenderableType]:
    """One renderable per forward: the reply so far, the block, and what edits replaced."""
    from rich.console import Group
    from rich.text import Text

    from noema_core.decoding.events import BlockUpdated
    from noema_core.decoding.trace import replaced_pieces
    from noema_tui.live_view import LiveBlockView
    from noema_tui.terminal_text import visible

    view = LiveBlockView(_sized_console(), title=trace.question[:60])
    shown: list[RenderableType] = []
    previous: BlockUpdated | None = None
    for event in trace.events:
        view.apply(event)
        if not isinstance(event, BlockUpdated):
            continue
        replaced = replaced_pieces(previous, event)
        previous = event
        parts: list[RenderableType] = [view.render()]
        if replaced:
            edits = ", ".join(f"{visible(old)!r} → {visible(event.pieces[slot])!r}"
                              for slot, old in sorted(replaced.items()))
            parts.append(Text(f"edited: {edits}", style="yellow"))
        shown.append(Group(*parts))
    return shown


def play(trace: Trace, fps: float) -> None:
    from rich.console import Console
    from rich.live import Live

    console = Console()
    rendered = frames(trace)
    if not console.is_terminal:
        for number, frame in enumerate(rendered, start=1):  # piped: one line per forward
            emit(f"forward {number}: " + " ".join(_plain(frame).split()))
        return
    with Live(console=console, auto_refresh=False, transient=False) as live:
        for frame in rendered:
            live.update(frame, refresh=True)
            time.sleep(1.0 / fps)


def write_cast(trace: Trace, target: Path, fps: float) -> None:
    """asciicast v2: a JSON header line, then one `[seconds, "o", text]` line per frame."""
    width, height = CAST_SIZE
    header = {"version": 2, "width": width, "height": height,
              "title": f"noema: {trace.question[:60]}", "env": {"TERM": "xterm-256color"}}
    lines = [json.dumps(header)]
    for number, frame in enumerate(frames(trace)):
        console = _sized_console(record=True)
        console.print(frame)
        screen = "\x1b[H\x1b[2J" + console.export_text(styles=True).replace("\n", "\r\n")
        lines.append(json.dumps([round(number / fps, 3), "o", screen]))
    _write(target, "\n".join(lines) + "\n")
    print(f"wrote {target}: {len(lines) - 1} frames at {fps:g} per second "
          f"(play it with: asciinema play {target})", file=sys.stderr)


def write_svg(trace: Trace, target: Path, fps: float) -> None:
    from noema_tui.commands.replay_svg import animated_svg

    shown = frames(trace)
    _write(target, animated_svg(shown, _sized_console(), fps))
    print(f"wrote {target}: {len(shown)} frames at {fps:g} per second", file=sys.stderr)


def _write(target: Path, text: str) -> None:
    try:
        if target.exists() and not target.is_file():
            fail(f"{target} exists and is not a regular file: choose a file path", 2)
        target.write_text(text, encoding="utf-8")
    except OSError as err:
        fail(f"could not write {target} ({err.strerror or err}): choose a writable path", 2)


def _sized_console(record: bool = False) -> Console:
    from rich.console import Console

    width, height = CAST_SIZE
    return Console(file=io.StringIO(), width=width, height=height, force_terminal=True,
                   color_system="256", record=record)


def _plain(frame: RenderableType) -> str:
    console = _sized_console(record=True)
    console.print(frame)
    return console.export_text()
