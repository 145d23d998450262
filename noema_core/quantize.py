"""Weight quantization through bitsandbytes (NF4 with double quant, or int8).

Only `nn.Linear` modules are converted; the router (a raw parameter), embeddings, lm_head and
norms stay in the compute dtype, as on Noema-1's card (skip list: gate, word_embeddings,
lm_head, norm). Experts are separate Linears, so each one is quantized.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import torch
from torch import nn

from noema_core.errors import DeviceError

if TYPE_CHECKING:
    from bitsandbytes.functional import QuantState

QUANT_CHOICES = ("none", "int8", "nf4", "auto")
SKIP_MODULES = ("gate", "word_embeddings", "lm_head", "norm")


def should_skip(name: str) -> bool:
    """True for modules kept unquantized. `experts.3.gate_proj` is NOT skipped: only a path
    component exactly named in the skip list (or ending in 'norm') matches."""
    parts = name.split(".")
    return any(p in SKIP_MODULES or p.endswith("norm") for p in parts)


def _bnb():
    try:
        # bitsandbytes logs a warning on CPU about an optional kernel package; it is harmless.
        logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
        import bitsandbytes as bnb
    except Exception as err:  # ImportError, or a broken CUDA setup inside bitsandbytes
        raise DeviceError(f"bitsandbytes could not be imported ({err}): "
                          f"pip install bitsandbytes, or use --quant none") from None
    return bnb


def quantize_linears(model: nn.Module, quant: str, device: torch.device,
                     compute_dtype: torch.dtype) -> int:
    """Replace every eligible nn.Linear by its bitsandbytes version on `device`, in place.

    Returns how many Linears were converted. Weights are moved one module at a time so the
    full-precision model never needs to fit on the device.
    """
    if quant == "none":
        return 0
    bnb = _bnb()
    converted = 0
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if type(child) is not nn.Linear or should_skip(full):
                continue
            weight = child.weight.data.to("cpu")
            if quant == "nf4":
                new = bnb.nn.Linear4bit(child.in_features, child.out_features,
                                        bias=child.bias is not None, compute_dtype=compute_dtype,
                                        quant_type="nf4", compress_statistics=True)
                new.weight = bnb.nn.Params4bit(weight, requires_grad=False, quant_type="nf4",
                                               compress_statistics=True)
            elif quant == "int8":
                new = bnb.nn.Linear8bitLt(child.in_features, child.out_features,
                                          bias=child.bias is not None, has_fp16_weights=False)
                new.weight = bnb.nn.Int8Params(weight, requires_grad=False,
                                               has_fp16_weights=False)
            else:
                raise DeviceError(f"--quant {quant} is unknown: choose none, int8, nf4 or auto")
            if child.bias is not None:
                new.bias = nn.Parameter(child.bias.data.to(compute_dtype), requires_grad=False)
            setattr(module, child_name, new.to(device))  # .to() performs the quantization
            converted += 1
    return converted


def resolve_auto(quant: str, device: torch.device, bf16_bytes: int) -> str:
    """`auto`: NF4 on a CUDA device whose free memory cannot hold the bf16 weights (+20%)."""
    if quant != "auto":
        return quant
    if device.type != "cuda":
        return "none"
    free, _total = torch.cuda.mem_get_info(device)
    return "nf4" if bf16_bytes * 1.2 > free else "none"


def resident_bytes(model: nn.Module) -> int:
    """Bytes the loaded weights occupy, counting quantization state (absmax, codebooks)."""
    total, seen = 0, set()
    for tensor in list(model.parameters()) + list(model.buffers()):
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        total += tensor.numel() * tensor.element_size()
        state = getattr(tensor, "quant_state", None)
        if state is not None:
            total += _quant_state_bytes(state)
        scb = getattr(tensor, "SCB", None)
        if isinstance(scb, torch.Tensor):
            total += scb.numel() * scb.element_size()
    return total


def _quant_state_bytes(state: QuantState) -> int:
    total = 0
    for attr in ("absmax", "code"):
        t = getattr(state, attr, None)
        if isinstance(t, torch.Tensor):
            total += t.numel() * t.element_size()
    nested = getattr(state, "state2", None)
    if nested is not None:
        total += _quant_state_bytes(nested)
    return total


def count_quantized(model: nn.Module) -> tuple[int, int]:
    """(quantized linears, plain nn.Linear left) — for checking nothing silently stayed dense."""
    quantized = plain = 0
    for name, module in model.named_modules():
        kind = type(module).__name__
        if kind in ("Linear4bit", "Linear8bitLt"):
            quantized += 1
        elif type(module) is nn.Linear and not should_skip(name):
            plain += 1
    return quantized, plain
