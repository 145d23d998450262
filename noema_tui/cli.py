"""`noema`: the command-line entry point. Subcommands live in `noema_tui.commands`."""

from __future__ import annotations

import os
import signal
import sys
import threading


def _interrupted_while_starting(*_: object) -> None:
    """Ctrl-C while the CLI's own modules import: one line, not a traceback from typer."""
    os.write(2, b"interrupted\n")
    os._exit(130)


_starting = threading.current_thread() is threading.main_thread() and \
    signal.getsignal(signal.SIGINT) is signal.default_int_handler
if _starting:
    signal.signal(signal.SIGINT, _interrupted_while_starting)

from typing import Annotated, Any  # noqa: E402 - after the Ctrl-C guard above

import typer  # noqa: E402
from typer.core import TyperGroup  # noqa: E402

from noema_tui.commands import (  # noqa: E402
    ask,
    bench,
    chat,
    evaluate,
    replay,
    serve,
    train,
    verify,
)
from noema_tui.commands.output import flush_quietly, usage_error_line  # noqa: E402

if _starting:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# Click's base error class, wherever this Typer keeps Click (vendored as typer._click in
# 0.28, the click package before): BadParameter is public and derives from it.
_CLICK_EXCEPTION = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class OneLineErrors(TyperGroup):
    """Usage errors (unknown option, bad value, missing argument) as the one line every other
    error is, `error: <cause>: <fix>` with exit 2, instead of Typer's boxed panel."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
            code = result if isinstance(result, int) and not isinstance(result, bool) else 0
        except _CLICK_EXCEPTION as err:
            if type(err).__name__ != "NoArgsIsHelpError":  # `noema` alone: help is printed
                print(usage_error_line(err), file=sys.stderr)
            code = err.exit_code
        except typer.Abort:  # input ended (EOF) where a command was reading an answer
            print("error: input ended before the command finished: run it again with its "
                  "input", file=sys.stderr)
            code = 1
        if not standalone_mode:
            return code
        sys.exit(code)


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
    cls=OneLineErrors,
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
    _guard_standard_streams()
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


def _guard_standard_streams() -> None:
    """Started with stdin, stdout or stderr closed (`noema ask ... >&-`): the next file opened
    would take that descriptor, and a print would then write into a checkpoint or the
    database. Park /dev/null on each closed one; with no stdout there is nowhere for the
    result to go, so say so and stop."""
    closed = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.append(fd)
    for _ in closed:  # the lowest free descriptor each time: exactly the closed ones
        os.open(os.devnull, os.O_RDWR)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    if sys.stdin is None:
        sys.stdin = open(os.devnull)  # noqa: SIM115
    if 1 in closed:
        print("error: stdout is closed: give the output somewhere to go (a terminal, a file "
              "or a pipe), e.g. noema ask ... > answer.txt", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    run()
