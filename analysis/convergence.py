#!/usr/bin/python3
"""Convergence: the measured per-step contraction of the residual against the linearised (NTK)
rate and against the bound 1 - eta lambda_min(J J^T), over weight seeds on fixed data
(experiments/convergence).

usage: analysis/convergence.py OUT.png PATH [PATH ...]

Inputs: results.h5 files of `softntk train` runs with a coupled initialisation (F(W(0)) = 0, so the
residual starts at -Y), an NTK snapshot at step 0 with ntk.save_gram = true: /ntk/gram_0 (H(0), the
normalised NTK), /ntk attributes gamma and nu (J J^T = (gamma^2/nu) H); /train/loss; /data/{X, Y};
root attributes activation, m, n, d, sigma, eta (the learning rate the run used) and the resolved
config (train.eta_factor: the eta = auto rule eta = factor / lambda_max(J J^T) at initialisation).
A PATH that is a directory stands for its */results.h5. Runs are grouped by (activation, m,
eta_factor); each group is one configuration over weight seeds (run.seeds) on the same data.

Per run, with kappa(t) = sqrt(L(t+1) / L(t)) the measured per-step contraction of the residual
norm ||F(t) - Y||:
  - the linearised contraction kappa_lin(t), computed here from H(0), the recorded eta and r(0) = -Y:
    r(t+1) = (I - eta J J^T(0)) r(t);
  - q(t) = (1 - kappa(t)) / (1 - kappa_lin(t)): the measured rate in units of the linearised rate
    (1 in the NTK regime; a wrong eta, gamma^2/nu or H(0) moves it away from 1 in either direction);
  - s(t) = (1 - kappa(t)) / (eta lambda_min(J J^T(0))): the measured rate in units of the bound's
    rate (linear dynamics with eta lambda_max(J J^T) <= 2 - eta lambda_min: s(t) >= 1 at every step,
    s(t) -> 1 as the slowest mode takes over); also with lambda_min(H*) (the theorem's lambda);
  - eta lambda_max(J J^T(0)) (the step relative to the curvature), the mean contraction per step,
    the deviation max_t |L - L_lin| / L_lin.
Per group: each of those over the seeds with a bootstrap interval (95 %, percentile, 2000
replicates over seeds; analysis/sntk_stats.py), and the theorem's hypotheses for the group's data
with the constants hidden in O(.) set to 1 (and the factors in B, d and logarithms dropped):
width m >= n^2 / lambda^2, step eta lambda_max(J J^T) ~ lambda lambda_max(H*) / n^2 (the proof's
eta ~ lambda / (m n^2) for alpha = m), and the steps the paper's bound
||r(t)||^2 <= (1 - eta (gamma^2/nu) lambda / 2)^t ||r(0)||^2 needs for the loss fall the runs achieved,
at the run's eta and at the theorem's.
Outputs: OUT.png and OUT.pdf (loss curves; q(t) with the seeds' range; s(t)) and OUT.json (the
groups with intervals, every run; contractions per step, losses in target units squared,
eigenvalues of the normalised H)."""
import os
import sys

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sntk_results import (AnalysisError, attrs_of, config_value, find_files,  # noqa: E402
                          limit_kernel, need, run_analysis, save_outputs)
from sntk_stats import bootstrap  # noqa: E402

TOL_RATE = 0.01  # |q(t) - 1| allowed: the rate is a Rayleigh quotient of J J^T(t) over the residual,
# so a kernel moving by dH changes it by at most ||dH||_2 / lambda_min(H(0)) relative: <= 0.7 % at
# m = 256 for softmax and exp (experiments/perturbation: dH <= 3.6e-5 ||H||_F), less at m >= 1024.


def read_run(path):
    """The series and attributes one run contributes."""
    with h5py.File(path, "r") as f:
        need(f, "train/loss", "ntk/gram_0", "data/X", "data/Y")
        a = attrs_of(f)
        g = attrs_of(f["ntk"])
        init = config_value(a, "model", "init")
        if init != "coupled":
            raise AnalysisError(f"{path}: model.init = {init}; the residual r(0) = -Y needs coupled")
        factor = config_value(a, "train", "eta_factor")
        if config_value(a, "train", "eta") != "auto":
            factor = None
        run = {"path": path, "activation": a["activation"], "m": int(a["m"]), "n": int(a["n"]),
               "d": int(a["d"]), "sigma": float(a["sigma"]), "eta": float(a["eta"]),
               "seed": int(a["seed"]), "data_seed": int(a.get("data_seed", a["seed"])),
               "eta_factor": float(factor) if factor is not None else None,
               "scale": float(g["gamma"]) ** 2 / float(g["nu"]),
               "loss": np.asarray(f["train/loss"][...], float), "H0": f["ntk/gram_0"][...],
               "X": f["data/X"][...], "Y": f["data/Y"][...].reshape(int(a["n"]), -1)}
    if run["Y"].shape[1] != 1:
        raise AnalysisError(f"{path}: k = {run['Y'].shape[1]}; this analysis takes k = 1")
    if len(run["loss"]) < 8:
        raise AnalysisError(f"{path}: {len(run['loss'])} losses; the contraction needs at least 8")
    L0 = 0.5 * float(np.sum(run["Y"] ** 2))
    if abs(run["loss"][0] - L0) > 1e-8 * L0:
        raise AnalysisError(f"{path}: L(0) = {run['loss'][0]:.6g} is not ||Y||^2 / 2 = {L0:.6g}: "
                            f"F(W(0)) != 0")
    return run


def linearised(run):
    """Loss of r(t+1) = (I - eta c H(0)) r(t), r(0) = -Y, for t = 0 .. T (c = gamma^2 / nu), from
    the eigenpairs of H(0)."""
    mu, V = np.linalg.eigh(run["H0"])
    proj2 = (V.T @ run["Y"][:, 0]) ** 2
    t = np.arange(len(run["loss"]))[:, None]
    return 0.5 * np.sum((1 - run["eta"] * run["scale"] * mu) ** (2 * t) * proj2, axis=1), mu


def measure(run):
    """Per-run numbers and the per-step series q(t), s(t)."""
    L = run["loss"]
    P, mu = linearised(run)
    T = len(L) - 1
    c = run["eta"] * run["scale"]
    lam_star = float(np.linalg.eigvalsh(limit_kernel(run["X"], run["activation"], run["sigma"]))[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.sqrt(L[1:] / L[:-1])
        kappa_lin = np.sqrt(P[1:] / P[:-1])
        q = (1 - kappa) / (1 - kappa_lin)
    s = (1 - kappa) / (c * mu[0])
    s_star = (1 - kappa) / (c * lam_star)
    run["series"] = {"lin": P, "q": q, "s": s}
    return {
        "seed": run["seed"], "steps": T, "loss_initial": float(L[0]), "loss_final": float(L[T]),
        "lambda_min_H0": float(mu[0]), "lambda_max_H0": float(mu[-1]),
        "lambda_min_Hstar": lam_star,
        "eta": run["eta"], "eta_lambda_max": float(c * mu[-1]),
        "eta_lambda_min": float(c * mu[0]),
        "contraction_measured": float((L[T] / L[0]) ** (0.5 / T)),
        "contraction_linearised": float((P[T] / P[0]) ** (0.5 / T)),
        "contraction_bound_H0": float(1 - c * mu[0]),
        "contraction_bound_Hstar": float(1 - c * lam_star),
        "rate_ratio_mean": float(np.mean(q)), "rate_ratio_max_dev": float(np.max(np.abs(q - 1))),
        "bound_ratio_min": float(np.min(s)), "bound_ratio_final": float(s[-1]),
        "bound_ratio_star_min": float(np.min(s_star)),
        "max_rel_dev_linearised": float(np.max(np.abs(L - P) / P)),
    }


PER_SEED = ("rate_ratio_mean", "rate_ratio_max_dev", "bound_ratio_min", "bound_ratio_final",
            "bound_ratio_star_min", "contraction_measured", "contraction_linearised",
            "contraction_bound_H0", "eta_lambda_max", "lambda_min_H0", "max_rel_dev_linearised")


def group_summary(key, runs):
    act, m, factor = key
    rows = [r["row"] for r in runs]
    out = {"activation": act, "m": m, "eta_factor": factor, "seeds": len(rows),
           "seed_list": [r["seed"] for r in rows], "n": runs[0]["n"], "d": runs[0]["d"],
           "sigma": runs[0]["sigma"], "data_seed": runs[0]["data_seed"], "steps": rows[0]["steps"]}
    for name in PER_SEED:
        v = np.array([r[name] for r in rows])
        if len(v) >= 2:
            b = bootstrap(v, np.mean, reps=2000, seed=1, vectorized=True)
            out[name] = {"estimate": b["estimate"], "low": b["low"], "high": b["high"],
                         "level": b["level"], "seeds": len(v), "min": float(v.min()),
                         "max": float(v.max())}
        else:
            out[name] = {"estimate": float(v[0]), "low": None, "high": None, "seeds": 1}
    # the theorem's hypotheses for this data (constants in O(.) set to 1; B, d, log factors dropped)
    r0 = runs[0]
    lam = rows[0]["lambda_min_Hstar"]
    Hs = np.linalg.eigvalsh(limit_kernel(r0["X"], act, r0["sigma"]))
    n = r0["n"]
    ln_fall = float(np.mean([np.log(r["loss_initial"] / r["loss_final"]) for r in rows]))
    c_over_eta = r0["scale"]
    eta_run = float(np.mean([r["eta"] for r in rows]))
    eta_thm = lam / (c_over_eta * n ** 2)  # eta (gamma^2/nu) = lambda / n^2
    norms = np.linalg.norm(r0["X"], axis=1)
    out["hypotheses"] = {
        "constants": "O(.) constants set to 1; factors in B = sigma sqrt(log(nd/delta)), d and "
                     "logarithms dropped (each would raise the width and steps further)",
        "lambda_min_Hstar": lam, "lambda_max_Hstar": float(Hs[-1]), "cond_Hstar": float(Hs[-1] / lam),
        "data_norm_max_dev": float(np.max(np.abs(norms - 1))),
        "target_abs_max": float(np.max(np.abs(r0["Y"]))),
        "data_met": bool(lam > 0 and np.max(np.abs(norms - 1)) < 1e-12),
        "width_required": float(n ** 2 / lam ** 2), "width_run": m,
        "width_met": bool(m >= n ** 2 / lam ** 2),
        "eta_lambda_max_theorem": float(lam * Hs[-1] / n ** 2),
        "eta_lambda_max_run": out["eta_lambda_max"]["estimate"],
        "eta_met": bool(eta_run <= eta_thm),
        "loss_fall_ln": ln_fall,
        # the paper's bound ||r(t)||^2 <= (1 - eta c lambda / 2)^t ||r(0)||^2, for the loss fall the
        # runs achieved: at the run's eta, and at the theorem's (eta c = lambda / n^2)
        "steps_bound_at_run_eta": float(ln_fall / -np.log1p(-eta_run * c_over_eta * lam / 2)),
        "steps_theorem": float(ln_fall / -np.log1p(-lam ** 2 / n ** 2 / 2)),
        "steps_run": rows[0]["steps"],
    }
    return out


def label(g):
    f = g["eta_factor"]
    return f"{g['activation']}, m = {g['m']}, " + (f"eta lmax = {f:g}" if f else "eta fixed")


def plot(groups, by_key):
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ax_l, ax_q, ax_s = axes
    for g in groups:
        runs = by_key[(g["activation"], g["m"], g["eta_factor"])]
        L = np.array([r["loss"] for r in runs])
        P = np.array([r["series"]["lin"] for r in runs])
        q = np.array([r["series"]["q"] for r in runs])
        s = np.array([r["series"]["s"] for r in runs])
        t = np.arange(L.shape[1])
        qi, si = g["rate_ratio_max_dev"], g["bound_ratio_final"]
        line, = ax_l.semilogy(t, np.median(L, 0), lw=1.5, label=label(g))
        col = line.get_color()
        ax_l.semilogy(t, np.median(P, 0), "--", color=col, lw=0.8)
        lab = (f"{label(g)}: max|q-1| {qi['estimate']:.1e} [{qi['low']:.1e}, {qi['high']:.1e}]"
               if qi["low"] is not None else label(g))
        dq = np.abs(q - 1)
        ax_q.fill_between(t[:-1], np.maximum(dq.min(0), 1e-9), dq.max(0), color=col, alpha=0.25,
                          lw=0)
        ax_q.semilogy(t[:-1], np.maximum(np.median(dq, 0), 1e-9), color=col, lw=1, label=lab)
        lab = (f"{label(g)}: s(T) {si['estimate']:.3f} [{si['low']:.3f}, {si['high']:.3f}]"
               if si["low"] is not None else label(g))
        ax_s.fill_between(t[:-1], s.min(0), s.max(0), color=col, alpha=0.25, lw=0)
        ax_s.plot(t[:-1], np.median(s, 0), color=col, lw=1, label=lab)
    ax_l.set_title("loss (median over seeds, solid) and the linearised\n"
                   "prediction from H(0) and the recorded eta (dashed)", fontsize=9)
    ax_l.set_ylabel("L(W(t))")
    ax_q.axhline(TOL_RATE, color="k", ls=":", lw=1)
    ax_q.set_title("|q(t) - 1|, q = measured rate / linearised rate = (1 - kappa) / (1 - kappa_lin)\n"
                   f"(median, seeds' range shaded; dotted: the check's {TOL_RATE:g}; legend: "
                   "mean over seeds of max_t |q - 1|, 95 % CI)", fontsize=9)
    ax_q.set_ylabel("|q(t) - 1|")
    ax_s.axhline(1, color="k", ls=":", lw=1)
    ax_s.set_yscale("log")
    ax_s.set_title("s(t) = (1 - kappa(t)) / (eta lambda_min(J J^T(0))): s >= 1 is the bound\n"
                   "kappa <= 1 - eta lambda_min; s -> 1 once the slowest mode dominates\n"
                   "(legend: mean over seeds of s at the last step, 95 % CI)", fontsize=9)
    ax_s.set_ylabel("(1 - kappa(t)) / (eta lambda_min)")
    for ax in axes:
        ax.set_xlabel("step t")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6.5)
    g0 = groups[0]
    fig.suptitle(f"gradient descent on n = {g0['n']} points, d = {g0['d']} (data seed "
                 f"{g0['data_seed']}), {g0['seeds']} weight seeds per configuration; kappa(t) = "
                 f"sqrt(L(t+1)/L(t))", fontsize=10)
    fig.tight_layout()
    return fig


def verdict(groups):
    """Supported when every softmax and exp configuration contracts at the linearised rate (upper
    end of max |q - 1| within the tolerance) and never faster than the bound allows (min s >= 0.99);
    said beside which hypotheses of the theorem the runs meet."""
    checked = [g for g in groups if g["activation"] in ("softmax", "exp")]
    if not checked or any(g["seeds"] < 8 for g in checked):
        return {"status": "not tested at this size",
                "reason": "fewer than 8 seeds per softmax or exp configuration"}
    bad = [label(g) for g in checked
           if not (g["rate_ratio_max_dev"]["high"] <= TOL_RATE
                   and g["bound_ratio_min"]["min"] >= 1 - TOL_RATE)]
    worst = max(g["rate_ratio_max_dev"]["high"] for g in checked)
    met = [g for g in checked if g["hypotheses"]["width_met"] and g["hypotheses"]["eta_met"]]
    where = ("inside the theorem's width and step hypotheses" if len(met) == len(checked) else
             "at widths and steps outside the theorem's hypotheses (m < n^2/lambda^2, eta "
             "lambda_max far above lambda lambda_max(H*)/n^2; constants 1): the conclusion holds "
             "where it is not guaranteed")
    if bad:
        return {"status": "not supported",
                "reason": "the per-step contraction leaves the linearised rate or the bound in: "
                          + ", ".join(bad)}
    return {"status": "supported",
            "reason": f"softmax and exp, {len(checked)} configurations of 8 seeds: the residual "
                      f"contracts at the linearised rate at every step (max |q - 1| at most "
                      f"{worst:.1e}, upper interval end) and never beyond 1 - eta lambda_min(J J^T(0)), "
                      + where}


def main(out, paths):
    runs = [read_run(p) for p in find_files(paths, "results.h5")]
    by_key = {}
    for run in runs:
        run["row"] = measure(run)
        by_key.setdefault((run["activation"], run["m"], run["eta_factor"]), []).append(run)
    order = {"softmax": 0, "exp": 1, "relu": 2}
    keys = sorted(by_key, key=lambda k: (order.get(k[0], 3), k[1], k[2] or 0))
    for k in keys:
        by_key[k].sort(key=lambda r: r["seed"])
        if len({r["data_seed"] for r in by_key[k]}) != 1:
            raise AnalysisError(f"{k}: runs on different data (data.seed); the seeds must share it")
    groups = [group_summary(k, by_key[k]) for k in keys]
    fig = plot(groups, by_key)
    data = {"claim": "gradient descent contracts the residual by at most 1 - eta lambda_min(J J^T) "
                     "per step, and a wide network contracts it at the linearised (NTK) rate",
            "prediction": {"rate_ratio_mean": "1 (two-sided: |q - 1| <= %g)" % TOL_RATE,
                           "rate_ratio_max_dev": "<= %g" % TOL_RATE,
                           "bound_ratio_min": ">= 1 (the bound holds)",
                           "bound_ratio_final": "-> 1 as the slowest mode takes over"},
            "tolerance_rate": TOL_RATE,
            "units": {"contraction_*": "per step, residual norm ratio ||r(t+1)|| / ||r(t)||",
                      "rate_ratio_*": "q = (1 - kappa) / (1 - kappa_lin), dimensionless",
                      "bound_ratio_*": "s = (1 - kappa) / (eta lambda_min(J J^T(0)))",
                      "lambda_*": "eigenvalue of the normalised NTK H (dimensionless)",
                      "eta_lambda_max": "eta lambda_max(J J^T(0)), J J^T = (gamma^2/nu) H",
                      "loss_*": "target units squared"},
            "intervals": "95 % percentile bootstrap of the mean over weight seeds (2000 replicates)",
            "inputs": [r["path"] for r in runs], "groups": groups,
            "runs": [{"activation": r["activation"], "m": r["m"], "eta_factor": r["eta_factor"],
                      **r["row"]} for k in keys for r in by_key[k]]}
    data["verdict"] = verdict(groups)
    save_outputs(fig, out, data)
    for g in groups:
        q, s, h = g["rate_ratio_max_dev"], g["bound_ratio_final"], g["hypotheses"]
        print(f"{label(g):40s} seeds {g['seeds']}: max|q-1| {q['estimate']:.2e} [{q['low']}, "
              f"{q['high']}]; s(T) {s['estimate']:.3f}; min s {g['bound_ratio_min']['estimate']:.3f}; "
              f"width {g['m']} vs n^2/lambda^2 {h['width_required']:.3g}")


if __name__ == "__main__":
    sys.exit(run_analysis(main, sys.argv))
