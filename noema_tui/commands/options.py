"""Options several commands share, declared once so their names, choices and help agree."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from noema_core.engine import Engine


class ModeChoice(str, Enum):
    q = "q"
    s = "s"
    ar = "ar"


class QuantChoice(str, Enum):
    none = "none"
    int8 = "int8"
    nf4 = "nf4"
    auto = "auto"


DeviceOption = Annotated[str, typer.Option(help="auto, cpu or cuda[:N].")]
DtypeOption = Annotated[str, typer.Option(help="auto, float32, bfloat16 or float16.")]
QuantOption = Annotated[QuantChoice, typer.Option(help="Weight quantization.")]
CompileOption = Annotated[bool | None, typer.Option(
    "--compile/--no-compile", help="Decode through torch.compile'd block forwards, replayed as "
    "CUDA graphs on a GPU. Default: on for CUDA, off on a CPU (compiling takes tens of "
    "seconds there). Falls back to eager with a notice if it fails.", show_default=False)]
ServerOption = Annotated[str | None, typer.Option(
    "--server", help="Decode on a server (noema serve, or any OpenAI-compatible one) at this "
                     "URL instead of loading a model here.", show_default=False)]
ApiKeyOption = Annotated[str | None, typer.Option(
    "--api-key", envvar="NOEMA_API_KEY", help="The server's API key (or set NOEMA_API_KEY).",
    show_default=False)]


def _check_history(value: str | None) -> str | None:
    from noema_core.engine import parse_history_exchanges
    from noema_core.errors import SettingsError

    if value is not None:
        try:
            parse_history_exchanges(value)
        except SettingsError as err:
            raise typer.BadParameter(str(err)) from None
    return value


HistoryOption = Annotated[str | None, typer.Option(
    "--history", metavar="N|all", callback=_check_history, show_default=False,
    help="How many earlier exchanges of the conversation the model reads with each question: "
         "a number, or all. Default: what the model declares (noema-tiny: 0, each question "
         "on its own, as it answers best; other models: all).")]


def apply_history(engine: Engine, value: str | None) -> None:
    """`--history` as given (None: leave the model's own setting) onto a loaded engine."""
    from noema_core.engine import parse_history_exchanges

    if value is not None:
        engine.set_history_exchanges(parse_history_exchanges(value))
