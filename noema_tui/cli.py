"""`noema`: the command-line entry point. Subcommands live in `noema_tui.commands`."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Annotated, Any

import typer

from noema_tui.commands import ask, bench, chat, evaluate, replay, serve, train, verify
from noema_tui.commands.output import flush_quietly


class NoemaApp(typer.Typer):
    """The `noema` console script. After the command, flush the output and let a Ctrl-C end
    the process at once: shutting down torch and sympy takes a second or two, and a Ctrl-C
    then would otherwise surface as a KeyboardInterrupt traceback from an exit hook."""

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        finally:
            flush_quietly()
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, signal.SIG_DFL)


app = NoemaApp(
    name="noema",
    help="Run and talk to masked-diffusion language models from a terminal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # -h on every command
)


def show_version(value: bool) -> None:
    if value:
        from noema_core import __version__

        typer.echo(f"noema {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option(
        "--version", "-V", callback=show_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """Run and talk to masked-diffusion language models from a terminal."""


app.command("ask")(ask.ask)
app.command("bench")(bench.bench)
app.command("chat")(chat.chat)
app.command("eval")(evaluate.eval_command)
app.command("serve")(serve.serve)
app.command("replay")(replay.replay)
app.command("train")(train.train)
app.command("verify")(verify.verify)


def run(**kwargs: Any) -> None:
    """The `noema` console script: run the command, then end the process at once.

    Python's shutdown tears torch down module by module, which takes 0.5-1 s after the output
    is printed. Once a command that loaded torch has finished and flushed, nothing is left to
    save, so the checker's worker is stopped and the process ends. Commands that never loaded
    torch (--help), or that leave child processes (training's data workers), exit normally.
    """
    try:
        app(**kwargs)
        code: object = 0
    except SystemExit as done:
        code = 0 if done.code is None else done.code
    children = sys.modules.get("multiprocessing")
    if (not isinstance(code, int) or "torch" not in sys.modules
            or (children is not None and children.active_children())):
        sys.exit(code)
    checker = sys.modules.get("noema_core.verify")
    shutdown = getattr(checker, "shutdown", None)
    if shutdown is not None:
        shutdown()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
