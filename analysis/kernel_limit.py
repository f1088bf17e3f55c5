#!/usr/bin/python3
"""Kernel limit: ||H(0) - H*|| / ||H*|| against the width m, per activation (experiments/kernel-limit).

usage: analysis/kernel_limit.py OUT.png PATH [PATH ...]

Inputs: ntk.h5 files of `softntk ntk` runs with ntk.limit = true (a PATH that is a directory stands
for its */ntk.h5). From each: the activation, m and seed (root attributes), ||H(0) - H*||_F and
||H(0) - H*||_2 (/ntk/diff_limit_fro, diff_limit_spec) and the eigenvalues of H* (/ntk/limit/
eigenvalues), which give ||H*||_F and ||H*||_2.
Per series (activation and sigma) and width: the root mean square over seeds of the relative errors;
fitted: the slope of log(RMS relative error) against log m, with its standard error (the theory's
rate is m^{-1/2}, DESIGN.md section 2).
Outputs: OUT.png and OUT.pdf (relative errors against m, log-log, fits and an m^{-1/2} guide) and
OUT.json (the slopes, the per-width RMS values and every run's numbers; errors are dimensionless
ratios of matrix norms)."""
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


def read_run(path):
    """One run's activation, width, seed and relative distances to H*."""
    with h5py.File(path, "r") as f:
        need(f, "ntk/diff_limit_fro", "ntk/diff_limit_spec", "ntk/limit/eigenvalues")
        a = attrs_of(f)
        lam = f["ntk/limit/eigenvalues"][...]
        fro, spec = float(f["ntk/diff_limit_fro"][0]), float(f["ntk/diff_limit_spec"][0])
    return {"path": path, "activation": a["activation"], "m": int(a["m"]), "n": int(a["n"]),
            "d": int(a["d"]), "seed": int(a["seed"]), "sigma": float(a["sigma"]),
            "rel_fro": fro / float(np.sqrt(np.sum(lam ** 2))),
            "rel_spec": spec / float(np.max(np.abs(lam)))}


def series_name(act, sigma):
    return f"{act}, sigma = {sigma:g}"


def summarise(runs):
    """Per (activation, sigma) series: widths, RMS over seeds of both errors, seeds per width,
    fitted slopes."""
    groups = defaultdict(lambda: defaultdict(list))
    for r in runs:
        if r["activation"] in ACTS:
            groups[(ACTS.index(r["activation"]), -r["sigma"])][r["m"]].append(r)
    out = {}
    for key in sorted(groups):
        by_m = groups[key]
        act, sigma = ACTS[key[0]], -key[1]
        ms = sorted(by_m)
        if len(ms) < 3:
            raise AnalysisError(f"{series_name(act, sigma)}: {len(ms)} widths; the slope needs 3")
        rms = {k: [float(np.sqrt(np.mean([r[k] ** 2 for r in by_m[m]]))) for m in ms]
               for k in ("rel_fro", "rel_spec")}
        out[series_name(act, sigma)] = {
            "activation": act, "sigma": sigma, "m": ms, "seeds": [len(by_m[m]) for m in ms],
            "rms_rel_fro": rms["rel_fro"], "rms_rel_spec": rms["rel_spec"],
            "fit_fro": loglog_fit(ms, rms["rel_fro"]), "fit_spec": loglog_fit(ms, rms["rel_spec"])}
    if not out:
        raise AnalysisError("no run of a known activation")
    return out


def plot(summary, runs):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, key, fit, title in ((axes[0], "rel_fro", "fit_fro", "Frobenius"),
                                (axes[1], "rel_spec", "fit_spec", "spectral")):
        for name, s in summary.items():
            pts = [(r["m"], r[key]) for r in runs
                   if r["activation"] == s["activation"] and r["sigma"] == s["sigma"]]
            style = "o" if s["sigma"] == max(x["sigma"] for x in summary.values()) else "s"
            line, = ax.loglog(s["m"], s["rms_" + key], style, ms=5, label=f"{name}: slope "
                              f"{s[fit]['slope']:.3f} +- {s[fit]['slope_stderr']:.3f}")
            ax.loglog(*zip(*pts), ".", color=line.get_color(), alpha=0.2)
            m = np.array(s["m"], float)
            ax.loglog(m, np.exp(s[fit]["intercept"]) * m ** s[fit]["slope"], "-",
                      color=line.get_color(), lw=1)
        m = np.array(sorted({r["m"] for r in runs}), float)
        top = max(max(s["rms_" + key]) for s in summary.values())
        ax.loglog(m, top * (m / m[0]) ** -0.5, "k:", lw=1, label="m^(-1/2) (theory)")
        ax.set_xlabel("hidden width m")
        ax.set_ylabel(f"||H(0) - H*|| / ||H*|| ({title})")
        ax.set_title(f"{title} norm: RMS over seeds (dots: single runs)", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    r0 = runs[0]
    fig.suptitle(f"NTK at initialisation vs its infinite-width limit (n = {r0['n']}, "
                 f"d = {r0['d']})", fontsize=10)
    fig.tight_layout()
    return fig


def main(out, paths):
    runs = [read_run(p) for p in find_files(paths, "ntk.h5")]
    summary = summarise(runs)
    fig = plot(summary, runs)
    data = {"claim": "the empirical NTK at initialisation converges to H* as m grows",
            "prediction": {"slope": -0.5, "quantity": "log ||H(0) - H*||_F / ||H*||_F vs log m"},
            "units": {"rel_fro": "1 (ratio of Frobenius norms)",
                      "rel_spec": "1 (ratio of spectral norms)", "m": "neurons"},
            "inputs": [r["path"] for r in runs], "series": summary, "runs": runs}
    save_outputs(fig, out, data)
    for name, s in summary.items():
        print(f"{name:20s} m = {s['m'][0]}..{s['m'][-1]} ({len(s['m'])} widths, {max(s['seeds'])} "
              f"seeds): slope {s['fit_fro']['slope']:.3f} +- {s['fit_fro']['slope_stderr']:.3f} "
              f"(Frobenius), {s['fit_spec']['slope']:.3f} (spectral)")


if __name__ == "__main__":
    sys.exit(run_analysis(main, sys.argv))
