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
The feed-forward (dense MLP, router, routed and shared experts) lives in `noema_core.moe`.
Module names follow the checkpoint's weight names, so loading is a lookup.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from noema_core.config import NoemaConfig
from noema_core.moe import MLP, MoE, Router


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

    def move_rows(self, sources: list[int], targets: list[int]) -> None:
        """Copy each row of `sources` onto the row of `targets` at the same index, in place
        (every layer and position; the two lists must not share rows). Batched decoding
        fills a finished row's slot with a row from the end: one row is copied, not the
        whole cache without the finished row."""
        for source, target in zip(sources, targets, strict=True):
            self.k[:, target].copy_(self.k[:, source])
            self.v[:, target].copy_(self.v[:, source])

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


# One layer's view of the cache: (k, v, where, attend, extra). `where` is the int start of
# the cache-end path, or the positions [B, T] of the position-addressed one; `attend` (that
# path only) is how many cache columns attention covers (None: all); `extra` (that path
# only) holds the cache rows of the input rows past the cache's batch (None: there are none).
LayerCache = tuple[Tensor, Tensor, int | Tensor, int | None, Tensor | None]


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
            k_cache, v_cache, positions, attend, extra = cache
            # An index_put (not a scatter_): a compiled graph then writes the cache in place
            # instead of copying it whole.
            own = B if extra is None else B - extra.shape[0]  # input row b is cache row b
            rows = torch.arange(own, device=positions.device)
            if extra is not None:
                rows = torch.cat([rows, extra])
            k_cache[rows[:, None], :, positions] = k.transpose(1, 2)
            v_cache[rows[:, None], :, positions] = v.transpose(1, 2)
            k_all, v_all = k_cache[:, :, :attend], v_cache[:, :, :attend]  # views: no copy
            # The own rows are the cache's first `own` rows.
            k, v = k_all[:own], v_all[:own]  # [own, K, S, D]
            if extra is not None:
                # The extra rows read their cache rows as they stand after every row's
                # write (so a block sees the blocks written beside it), gathered for them
                # alone: the own rows attend in place.
                split = mask is not None and mask.shape[0] > 1
                out = torch.cat([
                    F.scaled_dot_product_attention(
                        q[:own], k, v, attn_mask=mask[:own] if split else mask,
                        enable_gqa=True),
                    F.scaled_dot_product_attention(
                        q[own:], k_all.index_select(0, extra), v_all.index_select(0, extra),
                        attn_mask=mask[own:] if split else mask, enable_gqa=True)])
                return self._project(out)
        elif cache is not None:
            # Write this forward's K/V as scratch at the cache end; attend to prefix + self.
            k_cache, v_cache, start, _, _ = cache
            k_cache[:, :, start:start + T] = k
            v_cache[:, :, start:start + T] = v
            k, v = k_cache[:, :, :start + T], v_cache[:, :, :start + T]  # [B, K, S, D]
        return self._project(F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                                            enable_gqa=True))

    def _project(self, out: Tensor) -> Tensor:
        """Heads [B, H, T, D] back to the hidden size."""
        B, _, T, _ = out.shape
        return self.dense(out.transpose(1, 2).reshape(B, T, self.n_q * self.d))


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
        # Built around an uninitialised tensor: weights are always loaded or set by
        # `init_weights`, and nn.Embedding's own normal_() init on the meta device (where
        # `build_model` constructs) imports torch._dynamo, a second of every `noema` start.
        self.word_embeddings = nn.Embedding.from_pretrained(
            torch.empty(config.vocab_size, config.hidden_size), freeze=False)
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
                positions: Tensor | None = None, attend: int | None = None,
                extra_rows: Tensor | None = None) -> Tensor | None:
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
        tracks what each row has committed. There `extra_rows` [E] (long) makes the last E
        input rows extras: each fills cache row `extra_rows[e]` at its own positions in the
        same forward as that row's own input row (a prompt's blocks beside the row's first
        decoding block), and gets no logits.
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
            layer_cache = ((cache.k[i], cache.v[i], where, attend, extra_rows)
                           if cache is not None else None)
            x = layer(x, cos, sin, mask, layer_cache)
        if extra_rows is not None:
            x = x[:B - extra_rows.shape[0]]
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
