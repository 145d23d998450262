"""Typed errors: one class per cause, each with a one-line message naming the cause and the fix.

The CLI maps `exit_code` to the process exit status; the TUI shows `str(error)` as a titled
notice. None of these should ever surface as a traceback.
"""

from __future__ import annotations


class NoemaError(Exception):
    """Base class for every expected error the engine raises."""

    exit_code = 1


class ModelLoadError(NoemaError):
    """The model or its device could not be made ready (exit code 3)."""

    exit_code = 3


class ModelNotFoundError(ModelLoadError):
    """A model reference names no bundled model, local directory or reachable hub repo."""


class CheckpointError(ModelLoadError):
    """Weight files are missing, corrupt, or do not match config.json."""


class ConfigError(ModelLoadError):
    """config.json is missing, unreadable, or describes an unsupported model."""


class TokenizerError(ModelLoadError):
    """Tokenizer files are missing or lack a special token the engine needs."""


class DeviceError(ModelLoadError):
    """The requested device, dtype or quantization is not available here."""


class SettingsError(NoemaError, ValueError):
    """A decoding parameter is out of range (exit code 2, a usage error)."""

    exit_code = 2


class PromptTooLongError(NoemaError, ValueError):
    """The prompt plus the requested generation does not fit in the model's context."""

    exit_code = 2


class RunCheckpointError(NoemaError):
    """A training run's checkpoint (state.json, model or optimizer file) is damaged or
    missing (exit code 2: choose another --out, or delete the checkpoint to start over)."""

    exit_code = 2
