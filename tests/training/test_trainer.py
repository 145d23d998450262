"""`noema train`: runs on a CPU, checkpoints in safetensors, resumes, exports a loadable model."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from typer.testing import CliRunner

from noema_core.errors import SettingsError
from noema_core.training.trainer import SHAPES, TrainConfig, Trainer, resolve_precision
from noema_tui.cli import app


def micro_config(out, steps: int, precision: str = "float32") -> TrainConfig:
    return TrainConfig(out_dir=str(out), device="cpu", precision=precision, batch_size=4,
                       workers=0, max_steps=steps, warmup_steps=1, log_every=1,
                       eval_problems=0, model=SHAPES["micro"])


def prepared(out, recipe_tokenizer, steps: int, precision: str = "float32") -> Trainer:
    if not (out / "tokenizer").exists():
        shutil.copytree(recipe_tokenizer, out / "tokenizer")
    trainer = Trainer(micro_config(out, steps, precision))
    trainer.prepare()
    return trainer


def test_training_checkpoints_and_resumes_where_it_stopped(tmp_path, recipe_tokenizer):
    first = prepared(tmp_path, recipe_tokenizer, steps=3)
    assert first.train()["step"] == 3
    state = json.loads((tmp_path / "checkpoint" / "state.json").read_text())
    assert state["step"] == 3 and len(state["history"]) == 3
    assert not list(tmp_path.rglob("*.pt")) and not list(tmp_path.rglob("*.bin"))  # no pickle

    again = prepared(tmp_path, recipe_tokenizer, steps=5)
    assert again.step == 3
    for (name, p), q in zip(first.model.state_dict().items(), again.model.state_dict().values(),
                            strict=True):
        torch.testing.assert_close(p, q, msg=name)
    assert again.optimizer.state  # Adam moments came back too
    assert again.train()["step"] == 5


def test_the_exported_model_loads_by_directory_and_decodes(tmp_path, recipe_tokenizer):
    from noema_core.decoding.settings import DecodingSettings
    from noema_core.engine import Engine

    prepared(tmp_path, recipe_tokenizer, steps=2).train()
    engine = Engine.load(str(tmp_path / "model"), device="cpu")
    assert engine.info.max_turns_trained == 9  # the curriculum's conversations: 1 + 8 earlier
    result = engine.generate([{"role": "user", "content": "Solve 3x + 5 = 20"}],
                             DecodingSettings.for_mode("s", gen_length=32))
    assert result.stats.forwards >= 1


def test_continuing_from_a_model_keeps_its_weights_and_its_tokenizer(tmp_path, recipe_tokenizer):
    first = prepared(tmp_path / "first", recipe_tokenizer, steps=2)
    first.train()
    config = micro_config(tmp_path / "second", steps=1)
    config.seed, config.init_from = 1, str(tmp_path / "first" / "model")
    second = Trainer(config)
    second.prepare()  # no tokenizer in the new run: it must not train one with seed 1
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (second.tokenizer_dir / name).read_bytes() == (recipe_tokenizer / name).read_bytes()
    exported = first.model.state_dict()
    for name, value in second.model.state_dict().items():
        torch.testing.assert_close(value, exported[name].to(value.dtype), atol=1e-3, rtol=1e-3,
                                   msg=name)  # the export is float16


def test_continuing_from_a_directory_without_a_tokenizer_is_a_load_error(tmp_path,
                                                                       recipe_tokenizer):
    first = prepared(tmp_path / "first", recipe_tokenizer, steps=1)
    first.train()
    (tmp_path / "first" / "model" / "tokenizer.json").unlink()
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "second"), "--shape",
                                      "micro", "--device", "cpu", "--init-from",
                                      str(tmp_path / "first" / "model")])
    assert result.exit_code == 3 and "has no tokenizer.json" in result.output


def test_ctrl_c_saves_a_checkpoint_and_the_model_before_stopping(tmp_path, recipe_tokenizer):
    trainer = prepared(tmp_path, recipe_tokenizer, steps=50)

    def interrupt(progress):
        if progress.step == 2:
            raise KeyboardInterrupt

    trainer.progress = interrupt
    with pytest.raises(KeyboardInterrupt):
        trainer.train()
    assert json.loads((tmp_path / "checkpoint" / "state.json").read_text())["step"] == 2
    assert (tmp_path / "model" / "config.json").is_file()


def test_expert_bias_moves_towards_the_experts_that_got_fewer_tokens(tmp_path, recipe_tokenizer):
    trainer = prepared(tmp_path, recipe_tokenizer, steps=1)
    router, load = next(iter(trainer._balance_loads.items()))
    load.copy_(torch.tensor([10.0, 0.0, 5.0, 5.0]))
    before = router.expert_bias.clone()
    trainer._balance_experts()
    change = (router.expert_bias - before).tolist()
    assert change[0] < 0 < change[1] and change[2] == change[3] == 0
    assert load.sum() == 0  # counts restart for the next step


def test_evaluation_decodes_held_out_problems_and_reports_accuracy(tmp_path, recipe_tokenizer):
    trainer = prepared(tmp_path, recipe_tokenizer, steps=1)
    trainer.config.eval_problems, trainer.config.eval_gen_length = 9, 32
    report = trainer.evaluate()
    assert report["problems"] == 9 and 0.0 <= report["accuracy"] <= 1.0
    assert report["tokens_per_forward"] > 0
    assert trainer.model.training  # back to training mode afterwards


def test_unknown_shape_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path), "--shape", "huge"])
    assert result.exit_code == 2 and "choose tiny or micro" in result.output


def test_bf16_autocast_trains_on_a_cpu_while_the_weights_stay_fp32(tmp_path, recipe_tokenizer):
    trainer = prepared(tmp_path, recipe_tokenizer, steps=2, precision="bfloat16")
    before = trainer.model.lm_head.weight.detach().clone()
    summary = trainer.train()
    assert summary["precision"] == "bfloat16" and summary["device"] == "cpu"
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    assert not torch.equal(before, trainer.model.lm_head.weight)
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in trainer.history)


def test_auto_precision_uses_bf16_only_where_the_hardware_computes_it(monkeypatch):
    from noema_core.training import trainer as trainer_module

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    monkeypatch.setattr(trainer_module, "cpu_has_native_bf16", lambda: False)
    assert resolve_precision(cpu) == torch.float32
    assert resolve_precision(cuda) == torch.bfloat16
    assert resolve_precision(cpu, "bfloat16") == torch.bfloat16  # asked for explicitly
    monkeypatch.setattr(trainer_module, "cpu_has_native_bf16", lambda: True)
    assert resolve_precision(cpu) == torch.bfloat16
    assert resolve_precision(cuda, "float32") == torch.float32


def test_unknown_precision_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path), "--precision", "fp8"])
    assert result.exit_code == 2 and "fp8" in result.output
    with pytest.raises(SettingsError, match="choose one of auto, bfloat16, float32"):
        resolve_precision(torch.device("cpu"), "fp8")


def test_a_continued_model_keeps_the_decoding_settings_it_started_from(tmp_path, recipe_tokenizer):
    first = prepared(tmp_path / "first", recipe_tokenizer, steps=1)
    first.train()
    start = tmp_path / "first" / "model"
    (start / "generation_config.json").write_text(json.dumps(
        {"decoding_presets": {"s": {"threshold": 0.9}}, "max_turns_trained": 2,
         "history_exchanges": 0}))
    config = micro_config(tmp_path / "second", steps=1)
    config.init_from = str(start)
    second = Trainer(config)
    second.prepare()
    second.train()
    written = json.loads((tmp_path / "second" / "model" / "generation_config.json").read_text())
    assert written == {"decoding_presets": {"s": {"threshold": 0.9}}, "history_exchanges": 0,
                       "max_turns_trained": 9}
