"""The model configuration: the fields of a LLaDA2-MoE `config.json`, and named shapes.

Everything the model builds comes from here; nothing about Noema-1 is hard-coded in the model.
Unknown keys in a checkpoint's config.json are ignored (they describe training, not shape),
except the two that would change the math: `hidden_act` and `rope_scaling` values we do not
implement are refused rather than silently computed as SiLU and plain RoPE.

A field missing from config.json takes the value LLaDA2MoeConfig (the reference
implementation's config class) gives it, so a checkpoint means the same thing here as there;
Noema-1's own shape is `noema_1_shape()`, which spells every field out.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from noema_core.errors import ConfigError

SUPPORTED_MODEL_TYPES = ("llada2_moe", "noema")
# config.json sizes that must be at least 1 (or 0): anything less cannot build a model.
POSITIVE_FIELDS = ("vocab_size", "hidden_size", "num_hidden_layers", "intermediate_size",
                   "num_attention_heads", "num_key_value_heads", "head_dim",
                   "max_position_embeddings")
MOE_POSITIVE_FIELDS = ("n_group", "topk_group", "num_experts_per_tok", "moe_intermediate_size")
NON_NEGATIVE_FIELDS = ("first_k_dense_replace", "num_experts", "num_shared_experts")
# The fields a model's size grows with, in the order a tie names them.
SIZE_FIELDS = ("num_hidden_layers", "num_experts", "hidden_size", "vocab_size",
               "intermediate_size", "moe_intermediate_size", "num_attention_heads",
               "num_key_value_heads", "head_dim", "num_shared_experts")
# The MLP activation: transformers' ACT2FN maps both names to the same SiLU.
SUPPORTED_HIDDEN_ACTS = ("silu", "swish")


@dataclass
class NoemaConfig:
    # Sizes: Noema-1's (a real config.json always states them).
    vocab_size: int = 157184
    hidden_size: int = 2048
    num_hidden_layers: int = 20
    intermediate_size: int = 5120  # dense MLP width
    num_attention_heads: int = 16
    num_key_value_heads: int = 4
    # Defaults below are LLaDA2MoeConfig's, for fields a config.json may leave out.
    first_k_dense_replace: int = 0  # layers with index < k use the dense MLP
    head_dim: int | None = None  # None: hidden_size // num_attention_heads
    partial_rotary_factor: float = 0.5
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    use_qk_norm: bool = True
    use_qkv_bias: bool = False
    use_bias: bool = True
    num_experts: int = 32
    num_experts_per_tok: int = 4
    n_group: int = 8
    topk_group: int = 4
    num_shared_experts: int = 0
    moe_intermediate_size: int = 512
    routed_scaling_factor: float = 2.5
    tie_word_embeddings: bool = False
    max_position_embeddings: int = 16384
    pad_token_id: int | None = 156892
    model_type: str = "llada2_moe"
    architectures: list[str] = field(default_factory=lambda: ["LLaDA2MoeModelLM"])
    torch_dtype: str = "bfloat16"

    def __post_init__(self) -> None:
        if self.head_dim is None:  # some configs derive it
            self.head_dim = self.hidden_size // self.num_attention_heads
        problems = []
        if self.num_attention_heads % self.num_key_value_heads:
            problems.append("num_attention_heads must be a multiple of num_key_value_heads")
        if self.num_experts:  # 0 experts: an all-dense model, no routing to check
            if self.num_experts % self.n_group:
                problems.append("num_experts must be a multiple of n_group")
            if not 0 < self.topk_group <= self.n_group:
                problems.append("topk_group must be in [1, n_group]")
            if self.num_experts_per_tok > (self.num_experts // self.n_group) * self.topk_group:
                problems.append("num_experts_per_tok exceeds the experts in the kept groups")
        if self.rotary_dim % 2:
            problems.append("partial_rotary_factor * head_dim must be even")
        if problems:
            raise ConfigError(f"config.json is inconsistent: {'; '.join(problems)}")

    @property
    def rotary_dim(self) -> int:
        return int(self.head_dim * self.partial_rotary_factor)

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0 and self.first_k_dense_replace < self.num_hidden_layers

    @classmethod
    def from_dict(cls, raw: dict) -> NoemaConfig:
        model_type = raw.get("model_type", "llada2_moe")
        if model_type not in SUPPORTED_MODEL_TYPES:
            raise ConfigError(
                f"config.json has model_type={model_type!r}: Noema loads only "
                f"{' or '.join(SUPPORTED_MODEL_TYPES)} checkpoints"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    @classmethod
    def from_file(cls, path: str | Path) -> NoemaConfig:
        from noema_core.checkpoint_files import checkpoint_file

        path = Path(path)
        if checkpoint_file(path.parent, path.name) is None:  # a FIFO or a link out: refused
            raise ConfigError(f"{path} is missing: a checkpoint directory needs config.json")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as err:
            raise ConfigError(f"{path} is not UTF-8 text (byte {err.start}): re-download the "
                              f"checkpoint") from None
        except (OSError, json.JSONDecodeError) as err:
            raise ConfigError(
                f"{path} is not valid JSON ({err}): re-download the checkpoint") from None
        return cls.from_checked_dict(raw, str(path))

    @classmethod
    def from_checked_dict(cls, raw: object, source: str,
                          fix: str = "fix config.json or re-download the checkpoint"
                          ) -> NoemaConfig:
        """`from_dict` for values read from a file (`source`): every type and range is
        checked and a bad one is a `ConfigError` naming the field, ending with `fix`."""
        if not isinstance(raw, dict):
            raise ConfigError(f"{source} is not a JSON object: {fix}")
        model_type = raw.get("model_type", "llada2_moe")
        if model_type not in SUPPORTED_MODEL_TYPES:
            raise ConfigError(f"{source} has model_type={model_type!r}: Noema loads only "
                              f"{' or '.join(SUPPORTED_MODEL_TYPES)} checkpoints")
        _check_values(raw, source, fix)
        _check_unimplemented(raw, source)
        try:
            return cls.from_dict(raw)
        except (TypeError, ValueError, ArithmeticError) as err:  # a value the checks let through
            raise ConfigError(f"{source} has an invalid value ({err}): {fix}") from None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def parameter_count(self, **sizes: int) -> int:
        """The parameters the model has, from the sizes alone (nothing is built); `sizes`
        replaces fields, to ask which one makes a config large."""
        def size(name: str) -> int:
            return sizes.get(name, getattr(self, name))

        h, d = size("hidden_size"), size("head_dim")
        q, kv = size("num_attention_heads"), size("num_key_value_heads")
        attention = (h * (q + 2 * kv) * d + (q + 2 * kv) * d * self.use_qkv_bias
                     + q * d * h + h * self.use_bias + 2 * d * self.use_qk_norm)
        experts = size("num_experts")
        moe = experts * h + 3 * h * size("moe_intermediate_size") * (
            experts + size("num_shared_experts"))
        dense_layers = (size("num_hidden_layers") if experts == 0
                        else min(size("first_k_dense_replace"), size("num_hidden_layers")))
        moe_layers = size("num_hidden_layers") - dense_layers
        layers = (size("num_hidden_layers") * (attention + 2 * h)
                  + dense_layers * 3 * h * size("intermediate_size") + moe_layers * moe)
        embeddings = size("vocab_size") * h * (1 if self.tie_word_embeddings else 2)
        return layers + embeddings + h

    def check_size(self, source: str, *, stored_bytes: int | None = None,
                   bytes_per_parameter: int = 2, memory_bytes: int | None = None) -> None:
        """Refuse, before anything is built, a config whose size cannot be real: more
        parameters than the weight files hold (at `bytes_per_parameter` each, the smallest
        dtype they may use) or than this machine's memory holds. Names the field to blame."""
        count = self.parameter_count()
        needed = count * bytes_per_parameter
        memory = memory_bytes if memory_bytes is not None else physical_memory()
        too_big_for_files = stored_bytes is not None and needed > stored_bytes * 1.1 + 2**20
        if not too_big_for_files and (memory is None or needed <= memory):
            return
        field_name = self._largest_factor()
        value = getattr(self, field_name)
        against = (f"the weight files hold {_human(stored_bytes)}" if too_big_for_files
                   else f"this machine has {_human(memory)} of memory")
        raise ConfigError(f"{source} implies {count:,} parameters ({_human(needed)}) but "
                          f"{against}: check {field_name}={value} (fix it or re-download the "
                          f"checkpoint)")

    def _largest_factor(self) -> str:
        """The size field that, set to its least, shrinks the parameter count the most (the
        least layer count keeps one layer past the dense ones, so MoE layers stay counted)."""
        least = {"num_hidden_layers": self.first_k_dense_replace + 1}
        return min(SIZE_FIELDS,
                   key=lambda name: self.parameter_count(**{name: least.get(name, 1)}))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")


def physical_memory() -> int | None:
    """This machine's RAM in bytes, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def _human(n: int | None) -> str:
    value = float(n or 0)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.3g} {unit}"
        value /= 1000
    return f"{value:.3g} TB"


def _check_values(raw: dict, path: str, fix: str) -> None:
    """Types and ranges of the values the model is built from, named one at a time."""
    defaults = {f.name: f.default for f in dataclasses.fields(NoemaConfig)}
    # The declared type's first word ("int | None" -> "int"); annotations are strings here.
    kinds = {f.name: str(f.type).split(" ")[0] for f in dataclasses.fields(NoemaConfig)}

    def bad(name: str, expected: str) -> ConfigError:
        return ConfigError(f"{path} has {name}={raw[name]!r}, expected {expected}: {fix}")

    for name, value in raw.items():
        kind = kinds.get(name)
        if value is None and name in ("head_dim", "pad_token_id"):
            continue  # derived from the other sizes / no padding token
        if kind == "bool":
            if not isinstance(value, bool):
                raise bad(name, "true or false")
        elif kind == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                raise bad(name, "a whole number")
        elif kind == "float" and (
                not isinstance(value, int | float) or isinstance(value, bool)
                or not math.isfinite(value)):
            raise bad(name, "a number")
    moe = raw.get("num_experts", defaults["num_experts"]) > 0
    for name in POSITIVE_FIELDS + (MOE_POSITIVE_FIELDS if moe else ()):
        if name in raw and raw[name] is not None and raw[name] < 1:
            raise bad(name, "at least 1")
    for name in NON_NEGATIVE_FIELDS:
        if name in raw and raw[name] < 0:
            raise bad(name, "at least 0")
    for name in ("rope_theta", "rms_norm_eps"):
        if name in raw and raw[name] <= 0:
            raise bad(name, "a positive number")
    if not 0 < raw.get("partial_rotary_factor", 0.5) <= 1:
        raise bad("partial_rotary_factor", "a fraction in (0, 1]")


def _check_unimplemented(raw: dict, path: str) -> None:
    """Refuse the config.json values that name math this model does not implement."""
    act = raw.get("hidden_act", "silu")
    if act not in SUPPORTED_HIDDEN_ACTS:
        raise ConfigError(f"{path} has hidden_act={act!r}, which Noema does not implement: "
                          f"it runs only silu MLPs, so this is not a Noema/LLaDA2 checkpoint")
    scaling = raw.get("rope_scaling")
    # {"rope_type": "default"} is transformers' spelling of "no scaling".
    kind = (scaling.get("rope_type", scaling.get("type")) if isinstance(scaling, dict)
            else scaling)
    if kind not in (None, "default"):
        raise ConfigError(f"{path} has rope_scaling={scaling!r}, which Noema does not "
                          f"implement: set it to null, or use a checkpoint without RoPE scaling")


def noema_1_shape() -> NoemaConfig:
    """Noema-1's published architecture (spec section 1); unknown values use LLaDA2-mini's."""
    return NoemaConfig(first_k_dense_replace=1, head_dim=128, rope_theta=600000.0,
                       rms_norm_eps=1e-6, use_bias=False, num_shared_experts=1)


def tiny_random_shape(vocab_size: int = 512) -> NoemaConfig:
    """A few-hundred-kilobyte model with every architectural feature, for tests and `bench`."""
    return NoemaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        num_hidden_layers=3,
        first_k_dense_replace=1,
        intermediate_size=128,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        num_experts=8,
        num_experts_per_tok=2,
        n_group=4,
        topk_group=2,
        moe_intermediate_size=32,
        num_shared_experts=1,
        rope_theta=600000.0,
        rms_norm_eps=1e-6,
        use_bias=False,
        max_position_embeddings=4096,
        pad_token_id=None,
    )


def noema_tiny_shape(vocab_size: int = 704) -> NoemaConfig:
    """The bundled model: Noema-1's architecture at small scale (about 12M parameters, 5M
    active per token): a dense first layer, then MoE layers of 8 small experts (2 active,
    group-limited routing over 4 groups) plus a shared expert."""
    return NoemaConfig(
        vocab_size=vocab_size,
        hidden_size=256,
        num_hidden_layers=8,
        first_k_dense_replace=1,
        intermediate_size=1024,
        num_attention_heads=8,
        num_key_value_heads=4,
        head_dim=32,
        partial_rotary_factor=0.5,
        rope_theta=10000.0,
        rms_norm_eps=1e-6,
        use_bias=False,
        num_experts=8,
        num_experts_per_tok=2,
        n_group=4,
        topk_group=2,
        num_shared_experts=1,
        moe_intermediate_size=192,
        routed_scaling_factor=2.0,
        max_position_embeddings=2048,
        pad_token_id=None,
    )
