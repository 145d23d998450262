"""The cached block forward with fixed shapes, compiled once for a whole generation.

Eager decoding slices the cache by a Python length, so every block is a new program to a
compiler. Here a block's forward takes its T tokens at absolute `positions` (a tensor, not a
Python start the compiler would specialise on), writes their K/V in place into per-layer cache
tensors of a fixed capacity (a power of two, so longer canvases mostly reuse the graph) and
attends over the prefix rounded up to `attend_step` columns, a symbolic size in the graph,
under a block-causal mask built on the device from the positions. `torch.compile(
fullgraph=True)` of that function traces one graph that every forward of a generation reuses.
A stale block's K/V are refreshed by a forward of their own through the same graph (eager
decoding lets them ride along a 2T forward instead). If compiling fails, the forward runs
eagerly after a one-line notice.

On CUDA the graph is also replayed as a CUDA graph (`mode="reduce-overhead"`): a block forward
of a small model, or of a large one at batch 1, is bound by kernel launches and Python, not by
arithmetic, and a replay launches the whole forward at once. A CUDA graph is recorded per
shape, so there attention covers the whole cache (one shape per capacity; the mask hides the
columns past each query's block, which adds exact zeros), and the cache tensors are marked as
static addresses so the replays write them in place instead of copying them in and out.
Compiling is the default there (`compile_by_default`); on a CPU it is opt-in (`--compile`):
it costs tens of seconds on two cores and buys a few percent.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from noema_core.config import NoemaConfig
from noema_core.model import KVCache, NoemaModel, positional_block_mask
from noema_core.moe import MoE, group_rows, grouped_mm_works
from noema_core.quantize import count_quantized


def compile_by_default(model: NoemaModel) -> bool:
    """Whether decoding compiles when the user did not say: on CUDA, unless a layer is
    quantized (bitsandbytes layers run their own kernels and the looped experts read their
    loads on the host, so the graph would break and every load would print the fallback)."""
    on_cuda = model.model.word_embeddings.weight.device.type == "cuda"
    return on_cuda and count_quantized(model)[0] == 0


def cache_capacity(positions_needed: int) -> int:
    """The cache size a compiled forward attends over: a power of two, at least 256."""
    return max(256, 1 << (positions_needed - 1).bit_length())


class LayeredKVCache(KVCache):
    """A KVCache whose layers are separate tensors (`k[i]` [B, K, capacity, D]) rather than
    views of one: a compiled graph writes a graph input in place, but copies a view's base
    whole, every layer, every forward."""

    def __init__(self, config: NoemaConfig, capacity: int, *, batch: int = 1,
                 dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> None:
        shape = (batch, config.num_key_value_heads, capacity, config.head_dim)
        layers = range(config.num_hidden_layers)
        self.k = [torch.zeros(shape, dtype=dtype, device=device) for _ in layers]
        self.v = [torch.zeros(shape, dtype=dtype, device=device) for _ in layers]
        self.tokens = []

    @property
    def capacity(self) -> int:
        return self.k[0].shape[2]

    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.k + self.v)


class BlockForward:
    """`forward(ids [T], lo, cache) -> logits [T, V]` for the tokens at positions lo..lo+T-1,
    through the compiled graph (or eagerly, position-addressed, after a failed compile)."""

    def __init__(self, model: NoemaModel, block_length: int,
                 notice: Callable[[str], None] | None = None, *,
                 cuda_graphs: bool | None = None) -> None:
        """`cuda_graphs` (default: whether the model is on CUDA) replays the compiled graph
        as a CUDA graph, with attention over the whole cache."""
        self.model = model
        self.block_length = block_length
        self.notice = notice
        self.compiled = True  # until a compile fails
        self._offsets: Tensor | None = None
        self._columns: Tensor | None = None
        if cuda_graphs is None:
            cuda_graphs = model.model.word_embeddings.weight.device.type == "cuda"
        self.cuda_graphs = cuda_graphs
        # Attention covers the prefix rounded up to this many columns (None: the whole
        # cache): exactly the prefix on a CPU; one window under CUDA graphs, which are
        # recorded per shape.
        self.attend_step: int | None = None if cuda_graphs else block_length
        self.mode = "reduce-overhead" if cuda_graphs else None  # torch.compile's mode
        self._graph = torch.compile(self._forward, fullgraph=True, dynamic=False,
                                    mode=self.mode)
        self._check_model()

    def _check_model(self) -> None:
        """What the traced code cannot check itself: the MoE stacks still share the experts'
        weights (a data_ptr comparison), whether grouped GEMMs run and how many rows their
        groups are padded to (both probed eagerly)."""
        weight = self.model.model.word_embeddings.weight
        grouped_mm_works(weight.device, weight.dtype)
        config = self.model.config
        group_rows(weight.device, weight.dtype, config.hidden_size, config.moe_intermediate_size)
        for layer in self.model.model.layers:
            if isinstance(layer.mlp, MoE) and layer.mlp._stacked is not None and \
                    not layer.mlp._stacked_still_shared():
                layer.mlp.stack_experts()

    def _forward(self, ids: Tensor, positions: Tensor, columns: Tensor,
                 cache: KVCache) -> Tensor:
        attend = columns.shape[0]  # a symbolic size in the graph: one graph for every window
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
        step = self.attend_step
        attend = cache.capacity
        if step is not None:
            attend = min(attend, -(-(lo + T) // step) * step)
        if self._columns is None or len(self._columns) < cache.capacity:
            self._columns = torch.empty(cache.capacity, dtype=torch.bool, device=ids.device)
        columns = self._columns[:attend]
        if step is not None:
            torch._dynamo.mark_dynamic(columns, 0)
        if self.compiled:
            try:
                if self.cuda_graphs:
                    self._prepare_replay(cache)
                return self._graph(ids, positions, columns, cache)
            except Exception as err:  # noqa: BLE001 - any compiler failure: run eager instead
                self._fall_back(f"{type(err).__name__}: {str(err).strip().splitlines()[0]}"
                                if str(err).strip() else type(err).__name__)
        return self._forward(ids, positions, columns, cache)

    def _prepare_replay(self, cache: KVCache) -> None:
        """Before each CUDA-graph forward: the cache's tensors are static addresses (written
        in place by the replays, never copied), and the previous forward's logits are dead
        (the sampler has read them), so the replay may overwrite its output buffer."""
        if not getattr(cache, "static_addresses", False):
            for tensor in [*cache.k, *cache.v]:
                torch._dynamo.mark_static_address(tensor)
            cache.static_addresses = True
        torch.compiler.cudagraph_mark_step_begin()

    def _fall_back(self, reason: str) -> None:
        self.compiled = False
        if self.notice is not None:
            self.notice(f"compile failed, decoding eagerly: {reason[:200]}")
