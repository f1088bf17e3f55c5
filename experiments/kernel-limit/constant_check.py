#!/usr/bin/python3
"""The kernel-limit constant against softntk itself: RMS over weight seeds of
||H(0) - H*||_F / sqrt(C / m) on fixed data (experiments/kernel-limit/CONSTANT.md).

usage: experiments/kernel-limit/constant_check.py run OUTDIR [--seeds=A:B] [--widths=E1,E2,...]
           [--series=act:sigma,...] [--inits=random,coupled] [--jobs=J]
       experiments/kernel-limit/constant_check.py summary OUTDIR [OUT.png]

run: writes OUTDIR/data.h5 once (the deck's sphere data, n = 32, d = 16 with a constant coordinate,
drawn by `softntk ntk` at run.seed = 1), then one `softntk ntk` per (series, init, width 2^E, seed)
with data.source = file, so only the weights change with run.seed. Runs already present are
skipped; J at a time (default 2). Environment: SNTK_BIN (default build/softntk), SNTK_MPIRUN (empty:
the binary runs as an MPI singleton).
Defaults: seeds 1:32, widths 2^14 and 2^16, series softmax and exp at sigma 0.25, 0.5, 1, 1.5 and
relu at sigma 1, both inits.
summary: reads OUTDIR/runs/*/ntk.h5 (analysis/ntk_fluctuation.run_ratios: C from each run's own
/data/X), and per (activation, sigma, init, m) the RMS ratio with its 95 % seed-bootstrap percentile
and BCa intervals (analysis/sntk_stats.py); writes OUT.json and OUT.png (default
OUTDIR/constant_check.*) and prints a table."""
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
    rows = ratio_summary(run_ratios([os.path.join(outdir, "runs")]))
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
            lo = np.array([r["bca"][0] for r in rr])
            hi = np.array([r["bca"][1] for r in rr])
            ax.errorbar(ms, y, yerr=[y - lo, hi - y], marker="o", ms=4, capsize=3,
                        label=f"{act}, sigma = {sigma:g}")
        for level, style in ((1, "k-"), (2 ** 0.5, "k:"), (2 ** -0.5, "k:")):
            ax.axhline(level, color="k", ls=style[1:], lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("width m")
        ax.set_title(f"init = {init}", fontsize=10)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("RMS over seeds of ||H(0) - H*||_F / sqrt(C / m)")
    axes[0].legend(fontsize=7)
    fig.suptitle("fixed data (n = 32, d = 16), 95 % BCa seed-bootstrap intervals; dotted: "
                 "sqrt 2 and 1 / sqrt 2", fontsize=10)
    fig.tight_layout()
    lines, failures = ratio_checks(rows)
    save_outputs(fig, out, {"quantity": "RMS over seeds of ||H(0) - H*||_F / sqrt(C/m)",
                            "rows": rows, "checks": lines, "failures": failures})
    print(f"{'activation':8s} {'sigma':>5s} {'init':8s} {'m':>6s} {'seeds':>5s} {'C':>10s} "
          f"{'RMS':>6s} {'95% BCa':>15s} {'95% pct':>15s} {'median':>6s} {'max':>6s}")
    for r in rows:
        print(f"{r['activation']:8s} {r['sigma']:5g} {r['init']:8s} {r['m']:6d} {r['seeds']:5d} "
              f"{r['C']:10.4g} {r['rms_ratio']:6.3f} [{r['bca'][0]:.3f}, {r['bca'][1]:.3f}] "
              f"[{r['percentile'][0]:.3f}, {r['percentile'][1]:.3f}] {r['median_ratio']:6.3f} "
              f"{r['max_ratio']:6.2f}")
    print("\n".join(lines))
    return 0


def main(argv):
    if len(argv) < 3 or argv[1] not in ("run", "summary"):
        print(__doc__.split("usage:", 1)[1].split("run:", 1)[0].strip(), file=sys.stderr)
        return 2
    outdir = os.path.abspath(argv[2])
    if argv[1] == "run":
        return run(outdir, argv[3:])
    rest = [a for a in argv[3:] if not a.startswith("--")]
    return summary(outdir, rest[0] if rest else os.path.join(outdir, "constant_check.png"))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
