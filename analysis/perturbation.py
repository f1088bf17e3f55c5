#!/usr/bin/python3
"""Perturbation: how far the weights and the NTK move during training, against the width m
(experiments/perturbation).

usage: analysis/perturbation.py OUT.png PATH [PATH ...]

Inputs: results.h5 files of `softntk train` runs with ntk.every > 0 (a PATH that is a directory
stands for its */results.h5). From each: /train/max_drift (max_r ||w_r(t) - w_r(0)|| at every step),
/train/loss, /ntk/{step, diff_init_fro, diff_init_spec, norm_fro, lambda_max} (one row per
snapshot) and the root attributes (activation, m, eta).
Per run: R = max over the run of max_drift; dH = max over snapshots of ||H(t) - H(0)||_F /
||H(0)||_F (and the spectral version over lambda_max(H(0))); the ratio dH / R. Per activation:
slopes of log R and log dH against log m, with standard errors, and of log dH(t) against log R(t)
over every snapshot with t > 0 (1 when the NTK moves in proportion to the weights, the mechanism of
the perturbation lemma).
Outputs: OUT.png and OUT.pdf (R and dH against m with fits; dH(t) against R(t)) and OUT.json (per
run and per activation; R in the units of w, dH dimensionless)."""
import os
import sys
from collections import defaultdict

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sntk_results import (AnalysisError, attrs_of, find_files, loglog_fit, need,  # noqa: E402
                          run_analysis, save_outputs)

ACTS = ("softmax", "exp", "relu")
# Guide lines only (never used in a computation): R ~ nu max|u| / gamma over the paper's output
# scales with eta (gamma^2 / nu) fixed, i.e. m^-1 for softmax and exp, m^-1/2 for relu.
THEORY = {"softmax": -1.0, "exp": -1.0, "relu": -0.5}


def read_run(path):
    """Drift and NTK movement of one run."""
    with h5py.File(path, "r") as f:
        need(f, "train/max_drift", "train/loss", "ntk/step", "ntk/diff_init_fro",
             "ntk/diff_init_spec", "ntk/norm_fro", "ntk/lambda_max")
        a = attrs_of(f)
        drift = f["train/max_drift"][...]
        loss = f["train/loss"][...]
        step = f["ntk/step"][...].astype(int)
        fro, spec = f["ntk/diff_init_fro"][...], f["ntk/diff_init_spec"][...]
        h0, lmax0 = float(f["ntk/norm_fro"][0]), float(f["ntk/lambda_max"][0])
    if len(step) < 2 or step[0] != 0:
        raise AnalysisError(f"{path}: the NTK needs a snapshot at step 0 and at least one later")
    snap = step < len(drift)
    return {"path": path, "activation": a["activation"], "m": int(a["m"]), "n": int(a["n"]),
            "d": int(a["d"]), "eta": float(a["eta"]), "steps": len(loss) - 1,
            "loss_ratio": float(loss[-1] / loss[0]), "R": float(np.max(drift)),
            "dH_fro": float(np.max(fro) / h0), "dH_spec": float(np.max(spec) / lmax0),
            "R_t": drift[step[snap]].tolist(), "dH_t": (fro[snap] / h0).tolist(),
            "t": step[snap].tolist()}


def summarise(runs):
    out = {}
    for act in ACTS:
        sel = sorted((r for r in runs if r["activation"] == act), key=lambda r: r["m"])
        if not sel:
            continue
        if len({r["m"] for r in sel}) < 3:
            raise AnalysisError(f"{act}: {len(sel)} widths; the slopes need at least 3")
        m = [r["m"] for r in sel]
        pairs = [(R, dH) for r in sel for R, dH in zip(r["R_t"][1:], r["dH_t"][1:])]
        out[act] = {"m": m, "R": [r["R"] for r in sel], "dH_fro": [r["dH_fro"] for r in sel],
                    "dH_spec": [r["dH_spec"] for r in sel],
                    "dH_over_R": [r["dH_fro"] / r["R"] for r in sel],
                    "fit_R": loglog_fit(m, [r["R"] for r in sel]),
                    "fit_dH_fro": loglog_fit(m, [r["dH_fro"] for r in sel]),
                    "fit_dH_spec": loglog_fit(m, [r["dH_spec"] for r in sel]),
                    "fit_dH_vs_R": loglog_fit(*zip(*pairs))}
    if not out:
        raise AnalysisError("no run of a known activation")
    return out


def plot(summary, runs):
    fig, (ax_r, ax_h, ax_x) = plt.subplots(1, 3, figsize=(15, 4.4))
    colors = {}
    for act, s in summary.items():
        m = np.array(s["m"], float)
        for ax, key, fit in ((ax_r, "R", "fit_R"), (ax_h, "dH_fro", "fit_dH_fro")):
            line, = ax.loglog(m, s[key], "o", label=f"{act}: slope {s[fit]['slope']:.3f} +- "
                              f"{s[fit]['slope_stderr']:.3f}")
            colors[act] = line.get_color()
            ax.loglog(m, np.exp(s[fit]["intercept"]) * m ** s[fit]["slope"], "-",
                      color=line.get_color(), lw=1)
    for ax, key in ((ax_r, "R"), (ax_h, "dH_fro")):
        for act, s in summary.items():
            m = np.array(s["m"], float)
            ax.loglog(m, s[key][0] * (m / m[0]) ** THEORY[act], ":", color=colors[act], lw=1)
        ax.plot([], [], "k:", lw=1, label="theory: m^-1 (softmax, exp), m^-1/2 (relu)")
        ax.set_xlabel("hidden width m")
    for r in runs:
        if r["activation"] in colors:
            ax_x.loglog(r["R_t"][1:], r["dH_t"][1:], ".-", color=colors[r["activation"]],
                        lw=0.5, ms=3)
    for act, s in summary.items():
        ax_x.plot([], [], ".-", color=colors[act], label=f"{act}: slope "
                  f"{s['fit_dH_vs_R']['slope']:.3f}")
    R = np.array([min(x for r in runs for x in r["R_t"][1:]), max(r["R"] for r in runs)])
    lo = min(x for r in runs for x in r["dH_t"][1:])
    ax_x.loglog(R, lo * (R / R[0]), "k:", lw=1, label="slope 1 (lemma: dH <= C R)")
    ax_x.loglog(R, lo * (R / R[0]) ** 2, "k--", lw=1, label="slope 2")
    ax_r.set_ylabel("R = max_t max_r ||w_r(t) - w_r(0)||")
    ax_r.set_title("weight movement over the whole run", fontsize=10)
    ax_h.set_ylabel("max_t ||H(t) - H(0)||_F / ||H(0)||_F")
    ax_h.set_title("NTK movement over the whole run", fontsize=10)
    ax_x.set_xlabel("max_r ||w_r(t) - w_r(0)|| at snapshot t")
    ax_x.set_ylabel("||H(t) - H(0)||_F / ||H(0)||_F")
    ax_x.set_title("NTK movement against weight movement\n(every snapshot of every run)",
                   fontsize=10)
    for ax in (ax_r, ax_h, ax_x):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    r0 = runs[0]
    fig.suptitle(f"perturbation during training: n = {r0['n']}, d = {r0['d']}, {r0['steps']} "
                 f"steps, eta m fixed (softmax, exp) / eta fixed (relu)", fontsize=10)
    fig.tight_layout()
    return fig


def main(out, paths):
    runs = [read_run(p) for p in find_files(paths, "results.h5")]
    summary = summarise(runs)
    fig = plot(summary, runs)
    data = {"claim": "the weights and the NTK stay close to their initial values, closer as m "
                     "grows, and the NTK moves in proportion to the weights",
            "units": {"R": "units of w (input space)", "dH_*": "1 (relative to H(0))",
                      "m": "neurons"},
            "inputs": [r["path"] for r in runs], "activations": summary,
            "runs": [{k: v for k, v in r.items() if not k.endswith("_t") and k != "t"}
                     for r in runs]}
    save_outputs(fig, out, data)
    for act, s in summary.items():
        print(f"{act:8s} R slope {s['fit_R']['slope']:.3f} +- {s['fit_R']['slope_stderr']:.3f}, "
              f"dH slope {s['fit_dH_fro']['slope']:.3f} +- {s['fit_dH_fro']['slope_stderr']:.3f}, "
              f"dH vs R slope {s['fit_dH_vs_R']['slope']:.3f}; dH/R "
              f"{min(s['dH_over_R']):.3g}..{max(s['dH_over_R']):.3g}")


if __name__ == "__main__":
    sys.exit(run_analysis(main, sys.argv))
