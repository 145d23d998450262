"""A training run's checkpoint on disk: written whole or not at all, read back with checks.

`<out>/checkpoint/` holds model.safetensors (fp32 weights), optimizer.safetensors (AdamW
moments) and state.json (step, history, model_config). A save writes a fresh
`checkpoint.tmp/` and swaps it in by renames, so a kill or a full disk at any moment leaves
the last good checkpoint whole: under its own name, or as `checkpoint.old/` for the instant
between the two renames (the next run takes it back). The exported model directory is
replaced the same way. Reading checks every file and names the damaged one.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import torch

from noema_core.checkpoint_files import checkpoint_file
from noema_core.config import NoemaConfig
from noema_core.errors import CheckpointError, ConfigError, ModelLoadError, RunCheckpointError

FILES = ("model.safetensors", "optimizer.safetensors", "state.json")
MOMENTS = ("exp_avg", "exp_avg_sq", "step")
# The config fields that decide the weights' names and shapes.
SHAPE_FIELDS = ("vocab_size", "hidden_size", "num_hidden_layers", "first_k_dense_replace",
                "intermediate_size", "num_attention_heads", "num_key_value_heads", "head_dim",
                "num_experts", "moe_intermediate_size", "num_shared_experts", "use_qkv_bias",
                "use_bias", "use_qk_norm", "tie_word_embeddings")


def replace_dir(staged: Path, final: Path) -> None:
    """Put the complete directory `staged` in place of `final` by renames only."""
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staged.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def staging_dir(final: Path) -> Path:
    """An empty `<final>.tmp/` beside `final`, for a write that `replace_dir` then swaps in."""
    staged = final.with_name(final.name + ".tmp")
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    return staged


def recover(final: Path) -> None:
    """A run killed between replace_dir's two renames left only `<final>.old/`: restore it."""
    old = final.with_name(final.name + ".old")
    if not final.exists() and old.is_dir():
        old.rename(final)


def save(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
         meta: dict) -> None:
    from safetensors.torch import save_file

    staged = staging_dir(folder)
    state = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(staged / "model.safetensors"))
    names = {id(p): n for n, p in model.named_parameters()}
    moments = {f"{names[id(p)]}::{key}": s[key].detach().float().cpu().reshape(s[key].shape)
               .contiguous() for p, s in optimizer.state.items() for key in MOMENTS}
    save_file(moments, str(staged / "optimizer.safetensors"))
    (staged / "state.json").write_text(json.dumps(meta, indent=1))
    replace_dir(staged, folder)


def _damaged(path: Path, why: str) -> RunCheckpointError:
    return RunCheckpointError(f"{path} {why}: delete {path.parent} to start the run over, or "
                              f"choose another --out")


def _required(folder: Path, name: str) -> Path:
    try:
        path = checkpoint_file(folder, name)
    except ModelLoadError as err:  # outside the folder, a FIFO, unreadable
        raise RunCheckpointError(f"{err}; or delete {folder} to start the run over") from None
    if path is None:
        raise _damaged(folder / name, "is missing (the checkpoint is incomplete)")
    return path


def read_meta(folder: Path) -> tuple[dict, NoemaConfig]:
    """state.json, checked field by field, and the model_config it holds."""
    path = _required(folder, "state.json")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _damaged(path, f"is not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise _damaged(path, "is not a JSON object")
    for key, kind in (("step", int), ("tokens", int), ("elapsed", float), ("history", list),
                      ("model_config", dict)):
        value = meta.get(key)
        number = kind is float and isinstance(value, int | float) and math.isfinite(value)
        if key not in meta:
            raise _damaged(path, f"has no {key!r}")
        if isinstance(value, bool) or not (number or isinstance(value, kind)) or (
                kind is not list and kind is not dict and value < 0):
            expected = "non-negative number" if kind in (int, float) else kind.__name__
            raise _damaged(path, f"has {key}={value!r}, expected a {expected}")
    try:
        config = NoemaConfig.from_checked_dict(
            meta["model_config"], f"{path} model_config",
            fix=f"delete {folder} to start the run over, or choose another --out")
        weights = _required(folder, "model.safetensors")
        config.check_size(f"{path} model_config", stored_bytes=weights.stat().st_size,
                          bytes_per_parameter=4)  # saved as float32
    except ConfigError as err:
        raise RunCheckpointError(str(err)) from None
    return meta, config


def load_tensors(folder: Path, name: str, device: str = "cpu") -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = _required(folder, name)
    try:
        return load_file(str(path), device=device)
    except (SafetensorError, OSError, RuntimeError, ValueError) as err:
        raise _damaged(path, f"is corrupt or truncated ({err})") from None


def load_into(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
              device: torch.device) -> None:
    """The saved weights into `model` and moments into `optimizer`, each checked first."""
    weights = folder / "model.safetensors"
    state = load_tensors(folder, "model.safetensors")
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[-1].strip()
        raise _damaged(weights, f"does not match state.json's model_config ({first})") \
            from None
    moments = load_tensors(folder, "optimizer.safetensors", device=str(device))
    for name, p in model.named_parameters():
        keys = [f"{name}::{key}" for key in MOMENTS]
        if keys[0] not in moments:
            continue
        if any(k not in moments for k in keys) or moments[keys[0]].shape != p.shape \
                or moments[keys[1]].shape != p.shape:
            raise _damaged(folder / "optimizer.safetensors",
                           f"does not match the model (moments of {name})")
        optimizer.state[p] = dict(zip(MOMENTS, (moments[k] for k in keys), strict=True))


# -- --init-from: an exported model directory --------------------------------------------------
def copy_tokenizer(model_dir: Path, tokenizer_dir: Path, names: tuple[str, ...]) -> None:
    """The exported model's own tokenizer files (regular files inside it only)."""
    if checkpoint_file(model_dir, "tokenizer.json") is None:
        raise CheckpointError(f"--init-from {model_dir} has no tokenizer.json: pass an "
                              f"exported model directory (weights and tokenizer files)")
    tokenizer_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        if checkpoint_file(model_dir, name) is not None:
            shutil.copy(model_dir / name, tokenizer_dir / name)


def load_exported_weights(model: torch.nn.Module, config: NoemaConfig, directory: Path) -> None:
    """The weights of an exported model, which must have this run's shape: a difference is
    named by field (--init-from's config.json against this run's --shape)."""
    from noema_core.loading import build_model, read_state_dict, weight_files

    theirs = NoemaConfig.from_file(directory / "config.json")
    differ = [f"{name}={getattr(theirs, name)} (this run: {getattr(config, name)})"
              for name in SHAPE_FIELDS if getattr(theirs, name) != getattr(config, name)]
    if differ:
        raise CheckpointError(f"--init-from {directory} is a model of another shape: its "
                              f"config.json has {', '.join(differ[:4])}: pass the --shape it "
                              f"was trained with, or another --init-from")
    files = weight_files(directory)
    theirs.check_size(str(directory / "config.json"),
                      stored_bytes=sum(f.stat().st_size for f in files))
    checked = build_model(config, torch.float32, torch.device("cpu"), read_state_dict(files))
    model.load_state_dict(checked.state_dict())
