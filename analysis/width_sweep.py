#!/usr/bin/python3
"""Final training loss against the hidden width m, from a width sweep's results.h5 files.

usage: analysis/width_sweep.py OUT.png PATH [PATH ...]

Each PATH is a results.h5 file or a directory whose */results.h5 are used (slurm/experiment.sh passes
the experiment's output directory). Left: the loss curves L(W(t)); right: the final loss against m
(log-log), one point per run, grouped by activation. Writes OUT.png, OUT.pdf and OUT.json (per run:
m, steps, initial and final loss). Used by experiments/width/."""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sntk_results import find_results, read_run  # noqa: E402


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = argv[1]
    paths = find_results(argv[2:])
    if not paths:
        print("width_sweep.py: no results.h5 found in " + " ".join(argv[2:]), file=sys.stderr)
        return 1
    rows = []
    fig, (ax_c, ax_w) = plt.subplots(1, 2, figsize=(11, 4))
    for path in paths:
        run = read_run(path)
        a = run["attrs"]
        rows.append({"run": run["name"], "path": path, "activation": a["activation"], "m": int(a["m"]),
                     "n": int(a["n"]), "d": int(a["d"]), "eta": float(a["eta"]),
                     "mpi_size": int(a["mpi_size"]), "steps": int(run["step"][-1]),
                     "initial_loss": float(run["loss"][0]), "final_loss": float(run["loss"][-1])})
        ax_c.semilogy(run["step"], run["loss"], label=f"m = {a['m']}")
    rows.sort(key=lambda r: (r["activation"], r["m"]))
    for act in sorted({r["activation"] for r in rows}):
        sel = [r for r in rows if r["activation"] == act]
        ax_w.loglog([r["m"] for r in sel], [r["final_loss"] for r in sel], "o-", label=act)
    ax_c.set_xlabel("step t")
    ax_c.set_ylabel("loss L(W(t))")
    ax_c.set_title("training loss")
    ax_w.set_xlabel("hidden width m")
    ax_w.set_ylabel(f"loss after {max(r['steps'] for r in rows)} steps")
    ax_w.set_title("final loss against width")
    for ax in (ax_c, ax_w):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    stem = os.path.splitext(out)[0]
    fig.savefig(out, dpi=120)
    fig.savefig(stem + ".pdf")
    with open(stem + ".json", "w") as f:
        json.dump(rows, f, indent=1)
    for r in rows:
        print(f"{r['run']:20s} {r['activation']:8s} m = {r['m']:8d}  steps {r['steps']:6d}  "
              f"loss {r['initial_loss']:.4e} -> {r['final_loss']:.4e}")
    print(f"wrote {out}, {stem}.pdf, {stem}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
