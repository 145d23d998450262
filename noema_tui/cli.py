"""`noema`: the command-line entry point. Subcommands live in `noema_tui.commands`."""

from __future__ import annotations

import typer

from noema_tui.commands import ask, bench, chat, evaluate, train, verify

app = typer.Typer(
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
