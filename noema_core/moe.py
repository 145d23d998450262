"""Mixture-of-experts feed-forward for `noema_core.model`: the dense MLP, the router and the
routed-expert layer, kept apart from attention so each file reads on its own.

The router is sigmoid, group-limited top-k with a fixed number of experts per token, so its
output shapes never depend on the data. The experts stay separate `nn.Linear` modules, as
checkpointed, so bitsandbytes can quantize each one; for inference in a float dtype their
weights also run stacked through `torch._grouped_mm` on (token, expert) pairs sorted on the
device (no host read of the expert loads), with a padded batched matmul where the device or
dtype lacks grouped GEMMs, and one expert after another for quantized experts.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from noema_core.config import NoemaConfig


class MLP(nn.Module):
    """down(silu(gate(x)) * up(x)): the dense MLP, each routed expert and the shared expert."""

    def __init__(self, hidden: int, width: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(hidden, width, bias=False)
        self.up_proj = nn.Linear(hidden, width, bias=False)
        self.down_proj = nn.Linear(width, hidden, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Router(nn.Module):
    """Sigmoid, group-limited top-k routing. A raw parameter (not nn.Linear), as checkpointed,
    which also keeps it out of reach of quantization."""

    def __init__(self, config: NoemaConfig) -> None:
        super().__init__()
        self.top_k, self.n_group, self.topk_group = (config.num_experts_per_tok, config.n_group,
                                                     config.topk_group)
        self.scaling = config.routed_scaling_factor
        self.weight = nn.Parameter(torch.empty(config.num_experts, config.hidden_size))
        self.register_buffer("expert_bias", torch.zeros(config.num_experts), persistent=True)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x [N, H] -> chosen experts [N, A] and their weights [N, A] (fp32)."""
        scores = torch.sigmoid(x.float() @ self.weight.float().t())  # [N, E]
        biased = scores + self.expert_bias.float()  # the bias steers selection only
        N, E = biased.shape
        grouped = biased.view(N, self.n_group, E // self.n_group)
        group_score = grouped.topk(2, dim=-1).values.sum(-1)  # [N, groups]
        kept = group_score.topk(self.topk_group, dim=-1).indices
        group_mask = torch.zeros_like(group_score, dtype=torch.bool).scatter_(1, kept, True)
        expert_mask = group_mask.repeat_interleave(E // self.n_group, dim=1)  # [N, E]
        chosen = biased.masked_fill(~expert_mask, float("-inf")).topk(self.top_k, dim=-1).indices
        weights = scores.gather(1, chosen)
        if self.top_k > 1:  # with one active expert the reference keeps its raw score
            weights = weights / weights.sum(-1, keepdim=True)
        return chosen, weights * self.scaling


class MoE(nn.Module):
    def __init__(self, config: NoemaConfig) -> None:
        super().__init__()
        self.gate = Router(config)
        # Separate nn.Linear experts, as checkpointed, so bitsandbytes can quantize each one.
        self.experts = nn.ModuleList(MLP(config.hidden_size, config.moe_intermediate_size)
                                     for _ in range(config.num_experts))
        self.shared_experts = (
            MLP(config.hidden_size, config.moe_intermediate_size * config.num_shared_experts)
            if config.num_shared_experts else None
        )
        self._stacked: tuple[Tensor, Tensor, Tensor] | None = None

    def stack_experts(self) -> None:
        """Store the experts' weights as three [E, out, in] tensors and make every expert's
        Linear weight a view into them (no extra memory), so a block can run all its experts
        in three batched matmuls instead of 3*E small ones. Inference only; call after the
        model is on its final device (moving it again breaks the sharing, so we re-check)."""
        stacked = []
        for name in ("gate_proj", "up_proj", "down_proj"):
            weights = [getattr(expert, name).weight for expert in self.experts]
            if any(type(getattr(expert, name)) is not nn.Linear for expert in self.experts):
                return  # quantized experts: bitsandbytes owns their storage
            stack = torch.stack([w.detach() for w in weights])  # [E, out, in]
            for expert, view in zip(self.experts, stack, strict=True):
                getattr(expert, name).weight = nn.Parameter(view, requires_grad=False)
            stacked.append(stack)
        self._stacked = tuple(stacked)

    def _stacked_still_shared(self) -> bool:
        stack = self._stacked
        if torch.compiler.is_compiling():
            # data_ptr() cannot be traced: the compiler checks the sharing before compiling
            # (noema_core/decoding/compiled.py).
            return stack is not None
        return stack is not None and \
            self.experts[0].gate_proj.weight.data_ptr() == stack[0].data_ptr()

    def forward(self, x: Tensor) -> Tensor:
        B, T, H = x.shape
        flat = x.reshape(-1, H)  # [N, H]
        chosen, weights = self.gate(flat)  # [N, A] each
        stacked = self._expert_stacks()
        if stacked is not None and not torch.is_grad_enabled() and \
                grouped_mm_works(flat.device, flat.dtype):
            out = self._grouped_experts(flat, chosen, weights, stacked)
        elif stacked is not None:
            out = self._batched_experts(flat, chosen, weights, stacked)
        else:  # quantized experts: bitsandbytes owns their storage, run them one by one
            out = self._looped_experts(flat, chosen, weights)
        if self.shared_experts is not None:
            out = out + self.shared_experts(flat)
        return out.view(B, T, H)

    def _expert_stacks(self) -> tuple[Tensor, Tensor, Tensor] | None:
        """[E, out, in] weights for gate/up/down: the inference stacks when they are still
        shared with the experts, else stacked on the fly (differentiable, for training)."""
        if not torch.is_grad_enabled() and self._stacked_still_shared():
            return self._stacked
        if any(type(expert.gate_proj) is not nn.Linear for expert in self.experts):
            return None
        return tuple(torch.stack([getattr(expert, name).weight for expert in self.experts])
                     for name in ("gate_proj", "up_proj", "down_proj"))

    def _looped_experts(self, flat: Tensor, chosen: Tensor, weights: Tensor) -> Tensor:
        """Each chosen expert on its tokens. One host read (the experts' loads) per layer:
        (token, slot) pairs sorted by expert are sliced by those loads on the host."""
        out = torch.zeros_like(flat)
        A = chosen.shape[1]
        order = chosen.reshape(-1).argsort(stable=True)  # per expert, tokens ascending
        loads = torch.bincount(chosen.reshape(-1), minlength=len(self.experts)).tolist()
        start = 0
        for e, load in enumerate(loads):
            if load:
                pairs = order[start:start + load]
                token, slot = pairs // A, pairs % A
                y = self.experts[e](flat[token]) * weights[token, slot, None].to(flat.dtype)
                out.index_add_(0, token, y)
            start += load
        return out

    @staticmethod
    def _grouped_experts(flat: Tensor, chosen: Tensor, weights: Tensor,
                         stacked: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        """All experts in three grouped GEMMs over the (token, expert) pairs sorted by expert.
        Shapes depend only on N*A, and the group offsets come from a searchsorted on the
        device, so nothing is read back to the host (the padded bmm needs the busiest load)."""
        w_gate, w_up, w_down = stacked
        E, A = w_gate.shape[0], chosen.shape[1]
        pairs = chosen.reshape(-1)  # [N*A] expert of each (token, slot)
        order = pairs.argsort(stable=True)
        expert_of = pairs[order]
        ends = torch.searchsorted(expert_of, torch.arange(E, device=flat.device), right=True)
        token_of = order // A
        weight_of = weights.reshape(-1)[order].to(flat.dtype)
        g = group_rows(flat.device, flat.dtype, flat.shape[1], w_gate.shape[1])
        if g > 1:  # pad each group to a multiple of g rows (see `group_rows`)
            pad = -torch.diff(ends, prepend=ends.new_zeros(1)) % g  # padding after each group
            padded_before = pad.cumsum(0)
            slot = torch.arange(len(pairs), device=flat.device) + (padded_before - pad)[expert_of]
            # Padding rows repeat token 0 with weight 0: they add exact zeros to its output.
            # The last group runs to the buffer's end (a multiple of g rows), so no output
            # row is left unwritten (garbage times 0 can be NaN).
            size = -(-(len(pairs) + E * (g - 1)) // g) * g
            ends = ends + padded_before
            ends[-1] = size
            token_of = token_of.new_zeros(size).index_copy_(0, slot, token_of)
            weight_of = weight_of.new_zeros(size).index_copy_(0, slot, weight_of)
        rows = flat[token_of]  # [N*A (+ padding), H], grouped by expert
        offs = ends.to(torch.int32)  # [E] end row of each expert's group
        mm = torch._grouped_mm
        if torch.compiler.is_compiling() and flat.dtype != torch.bfloat16:
            mm = grouped_mm_opaque  # the compiler's own lowering takes bf16 only
        hidden = F.silu(mm(rows, w_gate.transpose(1, 2), offs=offs)) * \
            mm(rows, w_up.transpose(1, 2), offs=offs)
        y = mm(hidden, w_down.transpose(1, 2), offs=offs) * weight_of[:, None]
        return torch.zeros_like(flat).index_add_(0, token_of, y)

    @staticmethod
    def _batched_experts(flat: Tensor, chosen: Tensor, weights: Tensor,
                         stacked: tuple[Tensor, Tensor, Tensor]) -> Tensor:
        """All experts at once: sort (token, expert) pairs by expert into a padded [E, C, H]
        buffer (C = the busiest expert's load), three bmm's, then scatter back weighted."""
        w_gate, w_up, w_down = stacked
        E, A = w_gate.shape[0], chosen.shape[1]
        pairs = chosen.reshape(-1)  # [N*A] expert of each (token, slot)
        order = pairs.argsort(stable=True)
        expert_of = pairs[order]
        counts = torch.bincount(pairs, minlength=E)
        starts = counts.cumsum(0) - counts
        row = torch.arange(len(pairs), device=flat.device) - starts[expert_of]
        token_of = order // A
        # A compiled graph cannot read the busiest load: it pads to N, every expert's bound.
        capacity = len(flat) if torch.compiler.is_compiling() else int(counts.max())
        g = group_rows(flat.device, flat.dtype, flat.shape[1], w_gate.shape[1])
        capacity = -(-capacity // g) * g  # whole multiples of `group_rows`, as grouped GEMMs
        buf = flat.new_zeros(E, capacity, flat.shape[1])  # [E, C, H]
        buf[expert_of, row] = flat[token_of]
        hidden = F.silu(buf @ w_gate.transpose(1, 2)) * (buf @ w_up.transpose(1, 2))
        y = (hidden @ w_down.transpose(1, 2))[expert_of, row]  # [N*A, H]
        y = y * weights.reshape(-1)[order, None].to(flat.dtype)
        return torch.zeros_like(flat).index_add_(0, token_of, y)


_GROUPED_MM: dict[tuple[str, torch.dtype], bool] = {}
_GROUP_ROWS: dict[tuple[str, torch.dtype, int, int], int] = {}


@torch.library.custom_op("noema::grouped_mm", mutates_args=())
def grouped_mm_opaque(a: Tensor, b: Tensor, offs: Tensor) -> Tensor:
    """`torch._grouped_mm` as one opaque call in a compiled graph: the eager kernel (the same
    sums as eager mode), for dtypes the compiler's own lowering of it does not take."""
    return torch._grouped_mm(a, b, offs=offs)


@grouped_mm_opaque.register_fake
def _grouped_mm_shape(a: Tensor, b: Tensor, offs: Tensor) -> Tensor:
    return a.new_empty(a.shape[0], b.shape[-1])


def grouped_mm_works(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether `torch._grouped_mm` runs here (CPU has it for float types; CUDA needs a recent
    GPU and bf16). Tried once per device type and dtype on a tiny problem, in eager mode."""
    key = (device.type, dtype)
    if key not in _GROUPED_MM:
        try:
            a = torch.ones(16, 16, device=device, dtype=dtype)
            b = torch.ones(2, 16, 16, device=device, dtype=dtype)
            offs = torch.tensor([8, 16], device=device, dtype=torch.int32)
            _GROUPED_MM[key] = bool(torch._grouped_mm(a, b, offs=offs)[0, 0] == 16)
        except (RuntimeError, AttributeError, NotImplementedError):
            _GROUPED_MM[key] = False
    return _GROUPED_MM[key]


def group_rows(device: torch.device, dtype: torch.dtype, hidden: int, width: int) -> int:
    """The row multiple each expert's group is padded to, so that a row's products round
    the same whatever the group's size.

    Matrix libraries multiply a few rows with other kernels than many (MKL on two threads:
    any row count under 12 that is not a multiple of 4), and those round differently. An
    expert's group holds a handful of rows at batch 1 and many in a batch, so unpadded groups
    made a prompt's logits depend on the prompts decoded beside it, and a near-tie then flips
    a greedy token. Probed once per device type, dtype and expert shape, eagerly (the
    compiled forward probes before tracing) and at the thread count of that first call: the
    smallest of 1, 2, 4, 8, 16 for which every group of a multiple of it rows matches the
    same rows of a larger group; 1 (no padding) where none does. Quantized experts run one
    by one through bitsandbytes, unpadded."""
    key = (device.type, dtype, hidden, width)
    if key not in _GROUP_ROWS:
        _GROUP_ROWS[key] = _probe_group_rows(device, dtype, hidden, width)
    return _GROUP_ROWS[key]


def _probe_group_rows(device: torch.device, dtype: torch.dtype, hidden: int, width: int,
                      most: int = 96) -> int:
    if not grouped_mm_works(device, dtype):
        return 1
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(most, hidden, generator=gen).to(device, dtype)
    h = torch.randn(most, width, generator=gen).to(device, dtype)
    # Laid out as the experts' stacks are used: [1, out, in] weights, transposed.
    up = torch.randn(1, width, hidden, generator=gen).to(device, dtype).transpose(1, 2)
    down = torch.randn(1, hidden, width, generator=gen).to(device, dtype).transpose(1, 2)

    def product(rows: Tensor, weight: Tensor) -> Tensor:
        offs = torch.tensor([len(rows)], dtype=torch.int32, device=device)
        return torch._grouped_mm(rows, weight, offs=offs)

    whole = product(x, up), product(h, down)
    for g in (1, 2, 4, 8, 16):
        if all(torch.equal(product(x[:m], up), whole[0][:m]) and
               torch.equal(product(h[:m], down), whole[1][:m]) for m in range(g, most, g)):
            return g
    return 1
