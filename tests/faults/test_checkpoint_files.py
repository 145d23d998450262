"""Hostile and damaged checkpoints given to `noema ask --model`: exit 3, one line, no hang,
nothing read outside the checkpoint directory."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from noema_core.errors import CheckpointError
from noema_core.loading import load_model
from tests.faults.conftest import cli, mkfifo, one_line_error

pytestmark = pytest.mark.usefixtures("deadline")

INDEX = "model.safetensors.index.json"


def ask(ckpt: Path, *extra: str):
    return cli("ask", "--model", ckpt, "--device", "cpu", "--json", *extra, "Solve x = 1")


def index_of(ckpt: Path) -> dict:
    return json.loads((ckpt / INDEX).read_text())


def first_shard(ckpt: Path) -> str:
    return sorted(set(index_of(ckpt)["weight_map"].values()))[0]


def repoint_shard(ckpt: Path, target: str) -> None:
    """Make the index name `target` wherever it named its first shard."""
    index = index_of(ckpt)
    old = first_shard(ckpt)
    index["weight_map"] = {k: (target if v == old else v) for k, v in index["weight_map"].items()}
    (ckpt / INDEX).write_text(json.dumps(index))


def config_with(ckpt: Path, **change: object) -> None:
    config = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**config, **change}))


# -- every file a checkpoint names resolves inside it ---------------------------------------
def test_a_weight_map_naming_etc_passwd_is_refused(ws):
    repoint_shard(ws.ckpt, "../../../../../../etc/passwd")
    line = one_line_error(ask(ws.ckpt), 3)
    assert "outside the checkpoint directory" in line and "/etc/passwd" in line


def test_a_valid_shard_in_a_sibling_directory_is_not_loaded(ws):
    # Before: the shard outside loaded and `ask` answered (exit 0).
    other = ws.root / "other"
    other.mkdir()
    shutil.copy(ws.ckpt / first_shard(ws.ckpt), other / "model.safetensors")
    repoint_shard(ws.ckpt, "../other/model.safetensors")
    ws.freeze(other)
    assert "outside the checkpoint directory" in one_line_error(ask(ws.ckpt), 3)


def test_an_absolute_shard_path_is_refused(ws):
    outside = ws.canary / "stolen.safetensors"
    shutil.copy(ws.ckpt / first_shard(ws.ckpt), outside)
    ws.freeze()
    repoint_shard(ws.ckpt, str(outside))
    assert "outside the checkpoint directory" in one_line_error(ask(ws.ckpt), 3)


@pytest.mark.parametrize("name", ["config.json", "tokenizer.json", "tokenizer_config.json",
                                  "generation_config.json", INDEX, "shard"])
def test_a_file_symlinked_to_outside_the_checkpoint_is_refused(ws, name):
    name = first_shard(ws.ckpt) if name == "shard" else name
    real = ws.ckpt / name
    outside = ws.canary / name
    if real.exists():
        shutil.copy(real, outside)
        real.unlink()
    else:
        outside.write_text("{}")
    ws.freeze()
    real.symlink_to(outside)
    line = one_line_error(ask(ws.ckpt), 3)
    assert "outside the checkpoint directory" in line and name in line


def test_an_unindexed_safetensors_symlink_to_outside_is_refused(ws):
    for shard in set(index_of(ws.ckpt)["weight_map"].values()):
        (ws.ckpt / shard).unlink()
    (ws.ckpt / INDEX).unlink()
    (ws.canary / "w.safetensors").write_bytes(b"x")
    ws.freeze()
    (ws.ckpt / "model.safetensors").symlink_to(ws.canary / "w.safetensors")
    assert "outside the checkpoint directory" in one_line_error(ask(ws.ckpt), 3)


def test_symlinks_within_the_checkpoint_still_load(ws):
    shard = first_shard(ws.ckpt)
    (ws.ckpt / shard).rename(ws.ckpt / "renamed.bin.safetensors.real")
    (ws.ckpt / shard).symlink_to("renamed.bin.safetensors.real")
    assert load_model(str(ws.ckpt), device="cpu").info.parameters > 0


def test_a_hub_cache_snapshot_whose_files_link_into_blobs_loads(ws):
    # huggingface_hub stores models--org--name/snapshots/<rev>/<file> -> ../../blobs/<hash>.
    repo = ws.root / "hub" / "models--org--tiny"
    snapshot, blobs = repo / "snapshots" / "abc123", repo / "blobs"
    snapshot.mkdir(parents=True)
    blobs.mkdir()
    for n, file in enumerate(sorted(ws.ckpt.iterdir())):
        shutil.copy(file, blobs / f"blob{n}")
        (snapshot / file.name).symlink_to(Path("../../blobs") / f"blob{n}")
    assert load_model(str(snapshot), device="cpu").info.parameters > 0


def test_a_broken_symlink_is_named_as_such(ws):
    (ws.ckpt / "generation_config.json").symlink_to(ws.ckpt / "gone.json")
    assert "is a broken symlink" in one_line_error(ask(ws.ckpt), 3)


# -- non-regular files are refused before they are opened (a FIFO would block forever) -----
@pytest.mark.parametrize("name", ["config.json", "shard", INDEX, "tokenizer.json",
                                  "tokenizer_config.json", "generation_config.json",
                                  "chat_template.jinja", "special_tokens_map.json"])
def test_a_fifo_in_place_of_a_checkpoint_file_fails_at_once(ws, name):
    name = first_shard(ws.ckpt) if name == "shard" else name
    mkfifo(ws.ckpt / name)
    started = time.monotonic()
    line = one_line_error(ask(ws.ckpt), 3)
    assert f"{name} is a FIFO, not a regular file" in line
    assert time.monotonic() - started < 30


def test_an_unindexed_fifo_shard_fails_at_once(ws):
    for shard in set(index_of(ws.ckpt)["weight_map"].values()):
        (ws.ckpt / shard).unlink()
    (ws.ckpt / INDEX).unlink()
    mkfifo(ws.ckpt / "model.safetensors")
    assert "is a FIFO, not a regular file" in one_line_error(ask(ws.ckpt), 3)


def test_a_directory_named_as_a_shard_is_refused(ws):
    (ws.ckpt / "sub").mkdir()
    repoint_shard(ws.ckpt, "sub")
    assert "is a directory, not a regular file" in one_line_error(ask(ws.ckpt), 3)


# -- the chat template runs sandboxed: tricks are load errors naming the file --------------
@pytest.mark.parametrize("template", [
    "{{ messages.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.system('touch canary') }}",
    "{% set x = messages.append({'role': 'user', 'content': 'x'}) %}{{ x }}",
    "{{ ''.__class__.__base__ }}",
    "{{ raise_exception('no') }}",
    "{% for m in messages %}{{ m.content",  # not even Jinja
])
def test_a_chat_template_that_tries_tricks_is_a_load_error(ws, template):
    (ws.ckpt / "chat_template.jinja").write_text(template)
    before = set(Path.cwd().iterdir())
    line = one_line_error(ask(ws.ckpt), 3)
    assert f"the chat template in {ws.ckpt / 'chat_template.jinja'} " in line
    assert set(Path.cwd().iterdir()) == before  # nothing ran


def test_a_template_in_tokenizer_config_is_named_there(ws):
    (ws.ckpt / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((ws.ckpt / "tokenizer_config.json").read_text())
    config["chat_template"] = "{{ messages.__class__ }}"
    (ws.ckpt / "tokenizer_config.json").write_text(json.dumps(config))
    line = one_line_error(ask(ws.ckpt), 3)
    assert f"the chat template in {ws.ckpt / 'tokenizer_config.json'} " in line


# -- a config's implied size is checked before anything is built --------------------------
@pytest.mark.parametrize(("field", "value"), [
    ("num_hidden_layers", 10**6), ("num_experts", 400_000), ("vocab_size", 10**9),
    ("hidden_size", 1_048_576), ("moe_intermediate_size", 10**7), ("intermediate_size", 10**9),
])
def test_a_config_far_larger_than_its_weights_fails_at_once_naming_the_field(ws, field, value):
    config_with(ws.ckpt, **{field: value})
    started = time.monotonic()
    line = one_line_error(ask(ws.ckpt), 3)
    assert f"check {field}={value}" in line and "the weight files hold" in line
    assert time.monotonic() - started < 20  # before: minutes of allocation, then killed


def test_a_random_shape_larger_than_memory_is_refused(monkeypatch):
    from noema_core import config as config_module

    monkeypatch.setattr(config_module, "physical_memory", lambda: 2**30)
    with pytest.raises(Exception, match="this machine has 1.07 GB of memory") as caught:
        load_model("noema-1-shape", device="cpu")
    assert caught.value.exit_code == 3


# -- damaged files: exit 3 (a checkpoint problem), not 1 -----------------------------------
def test_a_config_that_is_not_utf8_is_a_load_error(ws):
    (ws.ckpt / "config.json").write_bytes(b'{"model_type": "llada2_moe", "x": "\xff\xfe"}')
    assert "is not UTF-8 text" in one_line_error(ask(ws.ckpt), 3)


@pytest.mark.parametrize("dtype", [torch.int32, torch.bool, torch.int64, torch.uint8])
def test_weights_stored_as_integers_or_booleans_are_refused(ws, dtype):
    shard = ws.ckpt / first_shard(ws.ckpt)
    tensors = load_file(str(shard))
    save_file({k: v.to(dtype) for k, v in tensors.items()}, str(shard))
    line = one_line_error(ask(ws.ckpt), 3)
    assert f"is stored as {str(dtype).removeprefix('torch.')}, not floating point" in line


@pytest.mark.parametrize("index", [
    '{"weight_map": ["model-00001.safetensors"]}', '{"weight_map": {"a": 7}}', '{"metadata": {}}',
    '{"weight_map": {}}', "[1, 2]", "{not json", '{"weight_map": {"a": ""}}',
])
def test_a_malformed_index_is_a_load_error(ws, index):
    (ws.ckpt / INDEX).write_text(index)
    assert "is not a valid safetensors index" in one_line_error(ask(ws.ckpt), 3)


def test_an_unreadable_weight_file_says_permission_denied(ws, monkeypatch):
    shard = first_shard(ws.ckpt)
    real_open = os.open

    def denied(path, flags, *args, **kwargs):
        if str(path).endswith(shard):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)  # root reads any file, so a chmod cannot show it
    line = one_line_error(ask(ws.ckpt), 3)
    assert "permission denied" in line and "corrupt" not in line and shard in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_weight_file_without_read_permission_says_permission_denied(ws):
    shard = ws.ckpt / first_shard(ws.ckpt)
    shard.chmod(0)
    assert "permission denied" in one_line_error(ask(ws.ckpt), 3)


def test_a_truncated_shard_is_reported_as_corrupt(ws):
    shard = ws.ckpt / first_shard(ws.ckpt)
    shard.write_bytes(shard.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_model(str(ws.ckpt), device="cpu")


# -- the same checks behind every command that loads a model -------------------------------
@pytest.mark.parametrize("command", [
    ("bench", "--device", "cpu", "--mode", "s", "--gen-length", "32", "--prompt-length", "16"),
    ("eval", "--device", "cpu", "--limit", "1", "--mode", "s"),
])
@pytest.mark.parametrize("damage", ["traversal", "fifo", "huge", "template"])
def test_bench_and_eval_refuse_the_same_checkpoints(ws, command, damage):
    if damage == "traversal":
        repoint_shard(ws.ckpt, "../../../../etc/passwd")
    elif damage == "fifo":
        mkfifo(ws.ckpt / "config.json")
    elif damage == "huge":
        config_with(ws.ckpt, num_hidden_layers=10**6)
    else:
        (ws.ckpt / "chat_template.jinja").write_text("{{ messages.__class__.__mro__ }}")
    result = cli(command[0], "--model", ws.ckpt, *command[1:])
    line = one_line_error(result, 3)
    assert str(ws.ckpt.name) in line or "num_hidden_layers" in line


@pytest.mark.parametrize("kind", ["fifo", "file"])
def test_a_model_path_that_is_not_a_directory_says_so(ws, kind):
    target = ws.root / "model"
    mkfifo(target) if kind == "fifo" else target.write_text("x")
    line = one_line_error(cli("ask", "--model", target, "--device", "cpu", "q"), 3)
    assert "not a checkpoint directory: pass the directory that holds it" in line
