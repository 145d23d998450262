"""The transformer: shape, block causality, router, dtypes."""

from __future__ import annotations

import pytest
import torch

from noema_core.config import NoemaConfig, noema_1_shape
from noema_core.errors import ConfigError
from noema_core.host_syncs import HostSyncCounter
from noema_core.model import NoemaModel, block_causal_mask
from noema_core.moe import Router, grouped_mm_works

from .conftest import tiny_model


def test_noema_1_shape_has_the_cards_2_86b_parameters():
    with torch.device("meta"):
        model = NoemaModel(noema_1_shape())
    assert model.num_parameters() == pytest.approx(2.8587e9, rel=1e-3)


def test_state_dict_names_follow_the_llada2_checkpoint_layout():
    keys = set(tiny_model().state_dict())
    for key in [
        "model.word_embeddings.weight",
        "model.layers.0.attention.query_key_value.weight",
        "model.layers.0.attention.query_layernorm.weight",
        "model.layers.0.attention.key_layernorm.weight",
        "model.layers.0.attention.dense.weight",
        "model.layers.0.mlp.gate_proj.weight",
        "model.layers.1.mlp.gate.weight",
        "model.layers.1.mlp.gate.expert_bias",
        "model.layers.1.mlp.experts.7.down_proj.weight",
        "model.layers.1.mlp.shared_experts.up_proj.weight",
        "model.norm.weight",
        "lm_head.weight",
    ]:
        assert key in keys, key


def test_changing_a_later_block_never_changes_earlier_logits():
    model = tiny_model()
    ids = torch.randint(0, 120, (1, 96), generator=torch.Generator().manual_seed(0))
    mask = block_causal_mask(96, 32)
    before = model(ids, mask=mask)
    changed = ids.clone()
    changed[0, 70:] = (changed[0, 70:] + 1) % 120  # tokens of the third block only
    after = model(changed, mask=mask)
    torch.testing.assert_close(before[:, :64], after[:, :64], rtol=0, atol=0)
    assert not torch.equal(before[:, 64:], after[:, 64:])


def test_block_causal_mask_is_bidirectional_inside_a_block_and_causal_across():
    mask = block_causal_mask(8, 4)[0, 0]
    assert mask.dtype == torch.bool
    assert mask[0, 3] and mask[3, 0]  # same block, both ways
    assert mask[5, 2] and not mask[2, 5]  # later block sees earlier, not the reverse


def test_logits_are_computed_only_for_requested_positions():
    model = tiny_model()
    ids = torch.randint(0, 120, (1, 64))
    full = model(ids, mask=block_causal_mask(64, 32))
    part = model(ids, mask=block_causal_mask(64, 32), logits_slice=slice(32, 64))
    assert part.shape == (1, 32, 128)
    torch.testing.assert_close(part, full[:, 32:])
    assert model(ids, logits_slice=slice(0, 0)) is None


def _brute_force_route(router: Router, x: torch.Tensor) -> list[set[int]]:
    """Enumerate every allowed group set and pick experts literally as the spec describes."""
    import itertools

    scores = torch.sigmoid(x.double() @ router.weight.double().t())
    biased = scores + router.expert_bias.double()
    E = biased.shape[1]
    per_group = E // router.n_group
    chosen = []
    for row in biased:
        group_scores = [sorted(row[g * per_group:(g + 1) * per_group].tolist())[-2:]
                        for g in range(router.n_group)]
        sums = [sum(s) for s in group_scores]
        best_groups = max(itertools.combinations(range(router.n_group), router.topk_group),
                          key=lambda gs: sum(sums[g] for g in gs))
        allowed = [e for e in range(E) if e // per_group in best_groups]
        allowed.sort(key=lambda e: row[e].item(), reverse=True)
        chosen.append(set(allowed[:router.top_k]))
    return chosen


def test_router_selection_matches_a_brute_force_reference():
    config = NoemaConfig(hidden_size=16, num_experts=16, num_experts_per_tok=3, n_group=4,
                         topk_group=2, vocab_size=32, num_hidden_layers=2, head_dim=8,
                         num_attention_heads=2, num_key_value_heads=1)
    router = Router(config).double()
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        router.weight.copy_(torch.randn(router.weight.shape, generator=gen))
        router.expert_bias.copy_(torch.randn(16, generator=gen) * 0.3)
    x = torch.randn(200, 16, generator=gen, dtype=torch.float64)
    chosen, weights = router(x)
    assert [set(row) for row in chosen.tolist()] == _brute_force_route(router, x)
    # Weights: the chosen experts' unbiased sigmoid scores, renormalised, times the scaling.
    torch.testing.assert_close(weights.sum(-1), torch.full((200,), 2.5, dtype=torch.float32))


def test_one_active_expert_keeps_its_raw_score_times_the_scaling_as_the_reference_does():
    config = NoemaConfig(hidden_size=16, num_experts=8, num_experts_per_tok=1, n_group=4,
                         topk_group=2, vocab_size=32, num_hidden_layers=2, head_dim=8,
                         num_attention_heads=2, num_key_value_heads=1, routed_scaling_factor=2.5)
    router = Router(config).double()
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        router.weight.copy_(torch.randn(router.weight.shape, generator=gen))
    x = torch.randn(50, 16, generator=gen, dtype=torch.float64)
    chosen, weights = router(x)
    scores = torch.sigmoid(x.float() @ router.weight.float().t())
    # Not renormalised (that would make every weight exactly 2.5): score x scaling.
    torch.testing.assert_close(weights[:, 0], scores.gather(1, chosen)[:, 0] * 2.5)
    assert weights.max() < 2.5


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_model_runs_in_each_floating_dtype(dtype):
    model = tiny_model(dtype=dtype)
    ids = torch.randint(0, 120, (2, 40))
    logits = model(ids, mask=block_causal_mask(40, 32))
    assert logits.dtype == dtype
    assert torch.isfinite(logits.float()).all()


def test_inconsistent_config_is_rejected_with_the_reason():
    with pytest.raises(ConfigError, match="multiple of num_key_value_heads"):
        NoemaConfig(num_attention_heads=6, num_key_value_heads=4)


def test_batched_experts_match_the_per_expert_loop_used_for_quantized_experts():
    moe = tiny_model(seed=4).model.layers[1].mlp
    flat = torch.randn(70, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    chosen, weights = moe.gate(flat)
    looped = moe._looped_experts(flat, chosen, weights)
    batched = moe._batched_experts(flat, chosen, weights, moe._expert_stacks())
    torch.testing.assert_close(batched, looped, rtol=1e-10, atol=1e-10)


def test_grouped_gemm_experts_match_the_per_expert_loop():
    moe = tiny_model(seed=4, dtype=torch.float32).model.layers[1].mlp
    flat = torch.randn(70, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        chosen, weights = moe.gate(flat)
        looped = moe._looped_experts(flat, chosen, weights)
        grouped = moe._grouped_experts(flat, chosen, weights, moe._expert_stacks())
    torch.testing.assert_close(grouped, looped, rtol=1e-5, atol=1e-6)


def test_an_inference_forward_reads_nothing_back_to_the_host():
    model = tiny_model(seed=4, dtype=torch.float32).stack_experts()
    ids = torch.randint(0, 120, (1, 32))
    assert grouped_mm_works(ids.device, torch.float32)
    with torch.inference_mode(), HostSyncCounter() as syncs:
        model(ids)
    assert syncs.by_op == {}


def test_stacking_experts_for_inference_shares_their_memory_and_keeps_the_logits():
    model = tiny_model(seed=4)
    ids = torch.randint(0, 120, (1, 70))
    mask = block_causal_mask(70, 32)
    with torch.no_grad():
        before = model(ids, mask=mask)
        model.stack_experts()
        after = model(ids, mask=mask)
    torch.testing.assert_close(after, before, rtol=1e-10, atol=1e-10)
    assert len({id(p) for p in model.parameters()}) == len(list(model.parameters()))
    moe = model.model.layers[1].mlp
    assert moe.experts[3].up_proj.weight.data_ptr() == moe._stacked[1][3].data_ptr()


def test_training_gradients_reach_every_routed_expert():
    model = tiny_model(seed=5).train().requires_grad_(True)
    ids = torch.randint(0, 120, (4, 64), generator=torch.Generator().manual_seed(1))
    model(ids, mask=block_causal_mask(64, 32)).logsumexp(-1).mean().backward()
    moe = model.model.layers[1].mlp
    assert all(expert.down_proj.weight.grad is not None and
               expert.down_proj.weight.grad.abs().sum() > 0 for expert in moe.experts)


def test_random_weights_are_the_same_for_the_same_seed_router_biases_included():
    first, again = tiny_model(seed=5), tiny_model(seed=5)
    for (name, p), q in zip(first.state_dict().items(), again.state_dict().values(),
                            strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0, msg=name)
    assert not first.model.layers[1].mlp.gate.expert_bias.any()
