#!/usr/bin/python3
"""Convergence: measured loss and per-step contraction against the paper's bound and the linearised
(NTK) prediction, per run (experiments/convergence).

usage: analysis/convergence.py OUT.png PATH [PATH ...]

Inputs: results.h5 files of `softntk train` runs with ntk.every covering step 0 and ntk.spectrum =
full (a PATH that is a directory stands for its */results.h5). From each: /train/{step, loss};
/ntk/linearised/{loss, bound} (the loss predicted from the spectrum of J J^T at step 0, and
L(0) (1 - eta lambda_min(J J^T) / 2)^t, the paper's bound with J J^T = (gamma^2/nu) H(0));
/ntk/eigenvalues (row 0: the spectrum of H(0)) with /ntk attributes gamma and nu; /data/X and the
root attributes (activation, m, sigma, eta), which give lambda_min(H*) from the closed forms of
DESIGN.md section 2 (the lambda of the paper's theorem).
Per run: the mean per-step contraction of the loss, (L(T)/L(0))^(1/T), measured and linearised; the
late contraction (log-slope over the last quarter of the steps); the bound's contraction
1 - eta (gamma^2/nu) lambda / 2 with lambda = lambda_min(H(0)) and lambda_min(H*); the asymptotic
linearised rate (1 - eta (gamma^2/nu) lambda_min(H(0)))^2; the share of steps where the measured loss
is at or below each bound; the largest relative deviation |L - L_lin| / L_lin.
Outputs: OUT.png and OUT.pdf (loss curves with prediction and bound; per-step contraction; deviation
from the linearised curve) and OUT.json (all of the above per run; contractions are per step,
losses in the units of the targets squared)."""
import os
import sys

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sntk_results import (AnalysisError, attrs_of, find_files, limit_kernel, need,  # noqa: E402
                          run_analysis, save_outputs)


def read_run(path):
    """The series and attributes one run contributes."""
    with h5py.File(path, "r") as f:
        need(f, "train/loss", "ntk/linearised/loss", "ntk/linearised/bound", "ntk/eigenvalues",
             "data/X")
        a = attrs_of(f)
        g = attrs_of(f["ntk"])
        if g.get("spectrum") != "full":
            raise AnalysisError(f"{path}: /ntk holds the spectrum '{g.get('spectrum')}', not full")
        run = {"path": path, "activation": a["activation"], "m": int(a["m"]), "n": int(a["n"]),
               "d": int(a["d"]), "sigma": float(a["sigma"]), "eta": float(a["eta"]),
               "scale": float(g["gamma"]) ** 2 / float(g["nu"]),
               "loss": f["train/loss"][...], "lin": f["ntk/linearised/loss"][...],
               "bound": f["ntk/linearised/bound"][...], "eig0": f["ntk/eigenvalues"][0],
               "X": f["data/X"][...]}
    T = min(len(run["loss"]), len(run["lin"]))
    if T < 8:
        raise AnalysisError(f"{path}: {T} steps; the contraction needs at least 8")
    for k in ("loss", "lin", "bound"):
        run[k] = run[k][:T]
    return run


def rates(run):
    """The contractions and bound checks of one run (plain numbers for the JSON)."""
    L, P, B = run["loss"], run["lin"], run["bound"]
    T = len(L) - 1
    c = run["scale"] * run["eta"]
    lam0 = float(run["eig0"][0])
    lam_star = float(np.linalg.eigvalsh(limit_kernel(run["X"], run["activation"], run["sigma"]))[0])
    q = max(T * 3 // 4, 1)
    late = lambda y: float(np.exp((np.log(y[T]) - np.log(y[q])) / (T - q)))  # noqa: E731
    bound_star = L[0] * (1 - 0.5 * c * lam_star) ** np.arange(T + 1)
    return {
        "steps": T, "loss_initial": float(L[0]), "loss_final": float(L[T]),
        "lambda_min_H0": lam0, "lambda_min_Hstar": lam_star,
        "contraction_measured": float((L[T] / L[0]) ** (1.0 / T)),
        "contraction_linearised": float((P[T] / P[0]) ** (1.0 / T)),
        "contraction_late_measured": late(L), "contraction_late_linearised": late(P),
        "contraction_asymptotic_linearised": float((1 - c * lam0) ** 2),
        "contraction_bound_H0": float(1 - 0.5 * c * lam0),
        "contraction_bound_Hstar": float(1 - 0.5 * c * lam_star),
        "eta_lambda_max": float(c * run["eig0"][-1]),
        "share_below_bound_H0": float(np.mean(L <= B * (1 + 1e-12))),
        "share_below_bound_Hstar": float(np.mean(L <= bound_star * (1 + 1e-12))),
        "max_rel_dev_linearised": float(np.max(np.abs(L - P) / P)),
    }


def label(run):
    return f"{run['activation']}, m = {run['m']}"


def plot(runs):
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    ax_l, ax_c, ax_d = axes
    for run in runs:
        L, P, B, r = run["loss"], run["lin"], run["bound"], run["rates"]
        t = np.arange(len(L))
        line, = ax_l.semilogy(t, L, lw=1.5, label=label(run))
        col = line.get_color()
        ax_l.semilogy(t, P, "--", color=col, lw=1)
        ax_l.semilogy(t, B, ":", color=col, lw=1)
        ax_c.semilogy(t[:-1], 1 - L[1:] / L[:-1], color=col, lw=1.2, label=label(run))
        ax_c.semilogy(t[:-1], 1 - P[1:] / P[:-1], "--", color=col, lw=0.8)
        ax_c.axhline(1 - r["contraction_bound_H0"], color=col, ls=":", lw=1)
        ax_d.semilogy(t, np.abs(L - P) / P, color=col, lw=1, label=label(run))
    ax_l.set_title("loss (solid), linearised prediction (dashed),\n"
                   "bound L(0)(1 - eta lambda_min(JJ^T)/2)^t (dotted)", fontsize=9)
    ax_l.set_ylabel("L(W(t))")
    ax_c.set_title("per-step decrease 1 - L(t+1)/L(t): measured (solid), linearised\n"
                   "(dashed), the bound's m eta lambda_min(H(0))/2 (dotted)", fontsize=9)
    ax_c.set_ylabel("1 - L(t+1) / L(t)")
    ax_d.set_title("deviation from the linearised prediction", fontsize=9)
    ax_d.set_ylabel("|L - L_lin| / L_lin")
    for ax in axes:
        ax.set_xlabel("step t")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    r0 = runs[0]
    fig.suptitle(f"gradient descent on n = {r0['n']} points, d = {r0['d']}: per-step contraction",
                 fontsize=10)
    fig.tight_layout()
    return fig


def main(out, paths):
    runs = [read_run(p) for p in find_files(paths, "results.h5")]
    order = {"softmax": 0, "exp": 1, "relu": 2}
    runs.sort(key=lambda r: (order.get(r["activation"], 3), r["m"]))
    for run in runs:
        run["rates"] = rates(run)
    fig = plot(runs)
    rows = [{"path": r["path"], "activation": r["activation"], "m": r["m"], "n": r["n"],
             "d": r["d"], "sigma": r["sigma"], "eta": r["eta"], "jjt_over_h": r["scale"],
             **r["rates"]} for r in runs]
    data = {"claim": "gradient descent drives the loss to zero at least at the rate "
                     "(1 - m eta lambda / 2) per step; the NTK linearisation predicts the curve",
            "prediction": {"contraction_measured": "<= contraction_bound (both lambda's)",
                           "max_rel_dev_linearised": "-> 0 as m grows"},
            "units": {"contraction_*": "per step (loss ratio)", "loss_*": "target units squared",
                      "lambda_*": "eigenvalue of the normalised NTK H (dimensionless)",
                      "jjt_over_h": "gamma^2 / nu: J J^T = jjt_over_h * H"},
            "inputs": [r["path"] for r in runs], "runs": rows}
    save_outputs(fig, out, data)
    for r in rows:
        print(f"{r['activation']:8s} m = {r['m']:7d}: contraction {r['contraction_measured']:.5f} "
              f"(linearised {r['contraction_linearised']:.5f}, bound {r['contraction_bound_H0']:.5f}"
              f" / H* {r['contraction_bound_Hstar']:.5f}); below bound {r['share_below_bound_H0']:.0%}"
              f"; max dev from linearised {r['max_rel_dev_linearised']:.2e}")


if __name__ == "__main__":
    sys.exit(run_analysis(main, sys.argv))
