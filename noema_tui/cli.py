"""`noema`: the command-line entry point. Subcommands live in `noema_tui.commands`."""

from __future__ import annotations

import signal
import threading

import typer

from noema_tui.commands import ask, bench, chat, evaluate, train, verify
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
)


@app.callback()
def main() -> None:
    """Run and talk to masked-diffusion language models from a terminal."""


app.command("ask")(ask.ask)
app.command("bench")(bench.bench)
app.command("chat")(chat.chat)
app.command("eval")(evaluate.eval_command)
app.command("train")(train.train)
app.command("verify")(verify.verify)


if __name__ == "__main__":  # pragma: no cover
    app()
