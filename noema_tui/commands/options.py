"""Options several commands share, declared once so their names, choices and help agree."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer


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
