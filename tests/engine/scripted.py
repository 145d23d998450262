"""A stand-in model whose logits follow a script, to drive the sampler into exact situations."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from noema_core.config import NoemaConfig


class ScriptedModel(nn.Module):
    """Logits from `script(call_index, input_ids) -> [T, V]` (one row per input position,
    absolute positions when run uncached), cut to the requested slice."""

    def __init__(self, script: Callable[[int, torch.Tensor], torch.Tensor], vocab: int = 16):
        super().__init__()
        self.config = NoemaConfig(vocab_size=vocab, hidden_size=8, num_hidden_layers=1,
                                  num_attention_heads=1, num_key_value_heads=1, head_dim=8,
                                  num_experts=0, max_position_embeddings=512)
        self.model = nn.Module()
        self.model.word_embeddings = nn.Embedding(vocab, 8)
        self.script = script
        self.calls = 0

    def forward(self, input_ids, *, start=0, mask=None, cache=None, logits_slice=None):
        logits = self.script(self.calls, input_ids[0])
        self.calls += 1
        return logits[None] if logits_slice is None else logits[None, logits_slice]


def peaked(tokens: list[int], confidence: list[float], vocab: int = 16) -> torch.Tensor:
    """Logits [T, V] whose softmax puts `confidence[i]` on `tokens[i]` (rest spread evenly)."""
    rows = []
    for tok, p in zip(tokens, confidence, strict=True):
        probs = torch.full((vocab,), (1 - p) / (vocab - 1), dtype=torch.float64)
        probs[tok] = p
        rows.append(probs.log())
    return torch.stack(rows)
