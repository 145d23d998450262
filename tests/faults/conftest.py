"""The fault suite's harness: a tiny checkpoint to damage, a deadline, and canaries.

Every case asserts what a user sees (the exit code, one `error:` line with a cause and a
fix, no traceback), that nothing hangs past a deadline, and that no file changed outside
where the command may write.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from noema_core.loading import save_checkpoint
from noema_core.training.trainer import SHAPES, TrainConfig, Trainer
from tests.engine.conftest import tiny_model, write_tokenizer

DEADLINE_S = 60  # no single case may take longer: a hang fails instead of stalling the run


class Hung(Exception):
    pass


@pytest.fixture
def deadline(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a case that blocks (a FIFO opened, a lock never freed) instead of hanging. A
    module may allow more with its own DEADLINE_S; modules opt in with
    `pytestmark = pytest.mark.usefixtures("deadline")`."""
    seconds = getattr(request.module, "DEADLINE_S", DEADLINE_S)

    def expire(*_: object) -> None:
        raise Hung(f"no result within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="session")
def pristine_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sharded tiny checkpoint with a tokenizer: config, index, 2+ shards."""
    directory = tmp_path_factory.mktemp("pristine")
    save_checkpoint(tiny_model(seed=2, dtype=torch.float32), directory, max_shard_bytes=400_000)
    write_tokenizer(directory)
    return directory


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under `root` with its size, mtime and first bytes."""
    seen = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            info = path.stat()
            seen[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns,
                                                 path.read_bytes()[:64])
    return seen


class Workspace:
    """A tmp dir holding `ckpt/` (a copy of the tiny checkpoint to damage) and `canary/`
    (files no command may touch); `check_untouched()` compares both with their start."""

    def __init__(self, root: Path, pristine: Path) -> None:
        self.root = root
        self.ckpt = root / "ckpt"
        shutil.copytree(pristine, self.ckpt)
        self.canary = root / "canary"
        self.canary.mkdir()
        (self.canary / "keep.txt").write_text("canary\n")
        self._before: dict[Path, dict] = {}

    def freeze(self, *roots: Path) -> None:
        """Record `roots` (the canary always) as they are now, to check later."""
        for root in (self.canary, *roots):
            self._before[root] = snapshot(root)

    def check_untouched(self) -> None:
        for root, before in self._before.items():
            assert snapshot(root) == before, f"files under {root} changed"


@pytest.fixture
def ws(tmp_path: Path, pristine_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
       ) -> Iterator[Workspace]:
    monkeypatch.setenv("NOEMA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    workspace = Workspace(tmp_path, pristine_checkpoint)
    workspace.freeze()
    yield workspace
    workspace.check_untouched()


def cli(*args: str, stdin: str | None = None):
    """`noema ARGS` in this process (Typer's runner): fast, and output is captured apart."""
    from noema_tui.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], input=stdin)


def one_line_error(result, code: int) -> str:
    """The run exited `code` with exactly one `error: <cause>: <fix>` line, no traceback."""
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == code, (result.exit_code, output, result.exception)
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert ": " in line.removeprefix("error: "), f"no cause and fix in {line!r}"
    return line


TRAIN = ("--shape", "micro", "--device", "cpu", "--workers", "0", "--eval-problems", "0",
         "--batch-size", "4", "--precision", "float32", "--log-every", "1", "--warmup", "1")


def micro(out: Path, steps: int) -> TrainConfig:
    return TrainConfig(out_dir=str(out), device="cpu", precision="float32", batch_size=4,
                       workers=0, max_steps=steps, warmup_steps=1, log_every=1,
                       eval_problems=0, model=SHAPES["micro"])


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A micro run one step in: tokenizer/, checkpoint/ and model/."""
    from noema_core.training.tokenizer_recipe import train_tokenizer

    out = tmp_path_factory.mktemp("run")
    train_tokenizer(out / "tokenizer", vocab_size=512, samples=2000, seed=0)
    trainer = Trainer(micro(out, steps=1))
    trainer.prepare()
    trainer.train()
    return out


def mkfifo(path: Path) -> Path:
    if path.exists():
        path.unlink()
    os.mkfifo(path)
    return path
