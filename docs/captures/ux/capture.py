"""Drive `noema chat` in tmux as a person would and save what the terminal shows.

    python docs/captures/ux/capture.py [--size 80x24] [--out docs/captures/ux]

Each step types keys, waits until the screen shows what it should (or gives up after a
timeout and saves what is there, marked in the file's first line), and saves
`capture-pane -p` as `<size>-<step>.txt`. The chat runs with its own data and config
directories under a temporary folder, so a user's saved conversations stay out of it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOCKET = "noema-ux-capture"
SESSION = "cap"
REPO = Path(__file__).resolve().parents[3]


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], check=True, capture_output=True,
                          text=True).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION)


def keys(*names: str, literal: bool = False) -> None:
    tmux("send-keys", "-t", SESSION, *(["-l"] if literal else []), *names)
    if "Escape" in names:
        time.sleep(0.6)  # else the next key arrives as Alt+key (a terminal's escape timing)


def wait(text: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in screen():
            return True
        time.sleep(0.05)
    return False


class Recorder:
    def __init__(self, out: Path, size: str) -> None:
        self.out, self.size = out, size

    def save(self, name: str, note: str) -> None:
        path = self.out / f"{self.size}-{name}.txt"
        load = os.getloadavg()[0]
        path.write_text(f"# {note} (load average {load:.1f})\n{screen()}", encoding="utf-8")
        print(f"wrote {path}", flush=True)

    def step(self, name: str, note: str, until: str, timeout: float = 30.0) -> None:
        if not wait(until, timeout):
            note += f" [timed out waiting for {until!r}]"
        time.sleep(0.3)  # let the frame that showed it finish drawing
        self.save(name, note)


def clear_prompt() -> None:
    """A refused command stays in the prompt with the cursor after it: Ctrl+U deletes it."""
    keys("C-u")
    time.sleep(0.3)


def wait_reply(timeout: float = 120.0) -> None:
    """Until the reply just sent has finished: the footer offers Esc Stop while it runs."""
    wait("esc Stop", 10)
    deadline = time.monotonic() + timeout
    while "esc Stop" in screen() and time.monotonic() < deadline:
        time.sleep(0.1)


def send(text: str) -> None:
    keys(text, literal=True)
    keys("Enter")


def run(size: str, out: Path) -> None:
    width, height = size.split("x")
    home = Path(tempfile.mkdtemp(prefix="noema-ux-"))
    noema = shutil.which("noema", path=str(Path(sys.executable).parent)) or "noema"
    env = (f"NOEMA_DATA_DIR={home / 'data'} XDG_CONFIG_HOME={home / 'config'} "
           f"TERM=xterm-256color")
    command = f"cd {home} && {env} nice -n 10 {noema} chat"
    rec = Recorder(out, size)
    tmux("new-session", "-d", "-s", SESSION, "-x", width, "-y", height, command)
    tmux("set-option", "-s", "escape-time", "0")
    try:
        rec.step("01-loading", "noema chat just started: the model loading", "Loading", 10)
        rec.step("02-welcome", "loaded: the welcome card with example prompts", "Try one", 120)
        send("Solve 3x + 5 = 20")
        # noema-tiny often fills a whole block in its first forward: the masked glyphs show
        # only before it; the header line names block, forward and the slots still masked.
        rec.step("03-live-reply", "a reply mid-decoding: the live 32-token block", "masked", 30)
        wait_reply()
        rec.step("04-finished-reply", "the finished reply with its verdict and stats",
                 "verified", 60)
        keys("F1")
        rec.step("05-help", "F1: what the model answers, then every key", "Keys")
        keys("End")
        rec.step("05b-help-end", "F1 scrolled down: slash commands and what the glyphs mean",
                 "/set")
        keys("Escape")
        keys("F3")
        rec.step("06-settings", "F3: every decoding parameter", "threshold")
        keys("Escape")
        send("/frob")
        rec.step("07-unknown-command", "an unknown slash command lists every command", "/export")
        clear_prompt()
        send("/set threshold 5")
        rec.step("08-error-line", "a bad value: one line naming the cause and the range",
                 "out of range")
        clear_prompt()
        send("/set threshold 0.5")
        rec.step("09-custom-mode", "a hand-tuned value: the status line says custom", "custom")
        keys("F2")
        keys("F2")
        keys("F2")
        rec.step("10-custom-kept-after-f2", "F2 three times: back in Q, still custom", "custom")
        send("What is 48 + 37?")
        wait_reply()
        rec.step("11-second-reply", "a second turn", "forwards", 60)
        keys("PPage")
        rec.step("12-scrolled-page-up", "PageUp with the prompt focused scrolls the transcript",
                 "Solve")
        keys("C-End")
        rec.step("13-scrolled-to-end", "Ctrl+End: the last turn", "48")
        keys("F4")
        rec.step("14-copy-notice", "F4: the copy notice says how to enable OSC 52", "OSC 52")
        send(f"/export {home / 'out'}")
        rec.step("15-export-notice", "/export PATH without extension: out.md and out.json",
                 "out.json")
        keys("C-o")
        rec.step("16-browser", "Ctrl+O: saved conversations with search", "earch")
        keys("Escape")
        keys("C-p")
        time.sleep(0.5)
        keys("theme", literal=True)
        rec.step("17-palette-theme", "Ctrl+P, 'theme': Noema's own themes", "noema-contrast")
        keys("Escape")
        keys("C-n")
        rec.step("18-new-chat", "Ctrl+N: a new chat, status line cleared", "Try one")
        send("Solve 2x - 4 = 10")
        wait("Noema ·", 20)
        keys("C-q")
        time.sleep(3)
        resume = f"cd {home} && {env} nice -n 10 {noema} chat --resume"
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
        tmux("new-session", "-d", "-s", SESSION, "-x", width, "-y", height, resume)
        tmux("set-option", "-s", "escape-time", "0")
        rec.step("19-resume-after-quit-mid-reply",
                 "Ctrl+Q mid-reply, then noema chat --resume: the partial reply, stopped",
                 "stopped", 120)
        keys("C-q")
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="80x24")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    os.chdir(REPO)
    run(args.size, args.out)


if __name__ == "__main__":
    main()
