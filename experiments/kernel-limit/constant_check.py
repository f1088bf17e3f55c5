#!/usr/bin/python3
"""The kernel-limit constant against softntk itself: RMS over weight seeds of
||H(0) - H*||_F / sqrt(C / m) on fixed data (experiments/kernel-limit/CONSTANT.md).

usage: experiments/kernel-limit/constant_check.py run OUTDIR [--seeds=A:B] [--widths=E1,E2,...]
           [--series=act:sigma,...] [--inits=random,coupled] [--jobs=J]
       experiments/kernel-limit/constant_check.py summary OUTDIR [OUT.png]
       experiments/kernel-limit/constant_check.py mc OUTDIR [--n=8] [--draws=4000,1000]
       experiments/kernel-limit/constant_check.py tail OUTDIR [--m=16384] [--draws=1000]

run: writes OUTDIR/data.h5 once (the deck's sphere data, n = 32, d = 16 with a constant coordinate,
drawn by `softntk ntk` at run.seed = 1), then one `softntk ntk` per (series, init, width 2^E, seed)
with data.source = file, so only the weights change with run.seed. Runs already present are
skipped; J at a time (default 2). Environment: SNTK_BIN (default build/softntk), SNTK_MPIRUN (empty:
the binary runs as an MPI singleton).
Defaults: seeds 1:32, widths 2^14 and 2^16, series softmax and exp at sigma 0.25, 0.5, 1, 1.5 and
relu at sigma 1, both inits.
summary: reads OUTDIR/runs/*/ntk.h5 (analysis/ntk_fluctuation.run_ratios: C from each run's own
/data/X), and per (activation, sigma, init, m) the RMS ratio with its 95 % seed-bootstrap intervals
(bootstrap-t and BCa, analysis/sntk_stats.py) and the check of ntk_fluctuation.ratio_checks; writes OUT.json and OUT.png (default
OUTDIR/constant_check.*) and prints a table.
mc: the formula against a direct numpy simulation of H(0) (analysis/ntk_fluctuation.monte_carlo) on
the first n rows of OUTDIR/data.h5, every activation, sigma in {0.25, 0.5, 1, 1.5}, both inits,
m = 256 (first number of draws) and 4096 (second); the prediction is C (exp, relu: exact) or
C + C2 / m (softmax); writes OUTDIR/mc.json and prints mean +- SE and z = (mean - prediction) / SE.
Also prints C per activation and sigma for the whole data set (n = 32).
tail: the log-normal tail at sigma = 1 and 1.5 (exp, softmax, init = random, width m): the ratios of
the softntk runs against `draws` numpy draws of the same distribution (two-sample Kolmogorov-Smirnov),
their quantiles and RMS values, and the typical RMS sqrt(1 - tail_share(S m)) for S seeds
(analysis/ntk_fluctuation.tail_share); per width, the RMS of the softntk runs beside it. Writes
OUTDIR/tail.json."""
import os
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "analysis"))

import numpy as np  # noqa: E402

DEFAULT_SERIES = [("softmax", s) for s in (0.25, 0.5, 1.0, 1.5)] + \
    [("exp", s) for s in (0.25, 0.5, 1.0, 1.5)] + [("relu", 1.0)]


def _opts(argv):
    return dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)


def _softntk(args):
    binary = os.environ.get("SNTK_BIN", os.path.join(ROOT, "build", "softntk"))
    mpirun = os.environ.get("SNTK_MPIRUN", "").split()
    return subprocess.run(mpirun + [binary] + args, capture_output=True, text=True)


def make_data(outdir):
    """OUTDIR/data.h5 with the deck's data at run.seed = 1 (X [32, 16], Y [32, 1])."""
    import h5py
    path = os.path.join(outdir, "data.h5")
    if os.path.exists(path):
        return path
    deck = os.path.join(HERE, "deck.ini")
    p = _softntk(["ntk", deck, "--run.seed=1", "--model.width=2", "--ntk.limit=false",
                  f"--run.output_dir={outdir}", "--run.name=data-source", "--run.overwrite=true"])
    if p.returncode:
        raise SystemExit(f"data run failed: {p.stderr.strip()[-500:]}")
    with h5py.File(os.path.join(outdir, "data-source", "ntk.h5"), "r") as f:
        X, Y = f["data/X"][...], f["data/Y"][...]
    with h5py.File(path + ".partial", "w") as f:
        f["X"], f["Y"] = X, Y
    os.replace(path + ".partial", path)
    return path


def run(outdir, argv):
    o = _opts(argv)
    a, b = (int(x) for x in o.get("seeds", "1:32").split(":"))
    widths = [2 ** int(e) for e in o.get("widths", "14,16").split(",")]
    series = DEFAULT_SERIES if "series" not in o else \
        [(s.split(":")[0], float(s.split(":")[1])) for s in o["series"].split(",")]
    inits = o.get("inits", "random,coupled").split(",")
    os.makedirs(os.path.join(outdir, "runs"), exist_ok=True)
    data = make_data(outdir)
    deck = os.path.join(HERE, "deck.ini")
    jobs = []
    for act, sigma in series:
        for init in inits:
            for m in widths:
                for seed in range(a, b + 1):
                    name = f"{act}-s{sigma:g}-{init}-m{m}-seed{seed}"
                    if not os.path.exists(os.path.join(outdir, "runs", name, "ntk.h5")):
                        jobs.append([
                            "ntk", deck, "--data.source=file", f"--data.file={data}",
                            f"--model.activation={act}", f"--model.sigma={sigma:g}",
                            f"--model.init={init}", f"--model.width={m}", f"--run.seed={seed}",
                            "--ntk.spectrum=values", f"--run.output_dir={outdir}/runs",
                            f"--run.name={name}", "--run.overwrite=true"])
    print(f"{len(jobs)} runs to do", flush=True)
    failed = 0
    with ThreadPoolExecutor(int(o.get("jobs", 2))) as ex:
        for i, p in enumerate(ex.map(_softntk, jobs)):
            if p.returncode:
                failed += 1
                print(f"FAILED: {' '.join(jobs[i][6:11])}: {p.stderr.strip()[-300:]}", flush=True)
            if (i + 1) % 100 == 0:
                print(f"{i + 1}/{len(jobs)} done", flush=True)
    return 1 if failed else 0


def summary(outdir, out):
    from ntk_fluctuation import ratio_checks, ratio_summary, run_ratios
    from sntk_results import save_outputs
    import h5py

    import ntk_fluctuation as nf
    rows = ratio_summary(run_ratios([os.path.join(outdir, "runs")]))
    with h5py.File(make_data(outdir), "r") as f:
        X = f["X"][...]
    c2 = {}
    for r in rows:  # softmax: the second-order prediction sqrt(1 + C2 / (C m)) of the ratio
        if r["activation"] == "softmax":
            key = (r["sigma"], r["init"])
            if key not in c2:
                e = nf.softmax_expansion(X, r["sigma"], r["init"])
                c2[key] = e["C2"] / e["C"]
            q = 1 + c2[key] / r["m"]
            r["second_order"] = float(np.sqrt(q)) if q > 0.5 else None
        else:
            r["second_order"] = 1.0
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    for ax, init in zip(axes, ("random", "coupled")):
        series = defaultdict(list)
        for r in rows:
            if r["init"] == init:
                series[(r["activation"], r["sigma"])].append(r)
        for (act, sigma), rr in sorted(series.items()):
            ms = np.array([r["m"] for r in rr], float)
            y = np.array([r["rms_ratio"] for r in rr])
            lo = np.array([r["t"][0] for r in rr])
            hi = np.array([r["t"][1] for r in rr])
            h = ax.errorbar(ms, y, yerr=[y - lo, np.minimum(hi, 3) - y], marker="o", ms=4,
                            capsize=3, label=f"{act}, sigma = {sigma:g}")
            pred = [(r["m"], r["second_order"]) for r in rr
                    if act == "softmax" and r["second_order"] is not None]
            if pred:
                ax.plot(*zip(*pred), "--", color=h[0].get_color(), lw=1)
        for level, style in ((1, "k-"), (2 ** 0.5, "k:"), (2 ** -0.5, "k:")):
            ax.axhline(level, color="k", ls=style[1:], lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_ylim(0, 3)
        ax.set_xlabel("width m")
        ax.set_title(f"init = {init}", fontsize=10)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("RMS over seeds of ||H(0) - H*||_F / sqrt(C / m)")
    axes[0].legend(fontsize=7)
    fig.suptitle("fixed data (n = 32, d = 16), 95 % bootstrap-t intervals over seeds (clipped at 3); "
                 "dashed: softmax sqrt(1 + C2 / (C m)); dotted: sqrt 2, 1 / sqrt 2", fontsize=9)
    fig.tight_layout()
    lines, failures = ratio_checks(rows)
    save_outputs(fig, out, {"quantity": "RMS over seeds of ||H(0) - H*||_F / sqrt(C/m)",
                            "rows": rows, "checks": lines, "failures": failures})
    print(f"{'activation':8s} {'sigma':>5s} {'init':8s} {'m':>6s} {'seeds':>5s} {'C':>10s} "
          f"{'RMS':>6s} {'95% t':>15s} {'95% BCa':>15s} {'median':>6s} {'max':>6s} {'2nd':>6s}")
    for r in rows:
        print(f"{r['activation']:8s} {r['sigma']:5g} {r['init']:8s} {r['m']:6d} {r['seeds']:5d} "
              f"{r['C']:10.4g} {r['rms_ratio']:6.3f} [{r['t'][0]:.3f}, {r['t'][1]:.3f}] "
              f"[{r['bca'][0]:.3f}, {r['bca'][1]:.3f}] {r['median_ratio']:6.3f} "
              f"{r['max_ratio']:6.2f} "
              f"{'' if r['second_order'] is None else format(r['second_order'], '6.3f')}")
    print("\n".join(lines))
    return 0


def mc(outdir, argv):
    import json

    import h5py

    import ntk_fluctuation as nf
    o = _opts(argv)
    n = int(o.get("n", 8))
    draws = [int(x) for x in o.get("draws", "4000,1000").split(",")]
    with h5py.File(make_data(outdir), "r") as f:
        X = f["X"][...]
    print(f"C on the whole data set (n = {len(X)}, d = {X.shape[1]}), init = random (coupled: 2C):")
    table = []
    for act, sigma in DEFAULT_SERIES + [("relu", s) for s in (0.25, 0.5, 1.5)]:
        row = {"activation": act, "sigma": sigma, "C": nf.constant(X, act, sigma)}
        if act == "softmax":
            for init in ("random", "coupled"):
                e = nf.softmax_expansion(X, sigma, init)
                row[f"C2_{init}"] = e["C2"]
        table.append(row)
        extra = "" if act != "softmax" else \
            f"  C2 = {row['C2_random']:.4g} (random), {row['C2_coupled']:.4g} (coupled)"
        print(f"  {act:8s} sigma {sigma:4g}: C = {row['C']:.6g}{extra}")
    Xs = X[:n]
    rows = []
    print(f"direct simulation on the first {n} points: m E||H - H*||_F^2 (mean +- SE over draws)")
    for act in ("softmax", "exp", "relu"):
        for sigma in (0.25, 0.5, 1.0, 1.5):
            for init in ("random", "coupled"):
                if act == "softmax":
                    e = nf.softmax_expansion(Xs, sigma, init)
                    C, C2 = e["C"], e["C2"]
                else:
                    C, C2 = nf.constant(Xs, act, sigma, init), 0.0
                for m, dr in zip((256, 4096), draws):
                    s = nf.monte_carlo(Xs, act, sigma, m, init, dr, seed=hash_seed(act, sigma,
                                                                                   init, m))
                    mean, se = float(s["scaled"].mean()), float(s["scaled"].std(ddof=1) /
                                                                np.sqrt(dr))
                    pred = C + C2 / m
                    rows.append({"activation": act, "sigma": sigma, "init": init, "m": m,
                                 "draws": dr, "C": C, "C2": C2, "prediction": pred, "mean": mean,
                                 "se": se, "z": (mean - pred) / se,
                                 "largest_share": float(s["scaled"].max() / s["scaled"].sum())})
                    r = rows[-1]
                    print(f"  {act:8s} sigma {sigma:4g} {init:8s} m {m:5d}: {mean:10.4g} +- "
                          f"{se:8.2g}  prediction {pred:10.4g} (C {C:.4g})  z = {r['z']:6.2f}  "
                          f"largest draw {r['largest_share']:.2f} of the sum", flush=True)
    with open(os.path.join(outdir, "mc.json"), "w") as f:
        json.dump({"n": n, "d": int(X.shape[1]), "constants_n32": table, "rows": rows}, f,
                  indent=1)
    return 0


def tail(outdir, argv):
    import json

    import h5py
    from scipy import stats

    import ntk_fluctuation as nf
    o = _opts(argv)
    m0, draws = int(o.get("m", 16384)), int(o.get("draws", 1000))
    with h5py.File(make_data(outdir), "r") as f:
        X = f["X"][...]
    runs = nf.run_ratios([os.path.join(outdir, "runs")])
    out = []
    for act in ("exp", "softmax"):
        for sigma in (1.0, 1.5):
            C = nf.constant(X, act, sigma)
            sel = [r for r in runs if (r["activation"], r["sigma"], r["init"]) ==
                   (act, sigma, "random")]
            by_m = defaultdict(list)
            for r in sel:
                by_m[r["m"]].append(r["ratio"])
            ours = np.array(by_m.get(m0, []))
            sim = np.sqrt(nf.monte_carlo(X, act, sigma, m0, "random", draws,
                                         seed=hash_seed(act, sigma, "tail", m0))["scaled"] / C)
            ks = stats.ks_2samp(ours, sim) if len(ours) > 1 else None
            q = (0.1, 0.5, 0.9, 0.99)
            row = {"activation": act, "sigma": sigma, "m": m0, "C": C, "seeds": len(ours),
                   "draws": draws, "ks_statistic": ks.statistic if ks else None,
                   "ks_pvalue": ks.pvalue if ks else None,
                   "quantiles": list(q), "softntk_quantiles": np.quantile(ours, q).tolist()
                   if len(ours) else None, "numpy_quantiles": np.quantile(sim, q).tolist(),
                   "softntk_rms": float(np.sqrt(np.mean(ours ** 2))) if len(ours) else None,
                   "numpy_rms": float(np.sqrt(np.mean(sim ** 2))),
                   "numpy_rms_of_32": np.quantile(
                       [np.sqrt(np.mean(sim[i:i + 32] ** 2)) for i in range(0, draws - 31, 32)],
                       (0.1, 0.5, 0.9)).tolist(),
                   "widths": {}}
            for m in sorted(by_m):
                v = np.array(by_m[m])
                row["widths"][m] = {"seeds": len(v), "rms": float(np.sqrt(np.mean(v ** 2))),
                                    "median": float(np.median(v)),
                                    "typical": float(np.sqrt(max(0.0, 1 - nf.tail_share(
                                        X, act, sigma, len(v) * m))))}
            out.append(row)
            print(f"{act} sigma {sigma:g}, m = {m0}: softntk {len(ours)} seeds vs numpy {draws} "
                  f"draws: KS D = {row['ks_statistic']:.3f}, p = {row['ks_pvalue']:.3f}; "
                  f"quantiles 10/50/90/99 % softntk {np.round(row['softntk_quantiles'], 3)}, "
                  f"numpy {np.round(row['numpy_quantiles'], 3)}; RMS softntk "
                  f"{row['softntk_rms']:.3f}, numpy {row['numpy_rms']:.3f} (RMS of 32 draws: "
                  f"10/50/90 % {np.round(row['numpy_rms_of_32'], 3)})")
            for m, w in row["widths"].items():
                print(f"    m = {m:6d}: {w['seeds']:4d} seeds, RMS {w['rms']:.3f}, median "
                      f"{w['median']:.3f}, typical sqrt(1 - tail share) {w['typical']:.3f}")
    shares = {}
    print("tail_share(draws) on the data, and the draws from which it is <= 0.1:")
    for act in ("exp", "softmax"):
        for sigma in (1.0, 1.5):
            tab = {e: nf.tail_share(X, act, sigma, 2.0 ** e) for e in range(16, 33, 4)}
            lo, hi = 1.0, 200.0  # bisection in log2(draws): the share falls with draws
            for _ in range(50):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if nf.tail_share(X, act, sigma, 2.0 ** mid) > 0.1 else (lo, mid)
            shares[f"{act}, sigma = {sigma:g}"] = {"share": tab, "log2_draws_share_0.1": hi}
            print(f"  {act:8s} sigma {sigma:g}: " + ", ".join(f"2^{e}: {v:.3f}" for e, v in
                                                           tab.items()) + f"; <= 0.1 from 2^{hi:.1f}")
    with open(os.path.join(outdir, "tail.json"), "w") as f:
        json.dump({"series": out, "tail_share": shares}, f, indent=1)
    return 0


def hash_seed(act, sigma, init, m):
    """A fixed seed per case (no Python hash: it is salted per process)."""
    return [("softmax", "exp", "relu").index(act), int(sigma * 100), sum(map(ord, init)), m]


def main(argv):
    if len(argv) < 3 or argv[1] not in ("run", "summary", "mc", "tail"):
        print(__doc__.split("usage:", 1)[1].split("run:", 1)[0].strip(), file=sys.stderr)
        return 2
    outdir = os.path.abspath(argv[2])
    if argv[1] == "run":
        return run(outdir, argv[3:])
    if argv[1] == "mc":
        return mc(outdir, argv[3:])
    if argv[1] == "tail":
        return tail(outdir, argv[3:])
    rest = [a for a in argv[3:] if not a.startswith("--")]
    return summary(outdir, rest[0] if rest else os.path.join(outdir, "constant_check.png"))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
