"""config.json: a missing field means what LLaDA2MoeConfig says; unimplemented math is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from noema_core.config import NoemaConfig, noema_1_shape
from noema_core.errors import ConfigError
from noema_core.loading import load_model

BUNDLED_CONFIG = Path(__file__).parents[2] / "noema_core/models/noema-tiny/config.json"
# LLaDA2MoeConfig's keyword defaults for the fields whose old Noema defaults differed.
REFERENCE_DEFAULTS = {"rms_norm_eps": 1e-5, "rope_theta": 10000.0, "use_bias": True,
                      "num_shared_experts": 0, "first_k_dense_replace": 0}


def write_config(tmp_path: Path, **fields: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(fields))
    return path


def test_fields_missing_from_config_json_take_the_reference_configs_defaults(tmp_path):
    config = NoemaConfig.from_file(write_config(tmp_path, hidden_size=256,
                                                num_attention_heads=8))
    assert {name: getattr(config, name) for name in REFERENCE_DEFAULTS} == REFERENCE_DEFAULTS
    assert config.head_dim == 256 // 8  # derived, as the reference does when it is absent


def test_the_bundled_model_states_every_field_whose_default_changed():
    raw = json.loads(BUNDLED_CONFIG.read_text())
    assert set(REFERENCE_DEFAULTS) | {"head_dim"} <= set(raw)
    assert raw["use_bias"] is False and raw["num_shared_experts"] == 1


def test_noema_1_shape_keeps_llada2_minis_values():
    config = noema_1_shape()
    assert (config.rms_norm_eps, config.rope_theta, config.use_bias, config.num_shared_experts,
            config.first_k_dense_replace, config.head_dim) == (1e-6, 600000.0, False, 1, 1, 128)


@pytest.mark.parametrize("fields", [{"hidden_act": "silu"}, {"hidden_act": "swish"},
                                    {"rope_scaling": None},
                                    {"rope_scaling": {"rope_type": "default"}}])
def test_silu_and_unscaled_rope_are_accepted(tmp_path, fields):
    assert NoemaConfig.from_file(write_config(tmp_path, **fields)).hidden_size == 2048


@pytest.mark.parametrize(("fields", "named"), [
    ({"hidden_act": "gelu"}, "hidden_act='gelu'"),
    ({"rope_scaling": {"type": "linear", "factor": 2.0}}, "rope_scaling={'type': 'linear'"),
    ({"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, "rope_scaling={'rope_type': 'yarn'"),
])
def test_unimplemented_activation_or_rope_scaling_is_refused_in_one_line(tmp_path, fields,
                                                                          named):
    with pytest.raises(ConfigError, match="does not implement") as caught:
        NoemaConfig.from_file(write_config(tmp_path, **fields))
    assert named in str(caught.value) and "\n" not in str(caught.value)
    assert caught.value.exit_code == 3


def test_a_checkpoint_with_rope_scaling_exits_3_from_the_cli(tiny_checkpoint, tmp_path):
    from noema_tui.cli import app

    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**config, "rope_scaling": {"type": "yarn"}}))
    result = CliRunner().invoke(app, ["ask", "--model", str(ckpt), "--json", "1+1"])
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1 and "rope_scaling" in result.stderr
    assert "Traceback" not in result.output


def test_a_checkpoint_saved_before_the_defaults_changed_loads_unchanged(tiny_checkpoint):
    # save_checkpoint writes every field, so the new defaults never reach a saved model.
    loaded = load_model(str(tiny_checkpoint), device="cpu", dtype="float32")
    assert not loaded.model.config.use_bias and loaded.model.config.rms_norm_eps == 1e-6
    assert loaded.model.model.layers[0].attention.dense.bias is None
    assert torch.isfinite(loaded.model(torch.zeros(1, 32, dtype=torch.long))).all()
