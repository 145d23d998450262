"""Count host syncs: the points where Python must wait for a tensor's value.

On a GPU each one stalls the host until the device catches up, so a fast decoding step has
as few as possible. `HostSyncCounter` counts them by watching the ops that need a value on
the host (`.item()`, `bool()`/`int()` of a tensor, `nonzero`, `unique`, boolean-mask
indexing, which has a data-dependent shape) plus every `.tolist()`. It adds per-op overhead,
so measure syncs in a run of their own, never in a timed one.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

_aten = torch.ops.aten
# Ops whose result needs a value (or a data-dependent size) on the host.
_SYNC_OPS = {
    _aten.item.default, _aten.is_nonzero.default, _aten._local_scalar_dense.default,
    _aten.nonzero.default, _aten.nonzero_numpy.default, _aten._unique2.default,
    _aten.unique_dim.default, _aten.unique_consecutive.default, _aten.masked_select.default,
}
_BOOL_INDEXED = {_aten.index.Tensor, _aten.index_put.default, _aten.index_put_.default}


def _has_bool_index(args: tuple[Any, ...]) -> bool:
    indices = args[1] if len(args) > 1 else ()
    return any(isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8)
               for i in indices or ())


class HostSyncCounter(TorchDispatchMode):
    """`with HostSyncCounter() as syncs: ...` then `syncs.count` (and `syncs.by_op`)."""

    def __init__(self) -> None:
        super().__init__()
        self.by_op: dict[str, int] = {}
        self._tolist = torch.Tensor.tolist

    @property
    def count(self) -> int:
        return sum(self.by_op.values())

    def _add(self, name: str) -> None:
        self.by_op[name] = self.by_op.get(name, 0) + 1

    def __enter__(self) -> HostSyncCounter:
        original, counter = self._tolist, self

        def counted_tolist(tensor: torch.Tensor) -> Any:
            counter._add("tolist")
            return original(tensor)

        torch.Tensor.tolist = counted_tolist  # type: ignore[method-assign]
        return super().__enter__()

    def __exit__(self, *exc: object) -> None:
        torch.Tensor.tolist = self._tolist  # type: ignore[method-assign]
        super().__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        if func in _SYNC_OPS or (func in _BOOL_INDEXED and _has_bool_index(args)):
            self._add(func.__name__)
        return func(*args, **(kwargs or {}))
