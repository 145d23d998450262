"""Which files a checkpoint may make us open: its own regular files, nothing else.

A checkpoint is data from someone else. Its index names shard files, its tokenizer names more
files, and any of them can be a symlink: without a check, `"../../etc/passwd"` in a weight map
or a symlinked tokenizer_config.json reads files outside the directory, and a FIFO or device
node in place of a file blocks the loader forever. Every file the engine (or transformers, on
its behalf) opens from a checkpoint goes through `checkpoint_file` first.

Files are contained in the checkpoint directory after resolving symlinks, except in a Hugging
Face cache snapshot (`models--org--name/snapshots/<rev>/`), whose files are by design symlinks
into the same repository's `blobs/` folder: there the repository folder is the boundary.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from noema_core.errors import CheckpointError

# Files transformers' tokenizer loader reads from a directory, when present.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "added_tokens.json", "chat_template.jinja", "chat_template.json")
_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISDIR, "a directory"))


def boundary(directory: Path) -> Path:
    """The folder every file of `directory` must resolve inside."""
    real = directory.resolve()
    if real.parent.name == "snapshots" and real.parent.parent.name.startswith("models--"):
        return real.parent.parent
    return real


def checkpoint_file(directory: Path, name: str) -> Path | None:
    """`directory / name` if it is a readable regular file inside the checkpoint; None if it
    does not exist. Anything else (outside, not a regular file, unreadable) is a
    `CheckpointError` (exit 3) naming the file, raised before the file is opened."""
    path = directory / name
    try:
        if not os.path.lexists(path):
            return None
        real = path.resolve()
        root = boundary(directory)
        if not real.is_relative_to(root):
            raise CheckpointError(f"{name!r} in {directory} resolves to {real}, outside the "
                                  f"checkpoint directory: Noema reads only files inside it; "
                                  f"copy the file into the directory or re-download the "
                                  f"checkpoint")
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        raise CheckpointError(f"{path} is a broken symlink: restore the file it points to or "
                              f"re-download the checkpoint") from None
    except (OSError, ValueError) as err:  # a name too long, a NUL byte, a loop of symlinks
        raise CheckpointError(f"{name!r} named by the checkpoint in {directory} is not a usable "
                              f"file name ({err}): re-download the checkpoint") from None
    if not stat.S_ISREG(mode):
        kind = next((label for test, label in _KINDS if test(mode)), "not a regular file")
        raise CheckpointError(f"{path} is {kind}, not a regular file: replace it with the "
                              f"checkpoint's file")
    try:  # O_NONBLOCK: should the file have been swapped for a FIFO since the stat, no hang
        os.close(os.open(real, os.O_RDONLY | os.O_NONBLOCK))
    except PermissionError:
        raise CheckpointError(f"{path}: permission denied: make it readable (chmod u+r) or run "
                              f"as its owner") from None
    except OSError as err:
        raise CheckpointError(f"{path} cannot be opened ({err.strerror or err}): re-download "
                              f"the checkpoint") from None
    return path


def required_file(directory: Path, name: str, missing: str) -> Path:
    """`checkpoint_file`, raising `CheckpointError(missing)` when the file does not exist."""
    path = checkpoint_file(directory, name)
    if path is None:
        raise CheckpointError(missing)
    return path


def check_tokenizer_files(directory: Path) -> None:
    """Vet every file transformers would read for the tokenizer, before it reads any."""
    for name in TOKENIZER_FILES:
        checkpoint_file(directory, name)
