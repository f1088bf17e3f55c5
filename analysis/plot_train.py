#!/usr/bin/python3
"""Plot the training curves of one or more softntk runs from their results.h5 files.

usage: analysis/plot_train.py OUT.png RESULTS.h5 [RESULTS.h5 ...]

Draws loss, gradient norm and max_r ||w_r - w_r(0)|| against the step (log scale) and writes OUT.png
and the same figure as PDF beside it. Reads only the HDF5 files."""
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out, paths = argv[1], argv[2:]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for path in paths:
        with h5py.File(path, "r") as f:
            a = f.attrs
            act = a["activation"].decode() if isinstance(a["activation"], bytes) else a["activation"]
            label = f"{act}, m={a['m']}, n={a['n']} ({os.path.basename(os.path.dirname(path))})"
            step = f["train/step"][...]
            for ax, key in zip(axes, ["loss", "grad_norm", "max_drift"]):
                ax.semilogy(step, f["train"][key][...], label=label)
    for ax, title in zip(axes, ["loss L(W(t))", "||dL/dW||", "max_r ||w_r(t) - w_r(0)||"]):
        ax.set_xlabel("step t")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    fig.savefig(os.path.splitext(out)[0] + ".pdf")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
