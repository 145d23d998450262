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
