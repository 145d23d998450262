"""Draw a training run's loss curve: python scripts/plot_training.py RUN_STATE_JSON OUT_PNG

RUN_STATE_JSON is a run's checkpoint/state.json (or a copy, like docs/noema-tiny-training.json).
Needs matplotlib (`pip install -e ".[train]"`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(state_path: str, out_path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = json.loads(Path(state_path).read_text())["history"]
    tokens = [h["tokens"] / 1e6 for h in history]
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=120)
    ax.plot(tokens, [h["loss"] for h in history], linewidth=1.4)
    ax.set_yscale("log")
    ax.set_xlabel("answer tokens trained on (millions)")
    ax.set_ylabel("cross-entropy on answer slots")
    ax.set_title("noema-tiny: training loss (1x H100, 7.3 min of steps)")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_path)


if __name__ == "__main__":
    main(*sys.argv[1:3])
