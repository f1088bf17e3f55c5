#!/usr/bin/env python3
"""experiments/score-model: what a softmax score model in its NTK regime needs to generate the data.

Usage: score_model.py OUT.png RUN_DIR...   (writes OUT.png and OUT.json; reads only the files)

Every run is one `softntk score` with samples (results.h5: /score, /score/bin_error, /samples,
/diffusion with its parametrisation, data/X and data/Y, the held-out points). For each run:
- the settings that differ between lines (parametrisation, sigma, m, N, minibatch, t0, steps, the
  target) read from the run's config;
- the held-out score error (sigma_t^4-weighted) at the first and the last step, and in the
  smallest-t bin;
- the sample checks of analysis/sample_checks.py on the learned score's samples (sliced W2 / floor,
  MMD / floor, gain over the moment-matched Gaussian against the floor's spread, modes covered), and
  the same for the exact score (which must pass: the sampler is not the limit) and the Gaussian;
- for full-batch runs, the kernel's resolution: kernel gradient descent with H* on the run's own
  triples and targets (data/Y: x_0, or the edm residual) in closed form from one eigendecomposition
  (as analysis/diffusion.py), its held-out error per t bin at the trained step and the best over
  steps 1 .. 2^40 (what the infinite-width network reaches with any amount of training on these
  triples), against the posterior mean's sharpness in each bin: the length v_t / (alpha_t D) over
  which f* crosses between two nearest modes (D apart; v_t = alpha_t^2 width^2 + sigma_t^2) at the
  bin's geometric middle, and the kernel's contrast at that distance (1 - the normalised H*
  correlation of two inputs that far apart): how much H* can tell the two sides of a transition
  apart.
The checks of expect.json read OUT.json."""
import os
import re
import sys

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sample_checks import describe, sample_checks  # noqa: E402
from sntk_results import (AnalysisError, attrs_of, find_files, need,  # noqa: E402
                          run_analysis, save_outputs)

KNOBS = (("diffusion", "parametrisation", "plain"), ("model", "sigma", "1"),
         ("model", "width", None), ("diffusion", "samples_train", None),
         ("diffusion", "minibatch", "0"), ("diffusion", "t0", None), ("train", "steps", None),
         ("diffusion", "components", None), ("diffusion", "dim", None),
         ("diffusion", "width", None))


def cfg_value(text, section, key, default=None):
    m = re.search(r"^\[" + section + r"\]\n(.*?)(?=^\[|\Z)", text, re.S | re.M)
    if m:
        k = re.search(r"^" + key + r" = (.*)$", m.group(1), re.M)
        if k:
            return k.group(1).strip()
    return default


def out_map(t, x, F, param, sdata):
    """x0_hat = c_skip x_t + c_out F (src/diffusion/process.c); rows of x, F are points."""
    if param == "plain":
        return F
    a = np.exp(-t)[:, None]
    s2 = -np.expm1(-2 * t)[:, None] / a ** 2
    q = sdata ** 2
    return q / ((s2 + q) * a) * x + np.sqrt(s2 * q / (s2 + q)) * F


def xt_of(Z, scale, T):
    """Invert the input map z = (v / sqrt(2 (1 + |v|^2)), 1 / sqrt(2)), v = (x_t / scale, t / T)."""
    u = Z[:, :-1] * np.sqrt(2.0)  # v / sqrt(1 + |v|^2)
    v = u / np.sqrt(np.maximum(1 - np.sum(u ** 2, axis=1, keepdims=True), 1e-300))
    return v[:, :-1] * scale, v[:, -1] * T


def h_star(A, B, sigma):
    g = A @ B.T
    return g * np.exp(sigma * sigma * g)


def transition_length(t, means, width):
    """The length in x_t over which the posterior mean moves from one mode to its nearest
    neighbour: for two modes a distance D apart the posterior weight is a logistic function of the
    coordinate along their difference with slope alpha D / v, v = alpha^2 width^2 + sigma_t^2, so
    f* crosses from one mean to the other over about v / (alpha D) (its 27 % .. 73 % range)."""
    dist = np.sqrt(np.sum((means[:, None, :] - means[None, :, :]) ** 2, axis=-1))
    D = np.min(dist[~np.eye(len(means), dtype=bool)])
    a = np.exp(-t)
    return (a * a * width ** 2 - np.expm1(-2 * t)) / (a * D)


def kernel_contrast(z_of, x, t, sigma, h, dirs=16):
    """1 - the normalised H* correlation between x_t and a point a distance h away (mean over
    random directions), at time t: how much the kernel can tell two points h apart."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(dirs):
        u = rng.standard_normal(x.shape)
        u /= np.linalg.norm(u)
        z0, z1 = z_of(x[None, :], t), z_of(x[None, :] + h * u[None, :], t)
        k = h_star(np.vstack([z0, z1]), np.vstack([z0, z1]), sigma)
        out.append(1 - k[0, 1] / np.sqrt(k[0, 0] * k[1, 1]))
    return float(np.mean(out))


def read_run(path):
    with h5py.File(path, "r") as f:
        need(f, "score/error", "score/bin_error", "samples", "diffusion/means")
        a = attrs_of(f)
        text = a["config"]
        dg = attrs_of(f["diffusion"])
        s = attrs_of(f["samples"])
        means = f["diffusion/means"][...]
        run = {"path": path, "name": os.path.basename(os.path.dirname(os.path.abspath(path))),
               "param": dg.get("parametrisation", "plain"), "sdata": float(dg.get("sdata", np.nan)),
               "scale": float(dg["input_scale"]), "mix_width": float(dg["width"]),
               "C": int(means.shape[0]), "d": int(means.shape[1]),
               "T": float(cfg_value(text, "diffusion", "T")),
               "eta": float(a["eta"]), "m": int(a["m"]), "sigma": float(a["sigma"]),
               "steps": int(a["steps_done"]),
               "error_first": float(f["score/error"][0]), "error_last": float(f["score/error"][-1]),
               "bin_first": f["score/bin_error"][0].tolist(),
               "bin_last": f["score/bin_error"][-1].tolist(),
               "edges": f["diffusion/bin_edges"][...].tolist(),
               "knobs": {k: cfg_value(text, sec, k, dflt) for sec, k, dflt in KNOBS}}
        run["metrics"] = {k: float(s[k]) for k in s if re.match(r"(sw2|mmd|modes_covered|inside)_|"
                                                                r"(sw2|mmd)_floor", k)}
        run["checks"] = {k: sample_checks(s, k, run["C"]) for k in ("learned", "exact", "gaussian")}
        run["x"] = {k: f["samples/" + k][...] for k in ("learned", "exact", "reference")
                    if k in f["samples"]}
        run["means"] = means * np.exp(-float(s["t0"]))
        run["full"] = run["knobs"]["minibatch"] == "0" and "data/X" in f
        if run["full"]:
            run["data"] = {k: f[v][...] for k, v in (("X", "data/X"), ("Y", "data/Y"),
                                                       ("t", "diffusion/eval_t"),
                                                       ("Z", "diffusion/eval_z"),
                                                       ("fstar", "diffusion/eval_fstar"))}
            run["means0"] = means
    return run


def resolution(run):
    """Closed-form kernel GD with H* on the run's triples: per-bin held-out error at the trained
    step and at the best step of 1 .. 2^40, and the posterior sharpness and kernel length per bin."""
    d = run["data"]
    N = len(d["X"])
    D, Q = np.linalg.eigh(h_star(d["X"], d["X"], run["sigma"]))
    D = np.maximum(D, 0.0)
    P = h_star(d["Z"], d["X"], run["sigma"]) @ Q
    c = Q.T @ d["Y"]
    xt, t = xt_of(d["Z"], run["scale"], run["T"])
    eta_m = run["eta"] * run["m"]
    nb = len(run["edges"]) - 1
    j = np.arange(len(t)) % nb
    binw = np.diff(run["edges"]) / (run["edges"][-1] - run["edges"][0])

    def bins_at(s):
        x = eta_m * D
        g = np.where(x > 1e-14, -np.expm1(s * np.log1p(-np.minimum(x, 1 - 1e-16))) / np.maximum(
            D, 1e-300), s * eta_m)
        F = P @ (g[:, None] * c)
        f = out_map(t, xt, F, run["param"], run["sdata"])
        q = np.exp(-2 * t) * np.sum((f - d["fstar"]) ** 2, axis=1)
        return np.array([q[j == b].mean() for b in range(nb)])
    grid = np.unique(np.round(2.0 ** np.arange(0, 40.01, 0.5)))
    per = np.array([bins_at(s) for s in grid])
    tot = per @ binw
    at = bins_at(run["steps"])
    z_of = lambda x, tt: _z(x, tt, run["scale"], run["T"])  # noqa: E731
    ell, contrast = [], []
    for b in range(nb):
        tm = float(np.sqrt(run["edges"][b] * run["edges"][b + 1]))  # the bin's geometric middle
        ell.append(float(transition_length(tm, run["means0"], run["mix_width"])))
        contrast.append(kernel_contrast(z_of, run["means0"][0] * np.exp(-tm), tm, run["sigma"],
                                        ell[-1]))
    best = int(np.argmin(tot))
    return {"trained_step_bins": at.tolist(), "trained_step_error": float(at @ binw),
            "network_error": run["error_last"],
            "best_step": float(grid[best]), "best_error": float(tot[best]),
            "best_bins": per[best].tolist(), "transition_length": ell, "kernel_contrast": contrast,
            "N": N}


def _z(x, t, scale, T):
    v = np.concatenate([x / scale, np.full((len(x), 1), t / T)], axis=1)
    v = v / np.sqrt(2 * (1 + np.sum(v ** 2, axis=1, keepdims=True)))
    return np.concatenate([v, np.full((len(x), 1), np.sqrt(0.5))], axis=1)


def summary(run):
    ch = run["checks"]["learned"]
    g = run["checks"]
    return {"name": run["name"], "knobs": run["knobs"], "param": run["param"], "m": run["m"],
            "steps": run["steps"], "error_first": run["error_first"],
            "error_last": run["error_last"], "bin_last": run["bin_last"],
            "edges": run["edges"], "metrics": run["metrics"],
            "sw2_over_floor": ch["sw2_over_floor"]["value"],
            "mmd_over_floor": ch["mmd_over_floor"]["value"],
            "sw2_gain": ch["sw2_gain_over_gaussian"]["value"],
            "mmd_gain": ch["mmd_gain_over_gaussian"]["value"],
            "modes_covered": ch.get("modes_covered", {}).get("value"), "C": run["C"],
            "passed": {k: bool(v["passed"]) for k, v in g.items()},
            "describe": {k: describe(v) for k, v in g.items()}}


def plot(runs, out_runs):
    show = [r for r in runs if "learned" in r["x"]]
    cols = min(4, len(show))
    rows = -(-len(show) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.3 * rows), squeeze=False)
    for ax in axes.flat[len(show):]:
        ax.axis("off")
    for ax, r in zip(axes.flat, show):
        ref, xl = r["x"]["reference"], r["x"]["learned"]
        ax.scatter(ref[:, 0], ref[:, 1], s=2, c="0.7", lw=0, label="target")
        ax.scatter(xl[:, 0], xl[:, 1], s=2, c="C3", lw=0, alpha=0.6, label="learned")
        ax.scatter(r["means"][:, 0], r["means"][:, 1], marker="x", c="k", s=20)
        s = out_runs[r["name"]]
        ax.set_title(f"{r['name']}\nSW2/floor {s['sw2_over_floor']:.2f}, MMD/floor "
                     f"{s['mmd_over_floor']:.1f}, modes {s['modes_covered']:.0f}/{r['C']}",
                     fontsize=7)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=6)
    axes[0][0].legend(fontsize=6, markerscale=4)
    fig.suptitle("learned-score samples (red) against the target (grey); d = 16: first two "
                 "coordinates", fontsize=8)
    fig.tight_layout()
    return fig


def main(out, paths):
    runs = [read_run(p) for p in find_files(paths, "results.h5")]
    if not runs:
        raise AnalysisError("no score runs")
    runs.sort(key=lambda r: r["name"])
    table = {r["name"]: summary(r) for r in runs}
    res = {}
    for r in runs:
        if r["full"] and r["name"] in ("plain", "edm", "ring8-edm", "ring8-plain"):
            res[r["name"]] = resolution(r)
    by = {r["name"]: table[r["name"]] for r in runs}
    checks = {}
    if "plain" in by and "edm" in by:
        p, e = by["plain"], by["edm"]
        fm_sd = e["metrics"]["mmd_floor_std"]
        checks["edm_mmd_gain_over_plain_in_floor_sd"] = (
            p["metrics"]["mmd_learned"] - e["metrics"]["mmd_learned"]) / fm_sd
    checks["learned_passed"] = sum(v["passed"]["learned"] for v in by.values())
    # the exact score's samples are compared with the target p_0 at the sampler's end t0: only on
    # lines with the deck's t0 = 0.01 is its law (p_t0) within the floor of p_0 (at t0 = 0.05 the
    # atoms are blurred to width sigma_t0 = 0.31); lines with another t0 are left out of these two
    std = {n: v for n, v in by.items() if v["knobs"]["t0"] == "0.01"}
    checks["runs_t0_001"] = len(std)
    checks["exact_passed"] = sum(v["passed"]["exact"] for v in std.values())
    checks["gaussian_passed"] = sum(v["passed"]["gaussian"] for v in by.values())
    checks["runs"] = len(by)
    checks["worst_exact_sw2_over_floor"] = max(
        v["metrics"]["sw2_exact"] / v["metrics"]["sw2_floor"] for v in std.values())
    # edm at step 0 (F = 0, coupled initialisation) predicts c_skip x_t, the posterior mean of the
    # moment-matched Gaussian N(0, sdata^2 I) (a Wiener filter): its held-out error, recomputed
    # here from the held-out points and the map, must equal the run's first /score row.
    dev = []
    for r in runs:
        if r["param"] == "edm" and r["full"]:
            d = r["data"]
            xt, t = xt_of(d["Z"], r["scale"], r["T"])
            f = out_map(t, xt, np.zeros_like(xt), "edm", r["sdata"])
            nb = len(r["edges"]) - 1
            j = np.arange(len(t)) % nb
            binw = np.diff(r["edges"]) / (r["edges"][-1] - r["edges"][0])
            q = np.exp(-2 * t) * np.sum((f - d["fstar"]) ** 2, axis=1)
            e0 = sum(binw[b] * q[j == b].mean() for b in range(nb))
            dev.append(abs(e0 / r["error_first"] - 1))
            table[r["name"]]["wiener_error"] = float(e0)
    if dev:
        checks["edm_step0_vs_wiener_worst"] = max(dev)
    if res:
        checks["closed_form_vs_network_worst"] = max(
            abs(v["trained_step_error"] / v["network_error"] - 1) for v in res.values())
    data = {"experiment": "score-model", "inputs": [r["path"] for r in runs], "runs": table,
            "resolution": res, "checks": checks}
    fig = plot(runs, table)
    save_outputs(fig, out, data)
    for n, v in table.items():
        print(f"{n:14s} {v['param']:5s} err {v['error_first']:.3g} -> {v['error_last']:.3g}  "
              f"SW2/floor {v['sw2_over_floor']:.2f}  MMD/floor {v['mmd_over_floor']:.2f}  gain "
              f"SW2 {v['sw2_gain']:+.3f} MMD {v['mmd_gain']:+.3f}  modes "
              f"{v['modes_covered']}/{v['C']}  learned {'pass' if v['passed']['learned'] else 'FAIL'}"
              f"  exact {'pass' if v['passed']['exact'] else 'FAIL'}")
    for n, v in res.items():
        print(f"resolution {n}: kernel GD(H*) at the trained step {v['trained_step_error']:.4g} "
              f"(network {v['network_error']:.4g}); best over steps {v['best_error']:.4g} at step "
              f"{v['best_step']:.3g}; per bin best {np.round(v['best_bins'], 5).tolist()}, "
              f"f* transition length {np.round(v['transition_length'], 4).tolist()}, kernel "
              f"contrast there {[float(f'{c:.2g}') for c in v['kernel_contrast']]}")
    print("checks", checks)


if __name__ == "__main__":
    sys.exit(run_analysis(main, sys.argv))
