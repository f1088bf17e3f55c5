#!/usr/bin/python3
"""Diffusion: a softmax network learns a diffusion model's score (experiments/diffusion).

usage: analysis/diffusion.py OUT.png PATH [PATH ...]

Inputs: results.h5 files of `softntk score` runs on a Gaussian-mixture target (a PATH that is a
directory stands for its */results.h5), and the regression.h5 beside a results.h5 when the run had
diffusion.regression = true. Read: the root attributes (m, n = N triples, seed, eta, steps_done);
/score (step, error: the held-out time-weighted score error E ||sigma_t^2 (s_net - s*)||^2 against
the exact score, and the zero-predictor error of its attributes); /samples (the learned-score,
exact-score and reference target samples and the sliced W2, MMD and mode-coverage attributes);
regression.h5 /ntk/regression (score errors and distances ||f_net - f|| / ||f|| of the trained
network to the NTK predictors: ridge regression with H(0), kernel gradient descent for the trained
number of steps with H(0) and with the infinite-width H*).
Runs with a regression.h5 are width runs, the others early-stopping runs.
Fitted and reported:
- early stopping, per run: best step and best error (the minimum of /score), fall = error at step 0
  (the zero predictor, F(W0) = 0) / best error, rise = error at the last step / best error, and
  whether the best step is interior (before the last evaluation);
- width, per N: against m, the RMS over seeds of ||f_net - f_gd(H*)|| / ||f_gd(H*)|| and of
  ||f_net - f_gd(H(0))|| / ||f_gd(H(0))||, with log-log slopes (H(0) -> H* at m^{-1/2}, DESIGN.md
  section 2); the mean score errors of the network and of the kernel predictors; the sample metrics;
- samples: the widest width run's sliced W2 and MMD (learned, exact score, noise floor) and modes.
Outputs: OUT.png and OUT.pdf (early-stopping curves; network-vs-kernel distances and score errors
against m; sample metrics against m; scatter of learned- and exact-score samples over the target)
and OUT.json (every number above; errors are in the units of x_0 squared, distances are ratios)."""
import os
import sys
from collections import defaultdict

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sample_checks import SETS, describe, sample_checks  # noqa: E402
from sntk_results import (AnalysisError, attrs_of, find_files, loglog_fit, need,  # noqa: E402
                          run_analysis, save_outputs)

REG_KEYS = ("score_error_trained", "score_error_kernel", "score_error_kernel_gd",
            "score_error_kernel_gd_limit", "rel_diff_trained_kernel", "rel_diff_trained_gd",
            "rel_diff_trained_gd_limit", "gd_steps")
SAMPLE_KEYS = tuple(f"{m}_{k}" for k in SETS for m in ("sw2", "mmd", "modes_covered", "inside")) + (
    "sw2_floor", "sw2_floor_std", "mmd_floor", "mmd_floor_std", "samples", "sample_steps",
    "coverage_radius", "coverage_level")


def read_run(path):
    """One score run: sizes, the /score series, the /samples metrics and arrays, regression.h5."""
    with h5py.File(path, "r") as f:
        need(f, "score/step", "score/error")
        a = attrs_of(f)
        sc = attrs_of(f["score"])
        if not sc.get("exact", 0):
            raise AnalysisError(f"{path}: the score is not exact (a file target): no score error")
        run = {"path": path, "name": os.path.basename(os.path.dirname(os.path.abspath(path))),
               "m": int(a["m"]), "N": int(a["n"]), "seed": int(a["seed"]), "eta": float(a["eta"]),
               "steps": int(a["steps_done"]),
               "step": f["score/step"][...].astype(int), "error": f["score/error"][...],
               "zero_error": float(sc["zero_predictor_error"]),
               "best_step": int(sc["best_step"]), "best_error": float(sc["best_error"])}
        run["samples"] = None
        if "samples" in f and "sw2_learned" in f["samples"].attrs:
            s = attrs_of(f["samples"])
            run["samples"] = {k: float(s[k]) for k in SAMPLE_KEYS if k in s}
            run["samples"]["verdict"] = {k: sample_checks(s, k, 4) for k in SETS
                                         if f"sw2_{k}" in s}
            for k in SETS + ("reference",):
                run["samples"]["x_" + k] = f["samples/" + k][...] if k in f["samples"] else None
    reg = os.path.join(os.path.dirname(path), "regression.h5")
    run["regression"] = None
    if os.path.isfile(reg):
        with h5py.File(reg, "r") as f:
            need(f, "ntk/regression")
            g = attrs_of(f["ntk/regression"])
            run["regression"] = {k: float(g.get(k, np.nan)) for k in REG_KEYS}
    return run


def early_stopping(runs):
    """Per early-stopping run (sorted by N, m, seed): best step, fall, rise, interior."""
    out = []
    for r in sorted(runs, key=lambda r: (r["N"], r["m"], r["seed"])):
        e, st = r["error"], r["step"]
        i = int(np.argmin(e))
        out.append({"name": r["name"], "N": r["N"], "m": r["m"], "seed": r["seed"],
                    "eta_m_N": r["eta"] * r["m"] * r["N"], "steps": r["steps"],
                    "zero_error": r["zero_error"], "best_step": int(st[i]),
                    "best_error": float(e[i]), "final_error": float(e[-1]),
                    "fall": r["zero_error"] / float(e[i]), "rise": float(e[-1] / e[i]),
                    "interior": bool(i < len(e) - 1)})
    return out


def rms(v):
    v = np.asarray(v, float)
    return float(np.sqrt(np.mean(v ** 2)))


def width_series(runs):
    """Per N: the width runs against m (RMS over seeds of the distances, means of the errors) and
    the log-log slopes of the distances."""
    groups = defaultdict(lambda: defaultdict(list))
    for r in runs:
        groups[r["N"]][r["m"]].append(r)
    out = {}
    for N in sorted(groups):
        by_m = groups[N]
        ms = sorted(by_m)
        s = {"N": N, "m": ms, "seeds": [len(by_m[m]) for m in ms]}
        for k in ("rel_diff_trained_gd_limit", "rel_diff_trained_gd", "rel_diff_trained_kernel"):
            s[k] = [rms([x["regression"][k] for x in by_m[m]]) for m in ms]
        for k in ("score_error_trained", "score_error_kernel_gd_limit", "score_error_kernel_gd",
                  "score_error_kernel"):
            s[k] = [float(np.mean([x["regression"][k] for x in by_m[m]])) for m in ms]
        for k in ("sw2_learned", "sw2_exact", "sw2_gaussian", "sw2_floor", "mmd_learned",
                  "mmd_exact", "mmd_gaussian", "mmd_floor", "modes_covered_learned"):
            s[k] = [float(np.mean([x["samples"][k] for x in by_m[m] if x["samples"]] or [np.nan]))
                    for m in ms]
        if len(ms) >= 2:
            s["fit_gd_limit"] = loglog_fit(ms, s["rel_diff_trained_gd_limit"])
            s["fit_gd"] = loglog_fit(ms, s["rel_diff_trained_gd"])
        s["score_ratio"] = [a / b for a, b in zip(s["score_error_trained"],
                                                  s["score_error_kernel_gd_limit"])]
        out[str(N)] = s
    return out


def widest(runs):
    """The width run with the largest m (lowest seed among equals), else the run with samples and
    the lowest best error."""
    cand = [r for r in runs if r["samples"] and r["samples"]["x_learned"] is not None]
    if not cand:
        return None
    return max(cand, key=lambda r: (r["regression"] is not None, r["m"], -r["seed"]))


def plot(es, ws, ref, es_runs):
    fig, ax = plt.subplots(2, 3, figsize=(15, 8.6))
    a = ax[0, 0]
    for r, s in zip(sorted(es_runs, key=lambda r: (r["N"], r["m"], r["seed"])), es):
        st = np.maximum(r["step"], 1)
        line, = a.semilogx(st, r["error"], "-", lw=1.2,
                           label=f"N = {s['N']}, m = {s['m']}: best step {s['best_step']}, "
                                 f"fall {s['fall']:.1f}x, rise {s['rise']:.2f}x")
        a.plot(max(s["best_step"], 1), s["best_error"], "o", color=line.get_color())
    if es:
        a.axhline(es[0]["zero_error"], color="k", ls=":", lw=1, label="zero predictor (step 0)")
    a.set_yscale("log")
    a.set_xlabel("gradient-descent step (step 0 drawn at 1)")
    a.set_ylabel("held-out score error E ||sigma_t^2 (s - s*)||^2")
    a.set_title("early stopping: score error vs training step", fontsize=10)
    a.grid(True, which="both", alpha=0.3)
    a.legend(fontsize=7)
    a, b, c = ax[0, 1], ax[0, 2], ax[1, 2]
    for key, s in ws.items():
        m = np.array(s["m"], float)
        lab = f"N = {key}"
        if "fit_gd_limit" in s:
            f = s["fit_gd_limit"]
            a.loglog(m, s["rel_diff_trained_gd_limit"], "o-", label=f"{lab}: vs kernel GD with H*, "
                     f"slope {f['slope']:.2f}")
            g = s["fit_gd"]
            a.loglog(m, s["rel_diff_trained_gd"], "s--", label=f"{lab}: vs kernel GD with H(0), "
                     f"slope {g['slope']:.2f}")
            a.loglog(m, s["rel_diff_trained_gd_limit"][0] * (m / m[0]) ** -0.5, "k:", lw=1,
                     label="m^(-1/2)")
        b.semilogx(m, s["score_error_trained"], "o-", label=f"{lab}: trained network")
        b.semilogx(m, s["score_error_kernel_gd_limit"], "k--", lw=1,
                   label=f"{lab}: kernel GD with H* (infinite width)")
        b.semilogx(m, s["score_error_kernel_gd"], "x", label=f"{lab}: kernel GD with H(0)")
        b.semilogx(m, s["score_error_kernel"], "^:", label=f"{lab}: ridge kernel regression, H(0)")
        for k, st in (("sw2_learned", "o-"), ("sw2_exact", "s-"), ("sw2_gaussian", "^--"),
                      ("sw2_floor", "k:")):
            c.semilogx(m, s[k], st, label=f"{lab}: sliced W2, {k[4:]}")
        c.semilogx(m, s["mmd_learned"], "o--", label=f"{lab}: MMD, learned")
    a.set_xlabel("hidden width m")
    a.set_ylabel("||f_net - f_kernel|| / ||f_kernel|| (held out)")
    a.set_title("trained network vs NTK kernel gradient descent", fontsize=10)
    b.set_xlabel("hidden width m")
    b.set_ylabel("held-out score error")
    b.set_title("score error: network and kernel predictors", fontsize=10)
    c.set_xlabel("hidden width m")
    c.set_ylabel("distance to fresh target samples")
    c.set_title("sample quality (reverse SDE) vs width", fontsize=10)
    for x in (a, b, c):
        x.grid(True, which="both", alpha=0.3)
        x.legend(fontsize=7)
    for x, k, col in ((ax[1, 0], "learned", "C0"), (ax[1, 1], "gaussian", "C3")):
        if ref is None:
            x.set_axis_off()
            continue
        sm = ref["samples"]
        if sm["x_reference"] is not None:
            x.scatter(sm["x_reference"][:, 0], sm["x_reference"][:, 1], s=30, c="0.6",
                      alpha=0.25, lw=0, label="target samples")
        x.scatter(sm["x_" + k][:, 0], sm["x_" + k][:, 1], s=3, c=col, alpha=0.6, lw=0,
                  label=f"{k} score: sliced W2 {sm['sw2_' + k]:.3f}, MMD {sm['mmd_' + k]:.3f}, "
                        f"modes {sm['modes_covered_' + k]:.0f}")
        x.set_title(f"{k} samples (m = {ref['m']}, N = {ref['N']}): checks "
                    f"{'passed' if sm['verdict'][k]['passed'] else 'FAILED'}\nnoise floor of sliced "
                    f"W2: {sm['sw2_floor']:.3f}; exact score: {sm['sw2_exact']:.3f}", fontsize=9)
        x.set_xlim(-2, 2)
        x.set_ylim(-2, 2)
        x.set_aspect("equal")
        x.legend(fontsize=7, loc="lower left", markerscale=3)
    fig.suptitle("softmax network (alpha = m) learning the score of 4 point masses on the unit "
                 "circle (d = 2)", fontsize=11)
    fig.tight_layout()
    return fig


def main(out, paths):
    runs = [read_run(p) for p in find_files(paths, "results.h5")]
    es_runs = [r for r in runs if r["regression"] is None]
    w_runs = [r for r in runs if r["regression"] is not None]
    if not es_runs or not w_runs:
        raise AnalysisError(f"{len(es_runs)} early-stopping run(s) (no regression.h5) and "
                            f"{len(w_runs)} width run(s) (with regression.h5): both are needed")
    es = early_stopping(es_runs)
    ws = width_series(w_runs)
    ref = widest(w_runs)
    samples = None
    if ref is not None:
        sm = ref["samples"]
        samples = {k: v for k, v in sm.items() if not k.startswith("x_")}
        samples.update({"run": ref["name"], "m": ref["m"], "N": ref["N"],
                        "sw2_learned_over_floor": sm["sw2_learned"] / sm["sw2_floor"],
                        "sw2_exact_over_floor": sm["sw2_exact"] / sm["sw2_floor"],
                        "sw2_gaussian_over_floor": sm["sw2_gaussian"] / sm["sw2_floor"],
                        "mmd_learned_over_floor": sm["mmd_learned"] / sm["mmd_floor"],
                        "passed": {k: int(v["passed"]) for k, v in sm["verdict"].items()}})
    main_w = ws[str(max(int(k) for k in ws))]
    width = {"series": ws, "N": main_w["N"], "m": main_w["m"],
             "rel_diff_gd_limit_widest": main_w["rel_diff_trained_gd_limit"][-1],
             "rel_diff_gd_limit_narrowest": main_w["rel_diff_trained_gd_limit"][0],
             "rel_diff_gd_widest": main_w["rel_diff_trained_gd"][-1],
             "score_ratio_widest": main_w["score_ratio"][-1]}
    if "fit_gd_limit" in main_w:
        width["fit_gd_limit"] = main_w["fit_gd_limit"]
        width["fit_gd"] = main_w["fit_gd"]
    est = {"runs": es, "min_fall": min(s["fall"] for s in es),
           "max_rise": max(s["rise"] for s in es),
           "interior_runs": sum(s["interior"] for s in es)}
    fig = plot(es, ws, ref, es_runs)
    data = {"claim": "a softmax network trained by gradient descent learns the score of a "
                     "diffusion model (arXiv 2405.03251, its application), in the NTK regime",
            "prediction": {
                "early_stopping": "the held-out score error falls from the zero predictor's to a "
                                  "best step, then rises as the network fits the label noise",
                "width": "||f_net - f_kernel|| shrinks as m grows (H(0) -> H* at m^-1/2); the "
                         "score errors of network and kernel predictor approach each other",
                "samples": "reverse-SDE samples with the learned score pass the sample checks "
                           "(analysis/sample_checks.py: at the noise floor, better than the "
                           "moment-matched Gaussian, every mode covered within its radius) as "
                           "the exact score's do, and the Gaussian's and N(0, I)'s do not"},
            "units": {"error": "x_0 units squared (E ||sigma_t^2 (s - s*)||^2 = "
                               "E alpha_t^2 ||f - f*||^2)",
                      "rel_diff": "1 (ratio of norms over held-out points)",
                      "sw2": "x_0 units", "mmd": "1 (RBF MMD, median bandwidth)"},
            "inputs": [r["path"] for r in runs], "early_stopping": est, "width": width,
            "samples": samples}
    save_outputs(fig, out, data)
    for s in es:
        print(f"early stopping N = {s['N']:5d} m = {s['m']:6d}: error {s['zero_error']:.4e} -> best "
              f"{s['best_error']:.4e} at step {s['best_step']} (fall {s['fall']:.1f}x), last "
              f"{s['final_error']:.4e} (rise {s['rise']:.3f}x)")
    for N, s in ws.items():
        for i, m in enumerate(s["m"]):
            print(f"width N = {N} m = {m:6d}: ||f_net - f_gd(H*)||/|| || = "
                  f"{s['rel_diff_trained_gd_limit'][i]:.4f}, vs H(0) {s['rel_diff_trained_gd'][i]:.2e}; "
                  f"score error net {s['score_error_trained'][i]:.4e}, kernel GD H* "
                  f"{s['score_error_kernel_gd_limit'][i]:.4e}; sliced W2 {s['sw2_learned'][i]:.3f}")
        if "fit_gd_limit" in s:
            print(f"width N = {N}: slope vs H* {s['fit_gd_limit']['slope']:.3f} +- "
                  f"{s['fit_gd_limit']['slope_stderr']:.3f}, vs H(0) {s['fit_gd']['slope']:.3f}")
    if samples:
        print(f"samples (m = {samples['m']}): sliced W2 learned {samples['sw2_learned']:.3f}, exact "
              f"{samples['sw2_exact']:.3f}, gaussian {samples['sw2_gaussian']:.3f}, noise "
              f"{samples['sw2_noise']:.3f}, floor {samples['sw2_floor']:.3f}")
        for k, v in samples["verdict"].items():
            print(f"samples check {k:9s} {'pass' if v['passed'] else 'FAIL'}: {describe(v)}")


if __name__ == "__main__":
    sys.exit(run_analysis(main, sys.argv))
