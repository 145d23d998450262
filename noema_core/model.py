"""The LLaDA2-MoE transformer (Noema-1's architecture), in one file, driven by `NoemaConfig`.

Shape letters: B batch, T tokens in this forward, S tokens attended (cached prefix + T),
H hidden size, Q query heads, K key/value heads, D head dim, E experts, A active experts per
token, N = B*T flattened tokens, V vocabulary.

The model maps tokens at absolute positions to logits and, when given a `KVCache`, writes the
K/V of its input at the cache's end as scratch. It never decides what is permanent: the
sampler commits a block (advances the cache) once that block's tokens are final.
Batched decoding addresses the cache by position instead: each row of the batch writes its
K/V at its own absolute positions and attends under `positional_block_mask`, so rows at
different blocks share one forward (see `NoemaModel.forward`).
Module names follow the checkpoint's weight names, so loading is a lookup.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from noema_core.config import NoemaConfig


class KVCache:
    """Preallocated K/V for every layer. Positions [0, length) hold committed, final blocks."""

    def __init__(self, config: NoemaConfig, capacity: int, *, batch: int = 1,
                 dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> None:
        shape = (config.num_hidden_layers, batch, config.num_key_value_heads, capacity,
                 config.head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.tokens: list[int] = []  # the committed token ids, to reuse blocks across turns

    @property
    def length(self) -> int:
        return len(self.tokens)

    @property
    def capacity(self) -> int:
        return self.k.shape[3]

    def commit(self, token_ids: list[int]) -> None:
        """Declare the scratch K/V just written for `token_ids` (at the cache end) final."""
        if self.length + len(token_ids) > self.capacity:
            raise ValueError("KV cache overflow: commit beyond capacity")
        self.tokens.extend(token_ids)

    def truncate(self, length: int) -> None:
        del self.tokens[length:]

    def select_rows(self, rows: Tensor, *, upto: int | None = None) -> KVCache:
        """A new cache holding rows `rows` (a long tensor) of this one, positions [0, upto)
        (default: all). A copy: writes to it do not reach this cache. Position-addressed
        callers use it to drop finished rows and to run a forward on a few rows only."""
        picked = KVCache.__new__(KVCache)
        picked.k = self.k[:, :, :, :upto].index_select(1, rows)
        picked.v = self.v[:, :, :, :upto].index_select(1, rows)
        picked.tokens = []
        return picked

    def nbytes(self) -> int:
        return self.k.nbytes + self.v.nbytes


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        # Normalise in fp32 whatever the model dtype: bf16 variance loses too much precision.
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return (x32 * self.weight.float()).to(x.dtype)


def rope_angles(positions: Tensor, rotary_dim: int, theta: float) -> tuple[Tensor, Tensor]:
    """cos/sin for absolute positions, in fp32 (rotate-half layout): [T, rotary_dim] for
    positions [T], [B, 1, T, rotary_dim] for per-row positions [B, T] (broadcast over heads)."""
    inv_freq = 1.0 / theta ** (
        torch.arange(0, rotary_dim, 2, device=positions.device, dtype=torch.float32) / rotary_dim
    )
    freqs = positions.float()[..., None] * inv_freq  # [(B,) T, rotary_dim/2]
    angles = torch.cat([freqs, freqs], dim=-1)  # [(B,) T, rotary_dim]
    if angles.dim() == 3:
        angles = angles[:, None]
    return angles.cos(), angles.sin()


def apply_partial_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate the first rotary_dim dims of each head of x [B, heads, T, D]; pass the rest."""
    r = cos.shape[-1]
    rot, rest = x[..., :r].float(), x[..., r:]
    half = r // 2
    rotated_half = torch.cat([-rot[..., half:], rot[..., :half]], dim=-1)
    rot = rot * cos + rotated_half * sin
    return torch.cat([rot.to(x.dtype), rest], dim=-1)


# One layer's view of the cache: (k, v, where, attend). `where` is the int start of the
# cache-end path, or the positions [B, T] of the position-addressed one; `attend` (that path
# only) is how many cache columns attention covers (None: all).
LayerCache = tuple[Tensor, Tensor, int | Tensor, int | None]


class Attention(nn.Module):
    def __init__(self, config: NoemaConfig) -> None:
        super().__init__()
        self.n_q, self.n_kv, self.d = (config.num_attention_heads, config.num_key_value_heads,
                                       config.head_dim)
        self.query_key_value = nn.Linear(config.hidden_size, (self.n_q + 2 * self.n_kv) * self.d,
                                         bias=config.use_qkv_bias)
        self.dense = nn.Linear(self.n_q * self.d, config.hidden_size, bias=config.use_bias)
        self.use_qk_norm = config.use_qk_norm
        if config.use_qk_norm:
            self.query_layernorm = RMSNorm(self.d, config.rms_norm_eps)
            self.key_layernorm = RMSNorm(self.d, config.rms_norm_eps)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor | None,
                cache: LayerCache | None) -> Tensor:
        B, T, _ = x.shape
        qkv = self.query_key_value(x).view(B, T, self.n_q + 2 * self.n_kv, self.d)
        q, k, v = qkv.split([self.n_q, self.n_kv, self.n_kv], dim=2)  # rows: Q heads, K, V
        if self.use_qk_norm:
            q, k = self.query_layernorm(q), self.key_layernorm(k)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, heads, T, D]
        q, k = apply_partial_rope(q, cos, sin), apply_partial_rope(k, cos, sin)
        if cache is not None and isinstance(cache[2], Tensor):
            # Position-addressed: each row writes at its own positions [B, T] (an index
            # write, so no Python length is read) and attends the first `attend` columns.
            k_cache, v_cache, positions, attend = cache
            # An index_put (not a scatter_): a compiled graph then writes the cache in place
            # instead of copying it whole.
            rows = torch.arange(B, device=positions.device)[:, None]
            k_cache[rows, :, positions] = k.transpose(1, 2)
            v_cache[rows, :, positions] = v.transpose(1, 2)
            k, v = k_cache[:, :, :attend], v_cache[:, :, :attend]  # [B, K, S, D]
        elif cache is not None:
            # Write this forward's K/V as scratch at the cache end; attend to prefix + self.
            k_cache, v_cache, start, _ = cache
            k_cache[:, :, start:start + T] = k
            v_cache[:, :, start:start + T] = v
            k, v = k_cache[:, :, :start + T], v_cache[:, :, :start + T]  # [B, K, S, D]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
        return self.dense(out.transpose(1, 2).reshape(B, T, self.n_q * self.d))


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
        ends = torch.searchsorted(pairs[order], torch.arange(E, device=flat.device), right=True)
        offs = ends.to(torch.int32)  # [E] end row of each expert's group
        token_of = order // A
        rows = flat[token_of]  # [N*A, H]
        mm = torch._grouped_mm
        if torch.compiler.is_compiling() and flat.dtype != torch.bfloat16:
            mm = grouped_mm_opaque  # the compiler's own lowering takes bf16 only
        hidden = F.silu(mm(rows, w_gate.transpose(1, 2), offs=offs)) * \
            mm(rows, w_up.transpose(1, 2), offs=offs)
        y = mm(hidden, w_down.transpose(1, 2), offs=offs)
        y = y * weights.reshape(-1)[order, None].to(flat.dtype)
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
        buf = flat.new_zeros(E, capacity, flat.shape[1])  # [E, C, H]
        buf[expert_of, row] = flat[token_of]
        hidden = F.silu(buf @ w_gate.transpose(1, 2)) * (buf @ w_up.transpose(1, 2))
        y = (hidden @ w_down.transpose(1, 2))[expert_of, row]  # [N*A, H]
        y = y * weights.reshape(-1)[order, None].to(flat.dtype)
        return torch.zeros_like(flat).index_add_(0, token_of, y)


_GROUPED_MM: dict[tuple[str, torch.dtype], bool] = {}


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


class DecoderLayer(nn.Module):
    def __init__(self, config: NoemaConfig, index: int) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.attention = Attention(config)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        dense = index < config.first_k_dense_replace or config.num_experts == 0
        self.mlp = MLP(config.hidden_size, config.intermediate_size) if dense else MoE(config)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor | None,
                cache: LayerCache | None) -> Tensor:
        h = x + self.attention(self.input_layernorm(x), cos, sin, mask, cache)
        return h + self.mlp(self.post_attention_layernorm(h))


class Backbone(nn.Module):
    """The `model.` prefix of the checkpoint: embeddings, layers, final norm."""

    def __init__(self, config: NoemaConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(config, i)
                                    for i in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)


class NoemaModel(nn.Module):
    def __init__(self, config: NoemaConfig) -> None:
        super().__init__()
        self.config = config
        self.model = Backbone(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.word_embeddings.weight

    def forward(self, input_ids: Tensor, *, start: int = 0, mask: Tensor | None = None,
                cache: KVCache | None = None, logits_slice: slice | None = None,
                positions: Tensor | None = None, attend: int | None = None) -> Tensor | None:
        """input_ids [B, T] at absolute positions start..start+T-1 -> logits [B, T', V].

        With a cache, `start` must equal `cache.length`: K/V of the input are written there as
        scratch and attention covers the cached prefix plus the input. `mask` (bool, True = may
        attend) is [B|1, 1, T, S]; None means full attention over everything visible. A float
        mask of the model's dtype is added to the scores instead (`card_attention_bias`).
        `logits_slice` picks the positions (of the input) to project; slice(0, 0) skips the head.
        `positions` overrides the absolute positions: [T] for every row, or [B, T] per row.
        Without a cache, training runs a noisy and a clean copy of the same canvas side by side,
        both at positions 0..L-1. With a cache, `positions` selects the position-addressed
        path: row b's K/V are written into cache row b at its positions, attention covers
        cache columns [0, attend) (None: the whole capacity) under `mask` (build it with
        `positional_block_mask`), and `start`/`cache.length` play no part: the caller
        tracks what each row has committed.
        """
        B, T = input_ids.shape
        positional = cache is not None and positions is not None
        if cache is not None and not positional and start != cache.length:
            raise ValueError(f"forward at {start} but the cache holds {cache.length} tokens")
        if positions is None:
            positions = torch.arange(start, start + T, device=input_ids.device)
        cos, sin = rope_angles(positions, self.config.rotary_dim, self.config.rope_theta)
        where: int | Tensor = start
        if positional:
            where = positions if positions.dim() == 2 else positions.expand(B, T)
            attend = cache.capacity if attend is None else attend
        x = self.model.word_embeddings(input_ids)
        for i, layer in enumerate(self.model.layers):
            layer_cache = (cache.k[i], cache.v[i], where, attend) if cache is not None else None
            x = layer(x, cos, sin, mask, layer_cache)
        if logits_slice is not None:
            x = x[:, logits_slice]
            if x.shape[1] == 0:
                return None
        return self.lm_head(self.model.norm(x))

    def stack_experts(self) -> NoemaModel:
        """Batch each MoE layer's experts for inference (see `MoE.stack_experts`)."""
        for layer in self.model.layers:
            if isinstance(layer.mlp, MoE):
                layer.mlp.stack_experts()
        return self

    def num_parameters(self) -> int:
        return sum(p.numel() for p in {id(p): p for p in self.parameters()}.values())


def block_causal_mask(length: int, block_length: int, *, start: int = 0,
                      query_start: int | None = None,
                      device: torch.device | str = "cpu") -> Tensor:
    """Bool mask [1, 1, Tq, S]: query i may attend key j iff block(j) <= block(i).

    Keys cover absolute positions [start, length); queries cover [query_start, length)
    (default: the same as keys). Blocks are counted from absolute position 0.
    """
    query_start = start if query_start is None else query_start
    q_block = torch.arange(query_start, length, device=device) // block_length
    k_block = torch.arange(start, length, device=device) // block_length
    return (k_block[None, :] <= q_block[:, None])[None, None]


def positional_block_mask(positions: Tensor, attend: int, block_length: int) -> Tensor:
    """Bool mask [B, 1, T, S=attend] for queries at absolute positions [B, T] over cache
    columns [0, attend): key j is visible to the query at p iff block(j) <= block(p). Built on
    the device from tensors (no host read); keys past a row's current block are masked
    whatever the cache holds there."""
    key_block = torch.arange(attend, device=positions.device) // block_length
    query_block = positions // block_length  # [B, T]
    return (key_block[None, None, :] <= query_block[:, :, None])[:, None]


def card_attention_bias(length: int, block_length: int, *, dtype: torch.dtype,
                        device: torch.device | str = "cpu") -> Tensor:
    """The mask the Noema-1/LLaDA2.1 card's generate() passes, for bit-for-bit compatibility:
    the block-causal 0/1 matrix cast to `dtype` (no log), [1, 1, length, length].

    Attention adds a float mask to the scores, so this is +1 on block-causal pairs and 0
    elsewhere: every position attends to every other, earlier blocks to later ones too, and
    no K/V can be cached. `block_causal_mask` is the pattern the model was trained with.
    """
    return block_causal_mask(length, block_length, device=device).to(dtype)


def init_weights(model: NoemaModel, std: float = 0.02, seed: int | None = 0) -> None:
    """Small normal init (for random-weight benchmarks, tests and training from scratch)."""
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    for name, p in model.named_parameters():
        if name.endswith("layernorm.weight") or name.endswith("norm.weight"):
            nn.init.ones_(p)
        elif p.dim() >= 2:
            with torch.no_grad():
                fan_scale = std / math.sqrt(2 * model.config.num_hidden_layers) \
                    if name.endswith(("dense.weight", "down_proj.weight")) else std
                p.copy_(torch.randn(p.shape, generator=gen) * fan_scale)
        else:
            nn.init.zeros_(p)
    # Buffers are not parameters: after `to_empty` the routers' expert_bias holds whatever was
    # in memory, which would make random-weight routing differ from run to run.
    for module in model.modules():
        if isinstance(module, Router):
            module.expert_bias.zero_()
