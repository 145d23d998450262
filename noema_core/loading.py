"""One entry point from a model reference to a ready model and tokenizer.

A reference is a bundled model name (`noema-tiny`), a random-weight shape (`noema-1-shape`,
`tiny-random`), a local checkpoint directory, or a hub id (`org/name`). Weights load only from
safetensors; no code from a checkpoint ever runs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from noema_core import quantize
from noema_core.checkpoint_files import checkpoint_file
from noema_core.config import NoemaConfig, noema_1_shape, tiny_random_shape
from noema_core.decoding.settings import Mode, parse_model_presets
from noema_core.engine import ModelInfo, ProgressCallback
from noema_core.errors import CheckpointError, DeviceError, ModelNotFoundError, SettingsError
from noema_core.model import NoemaModel, init_weights
from noema_core.tokenizer import NoemaTokenizer

BUNDLED_DIR = Path(__file__).parent / "models"
RANDOM_SHAPES = {"noema-1-shape": noema_1_shape, "tiny-random": tiny_random_shape}
DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
          "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16,
          "float64": torch.float64}
# The special ids Noema-1's tokenizer uses (spec section 6); random shapes have no tokenizer.
NOEMA1_MASK_ID, NOEMA1_EOS_ID = 156895, 156892


@dataclass
class LoadedModel:
    model: NoemaModel
    tokenizer: NoemaTokenizer | None
    info: ModelInfo


def bundled_models() -> list[str]:
    if not BUNDLED_DIR.is_dir():
        return []
    return sorted(p.name for p in BUNDLED_DIR.iterdir() if (p / "config.json").is_file())


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise DeviceError(f"device {device!r} is not recognised: use auto, cpu or cuda") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError("no CUDA GPU is available here: use --device cpu (or auto)")
    if dev.type not in ("cpu", "cuda"):
        raise DeviceError(f"device {device!r} is not supported: use auto, cpu or cuda")
    return dev


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        # bf16 on GPUs (the checkpoint's dtype); fp32 on CPUs, where bf16 matmuls are often slower.
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if dtype not in DTYPES:
        raise DeviceError(f"dtype {dtype!r} is not supported: use auto, float32, bfloat16 or "
                          f"float16")
    return DTYPES[dtype]


def resolve_checkpoint_dir(ref: str, progress: ProgressCallback | None = None) -> Path:
    """Find the directory for a bundled name, a local path, or download a hub id."""
    if (BUNDLED_DIR / ref / "config.json").is_file():
        return BUNDLED_DIR / ref
    path = Path(ref).expanduser()
    looks_like_path = ref.startswith((".", "/", "~")) or os.sep in ref and path.exists()
    if path.is_dir():
        return path
    if path.exists() and not path.is_dir():  # a file, or a FIFO/device that must not be read
        kind = "a file" if path.is_file() else "not a directory"
        raise ModelNotFoundError(f"{ref} is {kind}, not a checkpoint directory: pass the "
                                 f"directory that holds it ({path.parent})")
    if looks_like_path or path.exists():
        raise ModelNotFoundError(f"checkpoint directory {ref} does not exist: pass a directory "
                                 f"holding config.json and *.safetensors")
    if ref.count("/") == 1 and not ref.startswith("/"):
        return _download(ref, progress)
    names = ", ".join(bundled_models() + list(RANDOM_SHAPES)) or "none"
    raise ModelNotFoundError(f"model {ref!r} is not a bundled model ({names}), a directory or a "
                             f"hub id (org/name): check the name")


def _download(repo_id: str, progress: ProgressCallback | None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    if progress:
        progress(f"downloading {repo_id}", None)
    try:
        # Only configs, tokenizer files and safetensors: never *.py (remote code) or pickles.
        local = snapshot_download(repo_id, allow_patterns=["*.json", "*.safetensors", "*.txt",
                                                           "*.model"])
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as err:
        kind = type(err).__name__
        raise ModelNotFoundError(f"could not download {repo_id} ({kind}): on a machine without "
                                 f"hub access, download it elsewhere and pass the local "
                                 f"directory with --model /path/to/{repo_id.split('/')[-1]}") \
            from None
    return Path(local)


def weight_files(directory: Path) -> list[Path]:
    """The checkpoint's safetensors files: those its index names, or all of them. Each one is
    a readable regular file inside the directory (see `checkpoint_files`)."""
    if not directory.is_dir():
        raise ModelNotFoundError(f"checkpoint directory {directory} does not exist: pass a "
                                 f"directory holding config.json and *.safetensors")
    index = checkpoint_file(directory, "model.safetensors.index.json")
    if index is not None:
        names = _index_shards(index)
        missing = [name for name in names if checkpoint_file(directory, name) is None]
        if missing:
            raise CheckpointError(f"weight shard(s) {', '.join(missing)} listed in {index.name} "
                                  f"are missing from {directory}: re-download the checkpoint")
        return [directory / name for name in names]
    files = [checkpoint_file(directory, p.name) or p
             for p in sorted(directory.glob("*.safetensors"))]
    if not files:
        pickles = [p.name for ext in ("bin", "pt", "pth") for p in directory.glob(f"*.{ext}")]
        if pickles:
            raise CheckpointError(f"no *.safetensors weights in {directory}, only "
                                  f"{', '.join(pickles)}: Noema never loads pickle weights; "
                                  f"convert them to safetensors")
        raise CheckpointError(f"no *.safetensors weights in {directory}: copy the checkpoint's "
                              f"*.safetensors files (and model.safetensors.index.json) there")
    return files


def _index_shards(index: Path) -> list[str]:
    """The shard names of a safetensors index: a `weight_map` of tensor name -> file name."""
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        weight_map = None
    if (not isinstance(weight_map, dict) or not weight_map
            or not all(isinstance(v, str) and v for v in weight_map.values())):
        raise CheckpointError(f"{index} is not a valid safetensors index (it needs a "
                              f"\"weight_map\" of tensor names to shard file names): "
                              f"re-download the checkpoint")
    return sorted(set(weight_map.values()))


def read_state_dict(files: list[Path], progress: ProgressCallback | None = None) -> dict:
    from safetensors import SafetensorError, safe_open

    state: dict[str, torch.Tensor] = {}
    for n, file in enumerate(files, 1):
        if progress:
            progress(f"reading {file.name}", (n - 1) / len(files))
        try:
            with safe_open(str(file), framework="pt", device="cpu") as f:
                for key in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                    state[key] = f.get_tensor(key)
        except PermissionError:
            raise CheckpointError(f"{file}: permission denied: make it readable (chmod u+r) "
                                  f"or run as its owner") from None
        except (SafetensorError, OSError, RuntimeError, ValueError) as err:
            raise CheckpointError(f"{file.name} is corrupt or truncated ({err}): re-download "
                                  f"the checkpoint") from None
    if progress:
        progress("weights read", 1.0)
    return state


def _check_keys(model: NoemaModel, state: dict) -> None:
    expected = model.state_dict()
    if model.config.tie_word_embeddings:
        expected.pop("lm_head.weight", None)
        head = state.pop("lm_head.weight", None)
        embeddings = state.get("model.word_embeddings.weight")
        if head is not None and embeddings is not None and not (
                head.shape == embeddings.shape and torch.equal(head, embeddings)):
            raise CheckpointError("weights do not match config.json: it sets "
                                  "tie_word_embeddings, but lm_head.weight differs from the "
                                  "embeddings: set \"tie_word_embeddings\": false")
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        def show(keys: list[str]) -> str:
            return ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")
        parts = ([f"missing {show(missing)}"] if missing else []) + (
            [f"unexpected {show(unexpected)}"] if unexpected else [])
        raise CheckpointError(f"weights do not match config.json: {'; '.join(parts)}")
    for key, tensor in expected.items():
        if tensor.is_floating_point() and not state[key].is_floating_point():
            stored = str(state[key].dtype).removeprefix("torch.")
            raise CheckpointError(f"{key} is stored as {stored}, not floating point: these "
                                  f"are not Noema weights; re-export them as float32, "
                                  f"bfloat16 or float16")
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise CheckpointError(f"weights do not match config.json: {key} has shape "
                                  f"{tuple(state[key].shape)}, the config implies "
                                  f"{tuple(tensor.shape)}")


def build_model(config: NoemaConfig, dtype: torch.dtype, device: torch.device,
                state: dict | None = None, seed: int = 0) -> NoemaModel:
    """Construct on the meta device, then assign loaded weights or initialise random ones."""
    with torch.device("meta"):
        model = NoemaModel(config)
    if state is not None:
        _check_keys(model, state)
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
        model.load_state_dict(state, strict=not config.tie_word_embeddings, assign=True)
        if config.tie_word_embeddings:
            model.lm_head.weight = model.model.word_embeddings.weight
    else:
        model = model.to(dtype).to_empty(device="cpu")
        if config.tie_word_embeddings:
            model.lm_head.weight = model.model.word_embeddings.weight
        init_weights(model, seed=seed)
    return model.eval().requires_grad_(False)


def read_decoding_presets(directory: Path) -> dict[Mode, dict[str, float]]:
    """The checkpoint's own Q/S thresholds: `decoding_presets` in generation_config.json, if
    the file has that key (other generation settings there are not ours to read)."""
    path = checkpoint_file(directory, "generation_config.json")
    if path is None:
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} is not readable JSON ({err}): restore it from the "
                              f"checkpoint or delete it") from None
    if not isinstance(raw, dict) or "decoding_presets" not in raw:
        return {}
    try:
        return parse_model_presets(raw["decoding_presets"])
    except SettingsError as err:
        raise CheckpointError(f"{path}: {err}, or delete the entry") from None


def _generation_config_count(directory: Path, key: str, minimum: int) -> int | None:
    """The integer `key` of generation_config.json when it is at least `minimum`, else None.
    Advisory: a file that lacks or garbles it costs only what the entry tunes, never the
    model."""
    try:
        raw = json.loads((directory / "generation_config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    value = raw.get(key) if isinstance(raw, dict) else None
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    return value if ok else None


def read_max_turns_trained(directory: Path) -> int:
    """`max_turns_trained` in generation_config.json (a positive integer), else 0: without
    it the app only loses its notice about long chats."""
    return _generation_config_count(directory, "max_turns_trained", 1) or 0


def read_history_exchanges(directory: Path) -> int | None:
    """`history_exchanges` in generation_config.json (how many earlier exchanges the model
    reads), else None: the whole conversation."""
    return _generation_config_count(directory, "history_exchanges", 0)


def load_model(ref: str, *, device: str = "auto", dtype: str = "auto", quant: str = "none",
               progress: ProgressCallback | None = None) -> LoadedModel:
    """Load `ref` ready for decoding. Raises a `ModelLoadError` subclass with a one-line fix."""
    if quant not in quantize.QUANT_CHOICES:
        raise DeviceError(f"--quant {quant} is unknown: choose none, int8, nf4 or auto")
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    if ref in RANDOM_SHAPES:
        config, tokenizer, state, random_weights = RANDOM_SHAPES[ref](), None, None, True
        config.check_size(ref, bytes_per_parameter=torch.empty((), dtype=torch_dtype)
                          .element_size())
        presets, max_turns, history = {}, 0, None
    else:
        directory = resolve_checkpoint_dir(ref, progress)
        if progress:
            progress(f"loading {ref} on {dev}", 0.0)
        config = NoemaConfig.from_file(directory / "config.json")
        tokenizer = NoemaTokenizer.from_dir(directory)
        if tokenizer.vocab_size > config.vocab_size:
            raise CheckpointError(f"the tokenizer has {tokenizer.vocab_size} tokens but "
                                  f"config.json vocab_size is {config.vocab_size}: the files "
                                  f"come from different checkpoints")
        presets = read_decoding_presets(directory)
        max_turns = read_max_turns_trained(directory)
        history = read_history_exchanges(directory)
        files = weight_files(directory)
        # Before reading or building anything: a config whose sizes the files cannot hold.
        config.check_size(str(directory / "config.json"),
                          stored_bytes=sum(f.stat().st_size for f in files))
        state, random_weights = read_state_dict(files, progress), False
    model = build_model(config, torch_dtype, dev, state)
    del state
    n_params = model.num_parameters()
    quant = quantize.resolve_auto(quant, dev, n_params * 2)
    if quant != "none":
        if progress:
            progress(f"quantizing to {quant}", None)
        quantize.quantize_linears(model, quant, dev, torch_dtype)
    model.to(dev).stack_experts()
    info = ModelInfo(name=ref, device=str(dev), dtype=str(torch_dtype).removeprefix("torch."),
                     quant=quant, parameters=n_params,
                     resident_bytes=quantize.resident_bytes(model),
                     random_weights=random_weights,
                     max_context=config.max_position_embeddings,
                     decoding_presets=presets, max_turns_trained=max_turns,
                     history_exchanges=history)
    if progress:
        progress("ready", 1.0)
    return LoadedModel(model, tokenizer, info)


def save_checkpoint(model: NoemaModel, directory: str | Path, *,
                    max_shard_bytes: int | None = None, dtype: torch.dtype | None = None) -> None:
    """Write config.json and (optionally sharded) safetensors in the HF layout."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = model.config
    state = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v)
             .detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    config.torch_dtype = str(dtype or next(iter(state.values())).dtype).removeprefix("torch.")
    config.save(directory / "config.json")
    meta = {"format": "pt"}
    if max_shard_bytes is None:
        save_file(state, str(directory / "model.safetensors"), metadata=meta)
        return
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key, tensor in state.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][key] = tensor
        size += nbytes
    weight_map = {}
    for i, shard in enumerate(shards, 1):
        name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(directory / name), metadata=meta)
        weight_map.update(dict.fromkeys(shard, name))
    total = sum(t.numel() * t.element_size() for t in state.values())
    (directory / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2) + "\n")
