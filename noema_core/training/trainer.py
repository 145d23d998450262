"""The training loop for the bundled model: resumable, time- or step-budgeted, CPU or CUDA.

One screen per concern, in the spirit of nanoGPT's train.py:
- the run's settings (`TrainConfig`), saved with every checkpoint so a resume needs only the
  output directory;
- the learning-rate schedule (warmup, then cosine to `min_lr_ratio`), driven by the share of
  the budget used, so a run stopped by its time budget still ends its schedule;
- auxiliary-loss-free expert balancing: each MoE layer's `expert_bias` moves towards the
  experts that received fewer tokens (it steers selection only, as in the checkpoint);
- checkpoints in safetensors (model and optimizer moments) plus a JSON state: never pickle.
"""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from noema_core.config import noema_tiny_shape
from noema_core.errors import SettingsError
from noema_core.model import NoemaModel, init_weights
from noema_core.moe import Router
from noema_core.training.objective import NoiseConfig, loss_fn


@dataclass
class TrainConfig:
    out_dir: str = "runs/noema-tiny"
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # autocast dtype: auto, bfloat16 or float32 (weights stay fp32)
    # data
    batch_size: int = 128  # canvases per step
    max_batch_tokens: int = 0  # cap on canvases x canvas length per step (0 = none)
    block_length: int = 32
    workers: int = 2  # DataLoader processes generating problems
    vocab_size: int = 1024  # tokenizer target; the model's vocabulary is rounded up from it
    # schedule
    max_steps: int = 20_000
    max_minutes: float = 0.0  # 0 = no time budget; else the schedule follows elapsed time
    lr: float = 2e-3
    min_lr_ratio: float = 0.05
    warmup_steps: int = 300
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    expert_bias_rate: float = 1e-3
    # bookkeeping
    log_every: int = 20
    eval_every: int = 1000
    checkpoint_minutes: float = 5.0
    eval_problems: int = 27  # held-out problems decoded at each evaluation (3 per family)
    eval_gen_length: int = 256  # enough for the longest curriculum answer
    init_from: str = ""  # an exported model directory to start from (same shape and tokenizer)
    model: dict = field(default_factory=dict)  # NoemaConfig overrides of the tiny shape
    noise: dict = field(default_factory=dict)  # NoiseConfig overrides


@dataclass
class TrainProgress:
    """What the trainer reports after each logged step (the CLI draws it)."""

    step: int
    max_steps: int
    fraction: float  # of the budget (steps or time), 0..1
    loss: float
    lr: float
    tokens: int  # answer tokens trained on so far
    tokens_per_second: float
    elapsed: float
    evaluation: dict | None = None
    message: str = ""


ProgressFn = Callable[[TrainProgress], None]


def resolve_train_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    from noema_core.loading import resolve_device

    return resolve_device(name)


PRECISIONS = ("auto", "bfloat16", "float32")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")

# `model` overrides of the tiny shape: the bundled model, and a small one for smoke tests
# of the recipe (seconds per step on a CPU).
SHAPES: dict[str, dict] = {
    "tiny": {},
    "micro": {"hidden_size": 64, "num_hidden_layers": 2, "intermediate_size": 128,
              "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
              "num_experts": 4, "n_group": 2, "topk_group": 1, "moe_intermediate_size": 32,
              "num_experts_per_tok": 2},
}


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 matmuls natively (AVX512-BF16 or AMX); elsewhere bf16 is
    emulated and slower than fp32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(device: torch.device, precision: str = "auto") -> torch.dtype:
    """The dtype matmuls run in under autocast. `auto` picks bf16 on CUDA and on CPUs with
    native bf16 (measured 1.4x faster than fp32 on a 2-core AVX512-BF16 EPYC), else fp32."""
    if precision not in PRECISIONS:
        raise SettingsError(f"precision={precision!r} is unknown: choose one of "
                            f"{', '.join(PRECISIONS)}")
    if precision == "auto":
        native = device.type == "cuda" or cpu_has_native_bf16()
        return torch.bfloat16 if native else torch.float32
    return getattr(torch, precision)


class Trainer:
    def __init__(self, config: TrainConfig, progress: ProgressFn | None = None) -> None:
        self.config = config
        self.out = Path(config.out_dir)
        self.progress = progress or (lambda p: None)
        self.device = resolve_train_device(config.device)
        self.precision = resolve_precision(self.device, config.precision)
        self.tokenizer_dir = self.out / "tokenizer"
        self.step, self.elapsed, self.tokens = 0, 0.0, 0
        self.history: list[dict] = []
        self._stop = threading.Event()

    # --- setup ---------------------------------------------------------------------------

    def prepare(self) -> None:
        """Train the tokenizer (once), build the model, and resume from a checkpoint if any."""
        from noema_core.training import checkpoint
        from noema_core.training.tokenizer_recipe import train_tokenizer

        torch.manual_seed(self.config.seed)
        if not (self.tokenizer_dir / "tokenizer.json").is_file():
            if self.config.init_from:
                # The weights' token ids belong to their own tokenizer: a new one trained with
                # another seed could have the same size and different ids, which would load
                # without complaint and train garbage.
                self._copy_tokenizer(Path(self.config.init_from))
            else:
                self._say("training the tokenizer")
                train_tokenizer(self.tokenizer_dir, vocab_size=self.config.vocab_size,
                                seed=self.config.seed)
        from noema_core.tokenizer import NoemaTokenizer

        self.tokenizer = NoemaTokenizer.from_dir(self.tokenizer_dir)
        for folder in ("checkpoint", "model"):  # a save cut between its two renames
            checkpoint.recover(self.out / folder)
        if (self.out / "checkpoint").is_dir():
            self._load_checkpoint()
            self._say(f"resumed at step {self.step}")
        else:
            self._build_model()
            if self.config.init_from:
                self._load_weights(Path(self.config.init_from))
                self._say(f"starting from the weights in {self.config.init_from}")
        self._balance_loads = self._attach_router_counters()
        self._say(f"training on {self.device} with {self.precision_name} matmuls")

    @property
    def precision_name(self) -> str:
        return str(self.precision).removeprefix("torch.")

    def _copy_tokenizer(self, model_dir: Path) -> None:
        from noema_core.training.checkpoint import copy_tokenizer

        copy_tokenizer(model_dir, self.tokenizer_dir, TOKENIZER_FILES)
        self._say(f"using the tokenizer of {model_dir}")

    def _build_model(self) -> None:
        """A freshly initialised model of the tiny shape (with the configured overrides)."""
        vocab = math.ceil(self.tokenizer.vocab_size / 64) * 64
        self.model_config = dataclasses.replace(noema_tiny_shape(vocab), **self.config.model,
                                                pad_token_id=self.tokenizer.eos_id)
        self.model = NoemaModel(self.model_config)
        init_weights(self.model, seed=self.config.seed)
        self.model.to(self.device).train()
        self.optimizer = self._make_optimizer()

    def _make_optimizer(self) -> torch.optim.Optimizer:
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            matrix = p.dim() >= 2 and "word_embeddings" not in name and "gate.weight" not in name
            (decay if matrix else no_decay).append(p)
        groups = [{"params": decay, "weight_decay": self.config.weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}]
        fused = self.device.type == "cuda"
        return torch.optim.AdamW(groups, lr=self.config.lr, betas=(0.9, 0.95), fused=fused)

    def _attach_router_counters(self) -> dict[Router, torch.Tensor]:
        """Count the tokens each expert receives, via forward hooks (the model stays pure)."""
        loads: dict[Router, torch.Tensor] = {}
        for module in self.model.modules():
            if isinstance(module, Router):
                loads[module] = torch.zeros(module.weight.shape[0], device=self.device)

                def count(router: Router, _inputs: tuple[torch.Tensor, ...],
                          output: tuple[torch.Tensor, torch.Tensor],
                          loads: dict[Router, torch.Tensor] = loads) -> None:
                    chosen = output[0]
                    loads[router] += torch.bincount(chosen.flatten(),
                                                    minlength=loads[router].numel())
                module.register_forward_hook(count)
        return loads

    # --- the loop ------------------------------------------------------------------------

    def schedule(self) -> tuple[float, float]:
        """(share of the budget used, learning rate)."""
        c = self.config
        fraction = self.step / c.max_steps
        if c.max_minutes:
            fraction = max(fraction, self.elapsed / (60 * c.max_minutes))
        fraction = min(fraction, 1.0)
        if self.step < c.warmup_steps:
            return fraction, c.lr * (self.step + 1) / c.warmup_steps
        # 1) cosine from lr to lr * min_lr_ratio over the rest of the budget
        warm = c.warmup_steps / c.max_steps
        progress = min(1.0, max(0.0, (fraction - warm) / max(1e-9, 1 - warm)))
        ratio = c.min_lr_ratio + (1 - c.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        return fraction, c.lr * ratio

    def train(self, stop: threading.Event | None = None) -> dict:
        """Run to the budget. Setting `stop` (the CLI's Ctrl-C) ends the run after the step
        (or evaluation problem) in progress, saving as an interruption does."""
        from noema_core.training.data import batches

        self._stop = stop or threading.Event()
        c = self.config
        noise = NoiseConfig(**c.noise)
        stream = batches(self.tokenizer_dir, seed=c.seed * 100_003 + self.step,
                         batch_size=c.batch_size, block_length=c.block_length, noise=noise,
                         max_batch_tokens=c.max_batch_tokens,
                         workers=c.workers)
        autocast = torch.autocast(self.device.type, dtype=self.precision,
                                  enabled=self.precision != torch.float32)
        last_save = last_log = time.perf_counter()
        tokens_at_log, losses = self.tokens, []
        try:
            while True:
                if self._stop.is_set():
                    raise KeyboardInterrupt
                fraction, lr = self.schedule()
                if fraction >= 1.0:
                    break
                started = time.perf_counter()
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                batch = next(stream).to(self.device)
                with autocast:
                    loss = loss_fn(self.model, batch)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip)
                self.optimizer.step()
                self._balance_experts()
                self.step += 1
                self.tokens += batch.tokens
                losses.append(loss.detach())
                self.elapsed += time.perf_counter() - started
                if self.step % c.log_every == 0:
                    now = time.perf_counter()
                    mean_loss = torch.stack(losses).mean().item()
                    losses.clear()
                    speed = (self.tokens - tokens_at_log) / (now - last_log)
                    tokens_at_log, last_log = self.tokens, now
                    self.history.append({"step": self.step, "loss": round(mean_loss, 5),
                                         "lr": lr, "tokens": self.tokens,
                                         "elapsed": round(self.elapsed, 1)})
                    evaluation = self.evaluate() if self.step % c.eval_every == 0 else None
                    self.progress(TrainProgress(self.step, c.max_steps, fraction, mean_loss, lr,
                                                self.tokens, speed, self.elapsed, evaluation))
                if time.perf_counter() - last_save > 60 * c.checkpoint_minutes:
                    self.save_checkpoint()
                    last_save = time.perf_counter()
        except KeyboardInterrupt:
            self.save_checkpoint()
            self.export(self.out / "model")  # usable as it stands; resuming continues the run
            raise
        self.save_checkpoint()
        final = self.evaluate()
        self.export(self.out / "model")
        return {"step": self.step, "tokens": self.tokens, "elapsed": self.elapsed,
                "device": str(self.device),
                "precision": self.precision_name, "evaluation": final}

    @torch.no_grad()
    def _balance_experts(self) -> None:
        for router, load in self._balance_loads.items():
            if load.sum() > 0:
                router.expert_bias += self.config.expert_bias_rate * torch.sign(
                    load.mean() - load)
                load.zero_()

    # --- evaluation ----------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Greedy S-mode decoding of a few held-out problems: exact boxed answers, TPF."""
        if self.config.eval_problems == 0:
            return {}
        from noema_core.decoding.sampler import Sampler
        from noema_core.decoding.settings import DecodingSettings
        from noema_core.training.curriculum import FAMILIES, held_out_suite
        from noema_core.training.curriculum.notation import boxed

        per_family = max(1, self.config.eval_problems // len(FAMILIES))
        suite = held_out_suite(per_family, seed=1)
        self.model.eval()
        # Eager: the weights change between evaluations, a compile would not pay for itself.
        sampler = Sampler(self.model, mask_id=self.tokenizer.mask_id,
                          eos_ids=self.tokenizer.stop_ids, compile=False)
        settings = DecodingSettings.for_mode("s", gen_length=self.config.eval_gen_length)
        correct = forwards = new_tokens = 0
        for problem in suite:
            if self._stop.is_set():  # Ctrl-C: the run saves now, the evaluation can wait
                break
            prompt = self.tokenizer.encode_chat([{"role": "user", "content": problem.question}])
            *_, finished = sampler.generate(prompt, settings, decode=self.tokenizer.decode)
            result = finished.result  # the last event is always GenerationFinished
            correct += result.text.strip().endswith(boxed(problem.answer))
            forwards += result.stats.forwards
            new_tokens += result.stats.new_tokens
        self.model.train()
        return {"accuracy": correct / len(suite), "problems": len(suite),
                "tokens_per_forward": new_tokens / max(forwards, 1)}

    # --- checkpoints ---------------------------------------------------------------------

    def save_checkpoint(self) -> None:
        from noema_core.training import checkpoint

        meta = {"step": self.step, "elapsed": self.elapsed, "tokens": self.tokens,
                "train_config": dataclasses.asdict(self.config),
                "model_config": self.model_config.to_dict(), "history": self.history}
        checkpoint.save(self.out / "checkpoint", self.model, self.optimizer, meta)

    def _load_checkpoint(self) -> None:
        from noema_core.training import checkpoint

        folder = self.out / "checkpoint"
        meta, self.model_config = checkpoint.read_meta(folder)
        self.step, self.elapsed = meta["step"], meta["elapsed"]
        self.tokens, self.history = meta["tokens"], meta["history"]
        self.model = NoemaModel(self.model_config)
        self.model.to(self.device).train()
        self.optimizer = self._make_optimizer()
        checkpoint.load_into(folder, self.model, self.optimizer, self.device)

    def _load_weights(self, directory: Path) -> None:
        from noema_core.training.checkpoint import load_exported_weights

        load_exported_weights(self.model, self.model_config, directory)

    def export(self, directory: Path, dtype: torch.dtype = torch.float16) -> None:
        """The shippable model: HF-layout config, sharded safetensors, tokenizer files; written
        beside `directory` and swapped in whole, so a kill mid-export keeps the last one."""
        import shutil

        from noema_core.loading import save_checkpoint
        from noema_core.training.checkpoint import replace_dir, staging_dir

        self.model.eval()
        staged = staging_dir(directory)
        save_checkpoint(self.model, staged, dtype=dtype, max_shard_bytes=15 * 2**20)
        for file in self.tokenizer_dir.iterdir():
            shutil.copy(file, staged / file.name)
        self._write_generation_config(staged)
        replace_dir(staged, directory)
        self.model.train()

    def _write_generation_config(self, directory: Path) -> None:
        """generation_config.json: the decoding presets and history window of the model this
        run started from (if any; re-tune them for the new weights) and how many turns of one
        conversation the curriculum's canvases hold, for the app's notice."""
        from noema_core.training.data import MAX_EARLIER_EXCHANGES

        config: dict = {}
        start = Path(self.config.init_from) / "generation_config.json"
        if self.config.init_from and start.is_file():
            try:
                config = {k: v for k, v in json.loads(start.read_text()).items()
                          if k in ("decoding_presets", "history_exchanges")}
            except (OSError, ValueError):
                config = {}
        config["max_turns_trained"] = 1 + MAX_EARLIER_EXCHANGES
        (directory / "generation_config.json").write_text(json.dumps(config, indent=2) + "\n")

    def _say(self, message: str) -> None:
        self.progress(TrainProgress(self.step, self.config.max_steps, 0.0, float("nan"), 0.0,
                                    self.tokens, 0.0, self.elapsed, message=message))
