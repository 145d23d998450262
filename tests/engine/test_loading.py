"""Loading checkpoints: HF layout round trip, quantization, and one clear error per bad input."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from noema_core.errors import (
    CheckpointError,
    ConfigError,
    DeviceError,
    ModelNotFoundError,
    TokenizerError,
)
from noema_core.loading import load_model, read_state_dict, weight_files
from noema_core.model import block_causal_mask
from noema_core.quantize import count_quantized, should_skip


def copy_of(checkpoint: Path, tmp_path: Path) -> Path:
    target = tmp_path / "ckpt"
    shutil.copytree(checkpoint, target)
    return target


def test_sharded_checkpoint_reloads_with_identical_logits(tiny_checkpoint):
    assert len(list(tiny_checkpoint.glob("model-*-of-*.safetensors"))) >= 3
    loaded = load_model(str(tiny_checkpoint), device="cpu", dtype="float32")
    state = read_state_dict(weight_files(tiny_checkpoint))
    from noema_core.loading import build_model

    original = build_model(loaded.model.config, torch.float32, torch.device("cpu"), state)
    ids = torch.randint(0, 100, (1, 48))
    mask = block_causal_mask(48, 32)
    torch.testing.assert_close(loaded.model(ids, mask=mask), original(ids, mask=mask),
                               rtol=0, atol=0)
    assert loaded.tokenizer.mask_id != loaded.tokenizer.role_end_id
    assert loaded.info.resident_bytes == sum(t.numel() * 4 for t in state.values())


def test_nf4_on_cpu_quantizes_every_linear_outside_the_skip_list_and_decodes(tiny_checkpoint):
    from noema_core.decoding.settings import DecodingSettings
    from noema_core.engine import Engine

    engine = Engine.load(str(tiny_checkpoint), device="cpu", quant="nf4")
    quantized, plain_left = count_quantized(engine.model)
    config = engine.model.config
    expected = config.num_hidden_layers * 2 + 3 + (config.num_hidden_layers - 1) * (
        config.num_experts + 1) * 3
    assert (quantized, plain_left) == (expected, 0)
    assert type(engine.model.lm_head).__name__ == "Linear"  # kept in full precision
    full = load_model(str(tiny_checkpoint), device="cpu", dtype="float32").info.resident_bytes
    assert engine.info.resident_bytes < full
    result = engine.generate([{"role": "user", "content": "1+1"}],
                             DecodingSettings.for_mode("s", gen_length=32))
    assert result.stats.forwards > 0


def test_skip_list_keeps_router_embeddings_head_and_norms_but_not_expert_gate_proj():
    assert should_skip("model.layers.1.mlp.gate")
    assert should_skip("lm_head") and should_skip("model.word_embeddings")
    assert should_skip("model.layers.0.attention.query_layernorm")
    assert not should_skip("model.layers.1.mlp.experts.3.gate_proj")


def test_missing_directory_names_the_path(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_model(str(tmp_path / "nowhere"), device="cpu")


def test_unknown_name_lists_the_bundled_and_random_models():
    with pytest.raises(ModelNotFoundError, match="noema-1-shape"):
        load_model("no-such-model", device="cpu")


def test_hub_id_without_network_says_how_to_pass_a_local_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelNotFoundError, match="pass the local directory with --model"):
        load_model("inclusionAI/LLaDA2.0-mini", device="cpu")


def test_missing_weight_shard_is_named(tiny_checkpoint, tmp_path):
    ckpt = copy_of(tiny_checkpoint, tmp_path)
    next(ckpt.glob("model-00002-*.safetensors")).unlink()
    with pytest.raises(CheckpointError, match="model-00002-of-.*missing"):
        load_model(str(ckpt), device="cpu")


def test_corrupt_weight_file_is_reported_as_corrupt(tiny_checkpoint, tmp_path):
    ckpt = copy_of(tiny_checkpoint, tmp_path)
    shard = next(ckpt.glob("model-00001-*.safetensors"))
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_model(str(ckpt), device="cpu")


def test_pickle_only_checkpoint_is_refused(tiny_checkpoint, tmp_path):
    ckpt = copy_of(tiny_checkpoint, tmp_path)
    for f in ckpt.glob("model*.safetensors*"):
        f.unlink()
    (ckpt / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(CheckpointError, match="never loads pickle"):
        load_model(str(ckpt), device="cpu")


def test_weights_that_do_not_match_the_config_list_missing_and_unexpected_keys(
        tiny_checkpoint, tmp_path):
    ckpt = copy_of(tiny_checkpoint, tmp_path)
    config = json.loads((ckpt / "config.json").read_text())
    config["num_hidden_layers"] = 4  # the weights have 3 layers
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"missing model\.layers\.3\."):
        load_model(str(ckpt), device="cpu")
    config["num_hidden_layers"] = 2
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"unexpected model\.layers\.2\."):
        load_model(str(ckpt), device="cpu")


def test_shape_mismatch_names_the_tensor(tiny_checkpoint, tmp_path):
    ckpt = copy_of(tiny_checkpoint, tmp_path)
    config = json.loads((ckpt / "config.json").read_text())
    config["moe_intermediate_size"] = 48
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="has shape"):
        load_model(str(ckpt), device="cpu")


def test_missing_config_and_foreign_model_type_are_config_errors(tiny_checkpoint, tmp_path):
    ckpt = copy_of(tiny_checkpoint, tmp_path)
    config = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    with pytest.raises(ConfigError, match="model_type='llama'"):
        load_model(str(ckpt), device="cpu")
    (ckpt / "config.json").unlink()
    with pytest.raises(ConfigError, match="needs config.json"):
        load_model(str(ckpt), device="cpu")


def test_tokenizer_without_the_mask_token_is_refused(tiny_checkpoint, tmp_path):
    ckpt = copy_of(tiny_checkpoint, tmp_path)
    data = json.loads((ckpt / "tokenizer.json").read_text())
    data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] != "<|mask|>"]
    del data["model"]["vocab"]["<|mask|>"]
    (ckpt / "tokenizer.json").write_text(json.dumps(data))
    with pytest.raises(TokenizerError, match=r"no <\|mask\|> token"):
        load_model(str(ckpt), device="cpu")


@pytest.mark.parametrize("kwargs, message", [
    ({"dtype": "int4"}, "dtype 'int4' is not supported"),
    ({"device": "tpu"}, "is not"),
    ({"quant": "fp3"}, "--quant fp3 is unknown"),
])
def test_unsupported_dtype_device_or_quantization_is_a_device_error(tiny_checkpoint, kwargs,
                                                                    message):
    with pytest.raises(DeviceError, match=message):
        load_model(str(tiny_checkpoint), **{"device": "cpu", **kwargs})


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_asking_for_a_gpu_without_one_says_to_use_the_cpu(tiny_checkpoint):
    with pytest.raises(DeviceError, match="no CUDA GPU is available here: use --device cpu"):
        load_model(str(tiny_checkpoint), device="cuda")


def test_random_shapes_load_without_files_and_say_so():
    loaded = load_model("tiny-random", device="cpu")
    assert loaded.info.random_weights and loaded.tokenizer is None


@pytest.mark.parametrize("change, message", [
    ({"num_key_value_heads": 0}, "num_key_value_heads=0, expected at least 1"),
    ({"n_group": 0}, "n_group=0, expected at least 1"),
    ({"hidden_size": "64"}, "hidden_size='64', expected a whole number"),
    ({"hidden_size": None}, "hidden_size=None, expected a whole number"),
    ({"num_hidden_layers": 2.5}, "num_hidden_layers=2.5, expected a whole number"),
    ({"use_qk_norm": "yes"}, "use_qk_norm='yes', expected true or false"),
    ({"rms_norm_eps": 0}, "rms_norm_eps=0, expected a positive number"),
    ({"partial_rotary_factor": 2}, "partial_rotary_factor=2, expected a fraction in"),
])
def test_config_values_that_cannot_build_a_model_are_config_errors(tiny_checkpoint, tmp_path,
                                                                   change, message):
    # Before: ZeroDivisionError / TypeError from deep in the model build (exit 1, no fix).
    ckpt = copy_of(tiny_checkpoint, tmp_path)
    config = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        load_model(str(ckpt), device="cpu")
    assert str(err.value).endswith("fix config.json or re-download the checkpoint")


def test_tied_config_with_a_separate_lm_head_is_a_mismatch(tiny_checkpoint, tmp_path):
    ckpt = copy_of(tiny_checkpoint, tmp_path)
    config = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**config, "tie_word_embeddings": True}))
    # Before: loaded, silently dropping the trained lm_head, and decoded gibberish.
    with pytest.raises(CheckpointError, match="lm_head.weight differs from the embeddings"):
        load_model(str(ckpt), device="cpu")


def test_a_file_given_as_the_model_is_named_as_a_file(tiny_checkpoint):
    with pytest.raises(ModelNotFoundError, match=r"config\.json is a file, not a checkpoint "
                                                 r"directory: pass the directory"):
        load_model(str(tiny_checkpoint / "config.json"), device="cpu")


def test_weights_of_a_missing_directory_say_it_does_not_exist(tmp_path):
    # `noema train --init-from` reaches weight_files directly.
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        weight_files(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"no \*\.safetensors weights in .*: copy the "):
        weight_files(tmp_path / "empty")


def test_a_checkpoint_ships_its_own_decoding_presets_in_generation_config(tiny_checkpoint,
                                                                         tmp_path):
    from noema_core.decoding.settings import Mode

    ckpt = copy_of(tiny_checkpoint, tmp_path)
    assert load_model(str(ckpt), device="cpu").info.decoding_presets == {}
    config = {"max_new_tokens": 99, "decoding_presets": {"s": {"threshold": 0.9}}}
    (ckpt / "generation_config.json").write_text(json.dumps(config))
    info = load_model(str(ckpt), device="cpu").info
    assert info.decoding_presets == {Mode.SPEED: {"threshold": 0.9}}


@pytest.mark.parametrize("text, message", [
    ('{"decoding_presets": {"s": {"threshold": 7}}}', "threshold=7.0 is out of range"),
    ("{not json", "is not readable JSON"),
])
def test_a_bad_generation_config_is_a_checkpoint_error(tiny_checkpoint, tmp_path, text, message):
    ckpt = copy_of(tiny_checkpoint, tmp_path)
    (ckpt / "generation_config.json").write_text(text)
    with pytest.raises(CheckpointError, match=message) as caught:
        load_model(str(ckpt), device="cpu")
    assert "generation_config.json" in str(caught.value) and "\n" not in str(caught.value)


def test_engine_generate_decodes_quietly_and_gives_the_streamed_reply(tiny_checkpoint):
    """`generate` (eval, batch jobs) skips the per-forward snapshots `stream` draws from."""
    from noema_core.decoding.events import BlockUpdated, GenerationFinished
    from noema_core.decoding.settings import DecodingSettings
    from noema_core.engine import Engine
    from noema_core.host_syncs import HostSyncCounter

    engine = Engine.load(str(tiny_checkpoint), device="cpu", dtype="float32")
    messages = [{"role": "user", "content": "1+1"}]
    settings = DecodingSettings.for_mode("s", gen_length=32, eos_early_stop=False)
    with HostSyncCounter() as streamed_syncs:
        events = list(engine.stream(messages, settings))
    streamed = events[-1]
    assert isinstance(streamed, GenerationFinished)
    with HostSyncCounter() as quiet_syncs:
        quiet = engine.generate(messages, settings)
    assert quiet.token_ids == streamed.result.token_ids and quiet.text == streamed.result.text
    assert quiet.stats.forwards == streamed.result.stats.forwards
    assert sum(isinstance(e, BlockUpdated) for e in events) == quiet.stats.forwards
    assert quiet_syncs.count < streamed_syncs.count


def test_loading_and_eager_decoding_never_import_the_compiler():
    # torch._dynamo takes about a second to import: a whole second of every `noema ask`
    # when nn.Embedding's own init ran on the meta device. Only --compile may pay it.
    probe = ("import sys\n"
             "from noema_core.engine import Engine\n"
             "engine = Engine.load('noema-tiny')\n"
             "settings = engine.settings_for('s', gen_length=32)\n"
             "list(engine.stream([{'role': 'user', 'content': 'What is 2 + 3?'}], settings))\n"
             "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"
