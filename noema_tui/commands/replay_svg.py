"""An animated SVG of a decoding trace (`noema replay FILE --svg OUT.svg`), for READMEs.

Self-contained: one `<g>` of monospace text per forward, shown in turn by a CSS keyframe
animation (no script, no fonts, no external files), so it plays where an `<img>` shows it
(GitHub included). Colours are the terminal replay's, read from Rich's segments.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

CELL_W, CELL_H = 8.4, 17  # px per character cell at 14px monospace
BACKGROUND, FOREGROUND = "#1e1e2e", "#cdd6f4"


def frame_lines(console: Console, frame: RenderableType) -> list[str]:
    """One frame as SVG `<text>` lines, a `<tspan>` per run of styled text."""
    lines = []
    for row, segments in enumerate(console.render_lines(frame, pad=False)):
        spans = []
        for segment in segments:
            if not segment.text:
                continue
            style = segment.style
            attributes = []
            if style is not None and style.color is not None and not style.color.is_default:
                attributes.append(f'fill="{style.color.get_truecolor().hex}"')
            if style is not None and style.bold:
                attributes.append('font-weight="bold"')
            if style is not None and (style.underline or style.strike):
                kind = "underline" if style.underline else "line-through"
                attributes.append(f'text-decoration="{kind}"')
            spans.append(f"<tspan {' '.join(attributes)}>{escape(segment.text)}</tspan>"
                         if attributes else escape(segment.text))
        if spans:
            y = (row + 1) * CELL_H
            lines.append(f'<text x="8" y="{y}" xml:space="preserve">{"".join(spans)}</text>')
    return lines


def animated_svg(frames: list[RenderableType], console: Console, fps: float) -> str:
    """Every frame in one SVG, each visible for 1/fps s in turn, looping."""
    count = max(len(frames), 1)
    rendered = [frame_lines(console, frame) for frame in frames]
    rows = max((len(lines) for lines in rendered), default=1)
    width, height = console.width * CELL_W + 16, rows * CELL_H + 12
    duration = count / fps
    share = 100 / count
    style = (f".f{{visibility:hidden;animation:show {duration:.3f}s step-end infinite}}"
             f"@keyframes show{{0%{{visibility:visible}}{share:.4f}%{{visibility:hidden}}}}"
             f"text{{font-family:monospace;font-size:14px;fill:{FOREGROUND}}}")
    groups = [f'<g class="f" style="animation-delay:{number / fps:.3f}s">{"".join(lines)}</g>'
              for number, lines in enumerate(rendered)]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
            f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
            f"<style>{style}</style>"
            f'<rect width="100%" height="100%" fill="{BACKGROUND}" rx="6"/>'
            + "".join(groups) + "</svg>\n")
