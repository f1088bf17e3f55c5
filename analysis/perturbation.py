#!/usr/bin/python3
"""Perturbation: how the normalised NTK H moves when every neuron moves by at most R, the setting of
the paper's perturbation lemma, for softmax, exp and relu (experiments/perturbation).

usage: analysis/perturbation.py OUT.png PATH [PATH ...]

Inputs: ntk.h5 files of `softntk ntk` runs with ntk.perturb = true (a PATH that is a directory
stands for its */ntk.h5): root attributes (activation, m, n, d, sigma, seed), /data/X and the
/perturb group: first_order [direction x (F, 2)], finite_fro and finite_spec [direction x radius],
radii, H and H_shift (every neuron shifted by R_max v), shift_vector, relu_bound, the attributes
H_fro, bound_first_order, xmax, w_max, gd_R, gd_dH_fro. Directions (rows): worst (a stationary
point of the power iteration: a LOWER bound on the sup), random, shift, gd, eig, boundary.

Per run: s1 = ||dH[Delta_worst]||_F / ||H||_F (first order, per unit R, relative), sup_R = the
largest ||H(W + R Delta) - H(W)||_F / (R ||H||_F) over the directions at each radius, the explicit
bound of BOUND.md relative to ||H||_F, the shift's ||H_shift - H||_F / ||H||_F, and the GD path's R
and ||H(T) - H(0)||_F / ||H||_F. Per-run checks (each from a bound; counted in checks.failures):
  worst_is_max  the worst direction's first order is at least every fixed direction's (softmax,
                exp: the iteration starts from the random and the eigenvector directions and never
                decreases);
  first_order   |finite_fro(R0) / R0 - first| <= the Taylor remainder R0 / 2 ||d^2 H|| (softmax:
                (40/3) xmax bound e^{4 R0 xmax}; exp: 2 xmax bound e^{2 R0 xmax}; BOUND.md)
                relative to first, plus 1e-9;
  bound         first <= the explicit bound (softmax, exp); relu: finite_fro <= relu_bound at
                every radius and direction;
  shift         softmax: ||H_shift - H||_F <= tau (round-off: the logits of the shifted weights
                are computed to gamma_d (w_max + R) xmax, the normalising sums to gamma_{m+16}, on
                the absolute Gram 4Q, Q = bound / (24 xmax)); exp: ||H_shift - E o H||_F <= tau
                with E_ij = e^{R v.(x_i + x_j)} computed here from /data/X and the recorded v, and
                ||H_shift - H||_F >= 1e6 tau (far from round-off).
Per (activation, n, d, sigma, m): the mean of s1 over seeds with a seed-bootstrap interval;
softmax / exp: the ratio of the means, the seeds resampled in pairs (the same seed draws the same
W for both), with its interval. The verdict: the worst-case perturbation property is better for
softmax than exp when every ratio interval lies below 1.
GD panel (n = 32, d = 16, sigma = 1, every m): slope of log R(m) with a seed-bootstrap interval,
and the cancellation: the GD direction's first order over the worst's, and the slope of
log ||H(T) - H(0)|| against log R over the widths (2 when first order cancels).
Outputs: OUT.png and OUT.pdf (sup ||dH|| / (R ||H||) against n per activation and sigma with the
evaluated bound; the ratio softmax / exp; finite R per direction; the GD panel) and OUT.json."""
import os
import sys
from collections import defaultdict

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sntk_results import AnalysisError, attrs_of, find_files, need, run_analysis, save_outputs  # noqa: E402,E501
from sntk_stats import bootstrap, slope_interval  # noqa: E402

ACTS = ("softmax", "exp", "relu")
DIRS = ("worst", "random", "shift", "gd", "eig", "boundary")
U = np.finfo(float).eps / 2
GD_SERIES = (32, 16, 1.0)  # (n, d, sigma) of the GD panel


def gamma(k):
    return k * U / (1 - k * U)


def read_run(path):
    with h5py.File(path, "r") as f:
        need(f, "perturb/first_order", "perturb/finite_fro", "perturb/finite_spec", "perturb/radii",
             "perturb/H", "perturb/H_shift", "perturb/shift_vector", "perturb/relu_bound",
             "data/X")
        a = attrs_of(f)
        g = f["perturb"]
        pa = attrs_of(g)
        if str(pa.get("directions", "")).split(",") != list(DIRS):
            raise AnalysisError(f"{path}: /perturb directions {pa.get('directions')} are not "
                                f"{','.join(DIRS)}")
        r = {"path": path, "activation": a["activation"], "m": int(a["m"]), "n": int(a["n"]),
             "d": int(a["d"]), "sigma": float(a["sigma"]), "seed": int(a["seed"]),
             "first": g["first_order"][...], "ffro": g["finite_fro"][...],
             "fspec": g["finite_spec"][...], "R": g["radii"][...], "H": g["H"][...],
             "Hs": g["H_shift"][...], "v": g["shift_vector"][...],
             "relu_bound": g["relu_bound"][...], "X": f["data/X"][...]}
        for k in ("H_fro", "bound_first_order", "xmax", "w_max", "gd_R", "gd_dH_fro",
                  "gd_loss_ratio", "B_logits"):
            r[k] = float(pa[k])
    return r


def checks_of(r):
    """The per-run checks of the docstring: {name: (passed, value, limit)}."""
    act, first, R, xmax, bound = r["activation"], r["first"][:, 0], r["R"], r["xmax"], \
        r["bound_first_order"]
    out = {}
    if act in ("softmax", "exp"):
        out["worst_is_max"] = (bool(first[0] >= np.max(first[1:]) * (1 - 1e-9)), float(first[0]),
                               float(np.max(first[1:])))
        R0 = R[0]
        c2 = (40.0 / 3.0) * np.exp(4 * R0 * xmax) if act == "softmax" else 2 * np.exp(2 * R0 * xmax)
        tol = R0 / 2 * c2 * xmax * bound / first[0] + 1e-9
        dev = abs(r["ffro"][0, 0] / R0 - first[0]) / first[0]
        out["first_order"] = (bool(dev <= tol), float(dev), float(tol))
        out["bound"] = (bool(first[0] <= bound), float(first[0]), float(bound))
        Rm = R[-1]
        Q = bound / (24 * xmax) if act == "softmax" else bound / (2 * xmax)
        delta = gamma(r["d"]) * (r["w_max"] + Rm) * xmax
        base = 4 * Q if act == "softmax" else Q * np.exp(2 * Rm * xmax)
        tau = (8 * delta + 4 * gamma(r["m"] + 16)) * base * 2
        moved = float(np.linalg.norm(r["Hs"] - r["H"]))
        if act == "softmax":
            out["shift"] = (bool(moved <= tau), moved, float(tau))
        else:
            c = r["X"] @ r["v"]
            E = np.exp(Rm * (c[:, None] + c[None, :]))
            err = float(np.linalg.norm(r["Hs"] - E * r["H"]))
            out["shift"] = (bool(err <= tau and moved >= 1e6 * tau), err, float(tau))
            out["shift_moved"] = (bool(moved >= 1e6 * tau), moved, float(1e6 * tau))
    else:
        ok = bool(np.all(r["ffro"] <= r["relu_bound"][None, :] * (1 + 1e-9)))
        b = np.broadcast_to(r["relu_bound"][None, :], r["ffro"].shape)
        ratio = np.where(b > 0, r["ffro"] / np.where(b > 0, b, 1.0), np.where(r["ffro"] > 0, np.inf, 0))
        out["bound"] = (ok, float(np.max(ratio)), 1.0)
    return out


def derived(r):
    hf, R = r["H_fro"], r["R"]
    r["s1"] = float(r["first"][0, 0] / hf)
    r["first_rel"] = (r["first"][:, 0] / hf).tolist()
    r["sup_R"] = (np.max(r["ffro"], axis=0) / R / hf).tolist()
    r["dir_R"] = (r["ffro"] / R[None, :] / hf).tolist()
    if r["activation"] == "relu":
        r["bound_R"] = (r["relu_bound"] / R / hf).tolist()
        r["bound_rel"] = float("nan")
    else:
        grow = 4 if r["activation"] == "softmax" else 2
        r["bound_rel"] = r["bound_first_order"] / hf
        r["bound_R"] = (r["bound_rel"] * np.exp(grow * R * r["xmax"])).tolist()
    r["shift_rel"] = float(np.linalg.norm(r["Hs"] - r["H"]) / hf)
    r["gd_dH_rel"] = r["gd_dH_fro"] / hf
    r["cancel"] = float(r["first"][3, 0] / r["first"][0, 0]) if r["first"][0, 0] > 0 else None
    r["checks"] = checks_of(r)
    return r


def interval(values):
    v = np.asarray(values, float)
    b = bootstrap(v, np.mean, vectorized=True)
    return {"mean": float(np.mean(v)), "low": b["low"], "high": b["high"], "seeds": len(v)}


def summarise(runs):
    groups = defaultdict(list)
    for r in runs:
        groups[(r["activation"], r["n"], r["d"], r["sigma"], r["m"])].append(r)
    rows = []
    for key in sorted(groups, key=lambda k: (ACTS.index(k[0]), k[1], k[2], k[3], k[4])):
        rs = sorted(groups[key], key=lambda x: x["seed"])
        act, n, d, sigma, m = key
        row = {"activation": act, "n": n, "d": d, "sigma": sigma, "m": m, "seeds": len(rs),
               "s1": interval([x["s1"] for x in rs]),
               "sup_R": [interval([x["sup_R"][j] for x in rs]) for j in range(len(rs[0]["R"]))],
               "radii": rs[0]["R"].tolist(),
               "bound_rel": float(np.mean([x["bound_rel"] for x in rs])),
               "bound_R": np.mean([x["bound_R"] for x in rs], axis=0).tolist(),
               "shift_rel_max": float(np.max([x["shift_rel"] for x in rs])),
               "first_rel_mean": np.mean([x["first_rel"] for x in rs], axis=0).tolist(),
               "dir_R_mean": np.mean([x["dir_R"] for x in rs], axis=0).tolist(),
               "gd_R": interval([x["gd_R"] for x in rs]),
               "gd_dH_rel": interval([x["gd_dH_rel"] for x in rs]),
               "B_logits_max": float(np.max([x["B_logits"] for x in rs]))}
        if act != "relu":
            row["cancel"] = interval([x["cancel"] for x in rs])
        rows.append(row)
    return groups, rows


def ratios(groups):
    """softmax / exp of the mean s1, seeds resampled in pairs."""
    out = []
    for (act, n, d, sigma, m), rs in sorted(groups.items()):
        if act != "softmax" or ("exp", n, d, sigma, m) not in groups:
            continue
        es = {x["seed"]: x["s1"] for x in groups[("exp", n, d, sigma, m)]}
        pairs = np.array([[x["s1"], es[x["seed"]]] for x in rs if x["seed"] in es])
        if len(pairs) < 2:
            continue
        b = bootstrap(pairs, lambda u: np.mean(u[:, 0]) / np.mean(u[:, 1]))
        out.append({"n": n, "d": d, "sigma": sigma, "m": m, "seeds": len(pairs),
                    "ratio": float(np.mean(pairs[:, 0]) / np.mean(pairs[:, 1])),
                    "low": b["low"], "high": b["high"]})
    return out


def gd_panel(groups):
    out = {}
    n0, d0, s0 = GD_SERIES
    for act in ACTS:
        by_m = {m: [x["gd_R"] for x in rs] for (a, n, d, s, m), rs in groups.items()
                if a == act and (n, d, s) == (n0, d0, s0)}
        dh = {m: [x["gd_dH_rel"] for x in rs] for (a, n, d, s, m), rs in groups.items()
              if a == act and (n, d, s) == (n0, d0, s0)}
        if len(by_m) < 2:
            continue
        fit = slope_interval(by_m, reduce=np.mean, method="percentile")
        ms = sorted(by_m)
        lr = np.log([np.mean(by_m[m]) for m in ms])
        lh = np.log([np.mean(dh[m]) for m in ms])
        lr0 = lr - lr.mean()
        out[act] = {"m": ms, "R": [float(np.mean(by_m[m])) for m in ms],
                    "dH_rel": [float(np.mean(dh[m])) for m in ms],
                    "slope_R": {"estimate": fit["estimate"], "low": fit["low"],
                                "high": fit["high"]},
                    "slope_dH_vs_R": float(lr0 @ (lh - lh.mean()) / (lr0 @ lr0))}
    return out


def plot(rows, rat, gd, out):
    fig, ax = plt.subplots(2, 2, figsize=(12, 9))
    colors = {"softmax": "C0", "exp": "C1", "relu": "C2"}
    ls = {0.5: "-", 1.0: "--"}
    mmain = max((r["m"] for r in rows), key=lambda m: sum(1 for r in rows if r["m"] == m))
    d_main = max(r["d"] for r in rows)
    a0 = ax[0, 0]
    for act in ("softmax", "exp"):
        for s in sorted({r["sigma"] for r in rows}):
            rs = [r for r in rows if r["activation"] == act and r["sigma"] == s
                  and r["m"] == mmain and r["d"] == d_main]
            if not rs:
                continue
            n = [r["n"] for r in rs]
            y = np.array([r["s1"]["mean"] for r in rs])
            lo = y - np.array([r["s1"]["low"] for r in rs])
            hi = np.array([r["s1"]["high"] for r in rs]) - y
            a0.errorbar(n, y, yerr=[lo, hi], color=colors[act], ls=ls.get(s, ":"), marker="o",
                        capsize=3, label=f"{act}, sigma = {s:g}: worst direction (lower bound)")
            a0.plot(n, [r["bound_rel"] for r in rs], color=colors[act], ls=ls.get(s, ":"),
                    marker="x", alpha=0.5, label=f"{act}, sigma = {s:g}: explicit bound")
    a0.set_xscale("log"), a0.set_yscale("log")
    a0.set_xlabel("n"), a0.set_ylabel("sup ||dH[Delta]||_F / ||H||_F  (per unit R)")
    a0.set_title(f"first order, every ||Delta_r|| <= 1 (m = {mmain}, d = {d_main}, 8 seeds)")
    a0.legend(fontsize=6)
    a1 = ax[0, 1]
    for s in sorted({q["sigma"] for q in rat}):
        qs = [q for q in rat if q["sigma"] == s and q["m"] == mmain and q["d"] == d_main]
        if not qs:
            continue
        y = np.array([q["ratio"] for q in qs])
        a1.errorbar([q["n"] for q in qs], y, yerr=[y - [q["low"] for q in qs],
                                                   np.array([q["high"] for q in qs]) - y],
                    marker="o", capsize=3, ls=ls.get(s, ":"), label=f"sigma = {s:g}")
    a1.axhline(1.0, color="k", lw=0.8)
    a1.set_xscale("log"), a1.set_xlabel("n")
    a1.set_ylabel("softmax / exp of sup ||dH|| / ||H||")
    a1.set_title("softmax / exp, worst direction (< 1: softmax moves less)")
    a1.legend(fontsize=8)
    a2 = ax[1, 0]
    n_fin = GD_SERIES[0]
    for act in ACTS:
        rs = [r for r in rows if r["activation"] == act and r["m"] == mmain and r["n"] == n_fin
              and r["d"] == d_main and r["sigma"] == 1.0]
        if not rs:
            continue
        r = rs[0]
        y = np.array([q["mean"] for q in r["sup_R"]])
        a2.plot(r["radii"], y, color=colors[act], marker="o", label=f"{act}: sup over directions")
        a2.plot(r["radii"], np.array(r["dir_R_mean"])[3], color=colors[act], ls=":",
                label=f"{act}: GD direction")
        a2.plot(r["radii"], r["bound_R"], color=colors[act], ls="--", alpha=0.5,
                label=f"{act}: bound")
    a2.set_xscale("log"), a2.set_yscale("log")
    a2.set_xlabel("R"), a2.set_ylabel("||H(W + R Delta) - H(W)||_F / (R ||H||_F)")
    a2.set_title(f"finite R (n = {n_fin}, sigma = 1, m = {mmain})")
    a2.legend(fontsize=6)
    a3 = ax[1, 1]
    for act, g in gd.items():
        a3.plot(g["m"], g["R"], color=colors[act], marker="o",
                label=f"{act}: R, slope {g['slope_R']['estimate']:.2f} "
                      f"[{g['slope_R']['low']:.2f}, {g['slope_R']['high']:.2f}]")
        a3.plot(g["m"], g["dH_rel"], color=colors[act], marker="s", ls=":",
                label=f"{act}: ||H(T) - H(0)||/||H||, slope vs R {g['slope_dH_vs_R']:.2f}")
    a3.set_xscale("log"), a3.set_yscale("log"), a3.set_xlabel("m")
    a3.set_title("gradient descent (coupled pairs: first order cancels)")
    a3.legend(fontsize=6)
    fig.tight_layout()
    return fig


def main(out, paths):
    runs = [derived(read_run(p)) for p in find_files(paths, "ntk.h5")]
    groups, rows = summarise(runs)
    rat = ratios(groups)
    gd = gd_panel(groups)
    fails, per_check = [], defaultdict(lambda: [0, 0])
    for r in runs:
        for name, (ok, val, lim) in r["checks"].items():
            per_check[f"{r['activation']}.{name}"][0] += 1
            if not ok:
                per_check[f"{r['activation']}.{name}"][1] += 1
                fails.append({"run": os.path.basename(os.path.dirname(r["path"])), "check": name,
                              "value": val, "limit": lim})
    seeds = min(r["seeds"] for r in rows)
    if seeds < 8:
        raise AnalysisError(f"a series has {seeds} seeds: the intervals need at least 8")
    by_sigma = {}
    for s in sorted({q["sigma"] for q in rat}):
        qs = [q for q in rat if q["sigma"] == s]
        top = max(qs, key=lambda q: (q["n"], q["d"], q["m"]))
        by_sigma[f"{s:g}"] = {"rows": qs, "at_largest_n": top,
                              "high_max": max(q["high"] for q in qs),
                              "ratio_min": min(q["ratio"] for q in qs),
                              "ratio_max": max(q["ratio"] for q in qs)}
    supported = bool(rat) and all(q["high"] < 1 for q in rat)
    shift = {act: float(max((r["shift_rel_max"] for r in rows if r["activation"] == act),
                            default=float("nan"))) for act in ACTS}
    verdict = ("in the worst direction found, softmax's NTK moves less than exp's relative to its "
               "size at every (n, d, sigma) measured" if supported else
               "some softmax / exp interval of the worst-direction sup reaches 1")
    data = {"runs": len(runs), "seeds_min": seeds, "rows": rows, "ratios": rat,
            "ratio_by_sigma": by_sigma, "gd": gd, "shift_rel_max": shift,
            "checks": {"failures": len(fails), "checked": sum(v[0] for v in per_check.values()),
                       "per_check": {k: {"runs": v[0], "failed": v[1]} for k, v in
                                     per_check.items()},
                       "failed": fails[:50]},
            "verdict": {"status": "supported" if supported else "not supported",
                        "reason": verdict + "; softmax / exp at the largest n: " + "; ".join(
                            f"sigma = {k}: {v['at_largest_n']['ratio']:.3f} "
                            f"[{v['at_largest_n']['low']:.3f}, {v['at_largest_n']['high']:.3f}]"
                            for k, v in by_sigma.items()),
                        "worst_case_supported": int(supported),
                        "ratio_high_max": max((q["high"] for q in rat), default=float("nan")),
                        "text": verdict},
            "notes": "worst = a stationary point of the power iteration on Delta -> dH[Delta] "
                     "with per-neuron normalisation: a lower bound on the sup; the bound is "
                     "experiments/perturbation/BOUND.md evaluated on each run's weights and data"}
    print(f"{len(runs)} runs, {len(fails)} failed checks; verdict: "
          f"{'supported' if supported else 'not supported'}: {verdict}")
    for q in rat:
        print(f"  n = {q['n']:4d} d = {q['d']:2d} sigma = {q['sigma']:g} m = {q['m']}: softmax / exp "
              f"= {q['ratio']:.3f} [{q['low']:.3f}, {q['high']:.3f}]")
    for act, g in gd.items():
        print(f"  GD {act}: R slope {g['slope_R']['estimate']:.3f} [{g['slope_R']['low']:.3f}, "
              f"{g['slope_R']['high']:.3f}], dH vs R slope {g['slope_dH_vs_R']:.2f}")
    for f in fails[:10]:
        print(f"  FAILED {f}")
    save_outputs(plot(rows, rat, gd, out), out, data)


if __name__ == "__main__":
    sys.exit(run_analysis(main, sys.argv))
