"""The cached block forward with fixed shapes, compiled once for a whole generation.

Eager decoding attends to exactly the committed prefix, so every block has new shapes. Here a
block's forward always sees the same shapes: its T tokens at absolute `positions` (a tensor,
not a Python start the compiler would specialise on), K/V written into the preallocated cache
at those positions, attention over the whole cache (its capacity, rounded up to a power of two
so longer canvases mostly reuse the graph) under a block-causal mask built on the device from
the positions. `torch.compile(fullgraph=True)` of that function therefore traces one graph
that every forward of a generation reuses. A stale block's K/V are refreshed by a forward of
their own through the same graph (eager decoding instead lets them ride along a 2T forward).
If compiling fails, the forward runs eager after a one-line notice.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from noema_core.model import KVCache, MoE, NoemaModel, grouped_mm_works, positional_block_mask


def cache_capacity(positions_needed: int) -> int:
    """The cache size a compiled forward attends over: a power of two, at least 256."""
    return max(256, 1 << (positions_needed - 1).bit_length())


class BlockForward:
    """`forward(ids [T], lo, cache) -> logits [T, V]` for the tokens at positions lo..lo+T-1,
    through the compiled graph (or eagerly, position-addressed, after a failed compile)."""

    def __init__(self, model: NoemaModel, block_length: int,
                 notice: Callable[[str], None] | None = None) -> None:
        self.model = model
        self.block_length = block_length
        self.notice = notice
        self.compiled = True  # until a compile fails
        self._offsets: Tensor | None = None
        self._graph = torch.compile(self._forward, fullgraph=True, dynamic=False)
        self._check_model()

    def _check_model(self) -> None:
        """What the traced code cannot check itself: the MoE stacks still share the experts'
        weights (a data_ptr comparison) and whether grouped GEMMs run (probed eagerly)."""
        for layer in self.model.model.layers:
            if isinstance(layer.mlp, MoE) and layer.mlp._stacked is not None and \
                    not layer.mlp._stacked_still_shared():
                layer.mlp.stack_experts()
        weight = self.model.model.word_embeddings.weight
        grouped_mm_works(weight.device, weight.dtype)

    def _forward(self, ids: Tensor, positions: Tensor, cache: KVCache) -> Tensor:
        attend = cache.capacity
        mask = positional_block_mask(positions, attend, self.block_length)
        return self.model(ids[None], positions=positions, cache=cache, mask=mask,
                          attend=attend)[0]

    def __call__(self, ids: Tensor, lo: int, cache: KVCache) -> Tensor:
        """`ids` [T], a slice of the canvas: 1-D, so its stride is 1 whatever the canvas
        length (a [1, T] slice's first stride would be part of the graph's guards)."""
        T = ids.shape[0]
        if self._offsets is None or len(self._offsets) != T:
            self._offsets = torch.arange(T, device=ids.device)
        positions = (self._offsets + lo)[None]  # a tensor: the graph never sees `lo`
        if self.compiled:
            try:
                return self._graph(ids, positions, cache)
            except Exception as err:  # noqa: BLE001 - any compiler failure: run eager instead
                self._fall_back(f"{type(err).__name__}: {str(err).strip().splitlines()[0]}"
                                if str(err).strip() else type(err).__name__)
        return self._forward(ids, positions, cache)

    def _fall_back(self, reason: str) -> None:
        self.compiled = False
        if self.notice is not None:
            self.notice(f"compile failed, decoding eagerly: {reason[:200]}")
