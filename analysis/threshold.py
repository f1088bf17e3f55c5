#!/usr/bin/python3
"""Width threshold: the smallest width m*(n) at which gradient descent reaches the loss target within
the step budget, per activation, and its fitted exponent in n (experiments/threshold).

usage: analysis/threshold.py OUT.png PATH [PATH ...]

Inputs: results.h5 files of `softntk train` runs (a PATH that is a directory stands for its
*/results.h5), one per (activation, n, m, seed). From each: /train/loss and the root attributes
(activation, n, m, seed) with the resolved config's train.target_loss (the loss target) and
train.steps (the budget T).
Per (activation, n, m): g = the median over seeds of log10(min_t L(t) / target) (<= 0: reached).
m*(n) is the last upward crossing of g through 0 along the width grid, interpolated linearly in
log m between the two widths around it; it is censored (not fitted) when even the widest run fails
or the narrowest already succeeds. Fitted: the slope of log m* against log n with its standard error,
per activation.
Outputs: OUT.png and OUT.pdf (g against m for every n, per activation; m* against n with fits and
n^1, n^2 guides) and OUT.json (m* per (activation, n), the slopes, every run; m in neurons)."""
import os
import sys
from collections import defaultdict

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sntk_results import (AnalysisError, attrs_of, config_value, find_files,  # noqa: E402
                          loglog_fit, need, run_analysis, save_outputs)

ACTS = ("softmax", "exp", "relu")


def read_run(path):
    with h5py.File(path, "r") as f:
        need(f, "train/loss")
        a = attrs_of(f)
        loss = f["train/loss"][...]
    target, budget = config_value(a, "train", "target_loss"), config_value(a, "train", "steps")
    if target is None or float(target) <= 0:
        raise AnalysisError(f"{path}: its deck sets no train.target_loss (the loss target)")
    return {"path": path, "activation": a["activation"], "n": int(a["n"]), "m": int(a["m"]),
            "seed": int(a["seed"]), "target": float(target), "budget": int(budget),
            "steps": len(loss) - 1, "min_loss": float(np.min(loss)),
            "reached": bool(np.min(loss) <= float(target))}


def crossing(ms, g):
    """m* from the grid ms and the margins g (log10 of min loss over target): the last point where
    g goes from > 0 to <= 0, interpolated in log m. Returns (m*, status)."""
    if g[-1] > 0:
        return None, "not reached at the widest width"
    last_fail = max((i for i in range(len(g)) if g[i] > 0), default=None)
    if last_fail is None:
        return None, "reached already at the narrowest width"
    i = last_fail
    lm = np.log(ms[i]) + (np.log(ms[i + 1]) - np.log(ms[i])) * g[i] / (g[i] - g[i + 1])
    return float(np.exp(lm)), "resolved"


def summarise(runs):
    groups = defaultdict(lambda: defaultdict(list))
    for r in runs:
        groups[(r["activation"], r["n"])][r["m"]].append(r)
    out = {}
    for act in ACTS:
        ns = sorted(n for a, n in groups if a == act)
        if not ns:
            continue
        rows = []
        for n in ns:
            by_m = groups[act, n]
            ms = sorted(by_m)
            g = [float(np.median([np.log10(r["min_loss"] / r["target"]) for r in by_m[m]]))
                 for m in ms]
            mstar, status = crossing(ms, g)
            rows.append({"n": n, "m": ms, "margin": g, "m_star": mstar, "status": status,
                         "seeds": max(len(v) for v in by_m.values()),
                         "success": [float(np.mean([r["reached"] for r in by_m[m]])) for m in ms]})
        ok = [r for r in rows if r["m_star"]]
        fit = loglog_fit([r["n"] for r in ok], [r["m_star"] for r in ok]) if len(ok) >= 2 else None
        out[act] = {"rows": rows, "fit": fit}
    if not out:
        raise AnalysisError("no run of a known activation")
    if not any(s["fit"] for s in out.values()):
        raise AnalysisError("no activation has m* resolved at two n: widen the width grid")
    return out


def plot(summary, runs):
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.4))
    for ax, (act, s) in zip(axes, summary.items()):
        for row in s["rows"]:
            line, = ax.semilogx(row["m"], row["margin"], "o-", ms=3, lw=1, label=f"n = {row['n']}")
            if row["m_star"]:
                ax.axvline(row["m_star"], color=line.get_color(), lw=0.6, ls=":")
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("hidden width m")
        ax.set_ylabel("log10(min loss / target), median over seeds")
        ax.set_title(f"{act}: reached below 0 (dotted: m*)", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    ax = axes[3]
    for act, s in summary.items():
        ok = [r for r in s["rows"] if r["m_star"]]
        if not ok:
            continue
        n = np.array([r["n"] for r in ok], float)
        lab = act if not s["fit"] else (f"{act}: exponent {s['fit']['slope']:.2f} +- "
                                        f"{s['fit']['slope_stderr']:.2f}")
        line, = ax.loglog(n, [r["m_star"] for r in ok], "o", label=lab)
        if s["fit"]:
            ax.loglog(n, np.exp(s["fit"]["intercept"]) * n ** s["fit"]["slope"], "-",
                      color=line.get_color(), lw=1)
    n = np.array(sorted({r["n"] for r in runs}), float)
    base = min(r["m_star"] for s in summary.values() for r in s["rows"] if r["m_star"])
    ax.loglog(n, base * (n / n[0]) ** 2, "k:", lw=1, label="n^2 (theory: softmax, exp)")
    ax.loglog(n, base * (n / n[0]), "k--", lw=1, label="n^1")
    ax.set_xlabel("samples n")
    ax.set_ylabel("m*: smallest width that reaches the target")
    r0 = runs[0]
    ax.set_title(f"width threshold (target {r0['target'] / r0['n']:.3g} n, {r0['budget']} steps)",
                 fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def main(out, paths):
    runs = [read_run(p) for p in find_files(paths, "results.h5")]
    summary = summarise(runs)
    fig = plot(summary, runs)
    data = {"claim": "gradient descent reaches loss epsilon within T steps once m >= m*(n); the "
                     "theory's sufficient m grows like n^2 (softmax, exp)",
            "units": {"m_star": "neurons", "margin": "log10(min loss / target)", "n": "samples"},
            "inputs": [r["path"] for r in runs], "activations": summary, "runs": runs}
    save_outputs(fig, out, data)
    for act, s in summary.items():
        ms = ", ".join(f"n={r['n']}: " + (f"{r['m_star']:.3g}" if r["m_star"] else r["status"])
                       for r in s["rows"])
        fit = (f"exponent {s['fit']['slope']:.3f} +- {s['fit']['slope_stderr']:.3f}"
               if s["fit"] else "no fit")
        print(f"{act:8s} m* {ms}; {fit}")


if __name__ == "__main__":
    sys.exit(run_analysis(main, sys.argv))
