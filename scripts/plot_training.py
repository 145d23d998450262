"""Draw a model's loss curve: python scripts/plot_training.py OUT_PNG STATE_JSON [STATE_JSON ...]

Each STATE_JSON is a run's checkpoint/state.json (or a copy, like docs/noema-tiny-stage1.json).
Several are drawn one after another on one token axis, as the stages of one model: a run that
continued from another's exported weights (`noema train --init-from`) counts its tokens from
zero, so each stage is shifted by the tokens of the stages before it.
Needs matplotlib (`pip install -e ".[train]"`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(out_path: str, *state_paths: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=120)
    offset, minutes = 0.0, 0.0
    for number, path in enumerate(state_paths, start=1):
        state = json.loads(Path(path).read_text())
        history = state["history"]
        config = state["train_config"]
        ax.plot([offset + h["tokens"] / 1e6 for h in history], [h["loss"] for h in history],
                linewidth=1.4, label=f"stage {number}: lr {config['lr']:g}, "
                                     f"{config['batch_size']} canvases/step, "
                                     f"{state['elapsed'] / 60:.0f} min")
        if number > 1:
            ax.axvline(offset, color="grey", linestyle=":", linewidth=1)
        offset += state["tokens"] / 1e6
        minutes += state["elapsed"] / 60
    ax.set_yscale("log")
    ax.set_xlabel("answer tokens trained on (millions)")
    ax.set_ylabel("cross-entropy on answer slots")
    # The stages ran on different machines (the README says which): minutes, not a device.
    ax.set_title(f"noema-tiny: training loss ({minutes:.1f} min of steps)")
    ax.grid(True, which="both", alpha=0.3)
    if len(state_paths) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_path)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__.splitlines()[0])
    main(sys.argv[1], *sys.argv[2:])
