"""`noema train` against damaged runs, bad --init-from models and failing saves: one line
naming the file, exit 1, 2 or 3, and the last good checkpoint never lost."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.faults.conftest import TRAIN, cli, mkfifo, one_line_error

pytestmark = pytest.mark.usefixtures("deadline")


@pytest.fixture
def run(trained_run: Path, ws) -> Path:
    out = ws.root / "run"
    shutil.copytree(trained_run, out)
    return out


def resume(run: Path, steps: int = 2):
    return cli("train", "--out", run, "--steps", steps, *TRAIN)


def edit_state(run: Path, **change: object) -> None:
    path = run / "checkpoint" / "state.json"
    state = json.loads(path.read_text())
    for key, value in change.items():
        if value is KeyError:
            state.pop(key)
        else:
            state[key] = value
    path.write_text(json.dumps(state))


def edit_model_config(run: Path, **change: object) -> None:
    path = run / "checkpoint" / "state.json"
    state = json.loads(path.read_text())
    state["model_config"].update(change)
    path.write_text(json.dumps(state))


# -- a damaged state.json ------------------------------------------------------------------
@pytest.mark.parametrize(("content", "message"), [
    (b"\x00\x01garbage\xff", "state.json is not valid JSON"),
    (b"{\"step\": 1,", "state.json is not valid JSON"),
    (b"[1, 2, 3]", "state.json is not a JSON object"),
    (b"", "state.json is not valid JSON"),
])
def test_a_garbage_state_json_is_named(run, content, message):
    (run / "checkpoint" / "state.json").write_bytes(content)
    line = one_line_error(resume(run), 2)
    assert message in line and "to start the run over" in line


@pytest.mark.parametrize(("change", "message"), [
    ({"step": KeyError}, "has no 'step'"),
    ({"step": "three"}, "has step='three', expected a non-negative number"),
    ({"step": -4}, "has step=-4, expected a non-negative number"),
    ({"step": True}, "has step=True"),
    ({"tokens": 1.5}, "has tokens=1.5"),
    ({"elapsed": "soon"}, "has elapsed='soon'"),
    ({"history": {"a": 1}}, "has history={'a': 1}, expected a list"),
    ({"model_config": KeyError}, "has no 'model_config'"),
    ({"model_config": [64, 2]}, "has model_config=[64, 2], expected a dict"),
])
def test_a_mistyped_or_incomplete_state_json_is_named(run, change, message):
    edit_state(run, **change)
    line = one_line_error(resume(run), 2)
    assert message in line and "state.json" in line


def test_a_missing_state_json_is_named(run):
    (run / "checkpoint" / "state.json").unlink()
    assert "state.json is missing" in one_line_error(resume(run), 2)


def test_a_fifo_state_json_fails_at_once(run):
    mkfifo(run / "checkpoint" / "state.json")
    assert "is a FIFO, not a regular file" in one_line_error(resume(run), 2)


@pytest.mark.parametrize(("change", "message"), [
    ({"num_hidden_layers": 10**6}, "check num_hidden_layers=1000000"),
    ({"num_experts": 400_000}, "check num_experts=400000"),
    ({"vocab_size": 10**9}, "check vocab_size=1000000000"),
    ({"hidden_size": "wide"}, "hidden_size='wide', expected a whole number"),
    ({"num_attention_heads": 0}, "num_attention_heads=0, expected at least 1"),
    ({"model_type": "gpt2"}, "model_type='gpt2'"),
])
def test_absurd_model_config_sizes_fail_at_once_naming_the_field(run, change, message):
    edit_model_config(run, **change)
    line = one_line_error(resume(run), 2)
    assert message in line and "state.json" in line


# -- damaged weight and optimizer files ----------------------------------------------------
def truncate(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


@pytest.mark.parametrize("keep", [0, 7, 200, 5000])
def test_a_truncated_model_file_is_named(run, keep):
    truncate(run / "checkpoint" / "model.safetensors", keep)
    line = one_line_error(resume(run), 2)
    assert "model.safetensors is corrupt or truncated" in line


def test_a_missing_model_file_is_named(run):
    (run / "checkpoint" / "model.safetensors").unlink()
    assert "model.safetensors is missing" in one_line_error(resume(run), 2)


def test_a_model_file_of_another_shape_is_named(run):
    edit_model_config(run, moe_intermediate_size=16)  # smaller, so the size check passes
    line = one_line_error(resume(run), 2)
    assert "model.safetensors does not match state.json's model_config" in line


def test_a_missing_optimizer_file_is_named_not_blamed_on_free_space(run):
    # Before: "could not write the run (...): free space or choose another --out".
    (run / "checkpoint" / "optimizer.safetensors").unlink()
    line = one_line_error(resume(run), 2)
    assert "optimizer.safetensors is missing" in line and "free space" not in line


def test_a_truncated_optimizer_file_is_named(run):
    truncate(run / "checkpoint" / "optimizer.safetensors", 100)
    assert "optimizer.safetensors is corrupt" in one_line_error(resume(run), 2)


def test_optimizer_moments_of_another_shape_are_named(run):
    from safetensors.torch import load_file, save_file

    path = run / "checkpoint" / "optimizer.safetensors"
    moments = {k: (v[:1] if v.dim() else v) for k, v in load_file(str(path)).items()}
    save_file(moments, str(path))
    assert "does not match the model" in one_line_error(resume(run), 2)


# -- saves are atomic: a failure mid-save keeps the last good checkpoint ------------------
def test_a_save_that_fails_midway_keeps_the_previous_checkpoint(run, monkeypatch):
    import safetensors.torch

    before = {p.name: p.read_bytes() for p in (run / "checkpoint").iterdir()}
    calls = []

    def full_disk(tensors, filename, metadata=None):
        calls.append(filename)
        if "optimizer" in filename:
            raise OSError(28, "No space left on device", filename)
        return real(tensors, filename, metadata=metadata)

    real = safetensors.torch.save_file
    monkeypatch.setattr(safetensors.torch, "save_file", full_disk)
    line = one_line_error(resume(run, steps=2), 1)
    assert "No space left on device" in line and "free space" in line
    assert calls  # the save was reached
    after = {p.name: p.read_bytes() for p in (run / "checkpoint").iterdir()}
    assert after == before


def test_a_run_killed_between_the_renames_resumes_from_the_old_checkpoint(run):
    (run / "checkpoint").rename(run / "checkpoint.old")
    result = resume(run, steps=2)
    assert result.exit_code == 0, result.output
    assert json.loads((run / "checkpoint" / "state.json").read_text())["step"] == 2
    assert not (run / "checkpoint.old").exists()


def test_an_export_that_fails_midway_keeps_the_previous_model(run, monkeypatch):
    from noema_core import loading

    before = {p.name: p.read_bytes() for p in (run / "model").iterdir()}

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(loading, "save_checkpoint", broken)
    one_line_error(resume(run, steps=2), 1)
    assert {p.name: p.read_bytes() for p in (run / "model").iterdir()} == before


# -- --init-from a directory that is not a model of this shape ------------------------------
def test_init_from_a_config_only_directory_is_a_load_error(ws, trained_run):
    model = ws.root / "config-only"
    model.mkdir()
    shutil.copy(trained_run / "model" / "config.json", model)
    line = one_line_error(cli("train", "--out", ws.root / "new", "--init-from", model,
                              "--steps", "1", *TRAIN), 3)
    assert "has no tokenizer.json" in line


def test_init_from_a_directory_without_config_is_a_load_error(ws):
    line = one_line_error(cli("train", "--out", ws.root / "new", "--init-from", ws.canary,
                              "--steps", "1", *TRAIN), 3)
    assert "is not an exported model directory" in line


def test_init_from_a_model_of_another_shape_names_the_real_mismatch(ws, trained_run):
    # The micro run's export, continued as the tiny shape. Before: "weights do not match
    # config.json: missing ...", naming a file the user never gave.
    args = [a if a != "micro" else "tiny" for a in TRAIN]
    line = one_line_error(cli("train", "--out", ws.root / "new", "--init-from",
                              trained_run / "model", "--steps", "1", *args), 3)
    assert "is a model of another shape" in line and "hidden_size=64 (this run: 256)" in line


def test_init_from_with_a_tokenizer_symlinked_outside_is_refused(ws, trained_run):
    model = ws.root / "model"
    shutil.copytree(trained_run / "model", model)
    (model / "tokenizer_config.json").unlink()
    (model / "tokenizer_config.json").symlink_to(ws.canary / "keep.txt")
    line = one_line_error(cli("train", "--out", ws.root / "new", "--init-from", model,
                              "--steps", "1", *TRAIN), 3)
    assert "outside the checkpoint directory" in line
