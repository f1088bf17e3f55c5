"""Strong and weak scaling of the training step and of the NTK eigen-solve from results.h5 /perf
(experiments/scaling; imported by analysis/scaling.py, whose second form runs experiment_main).

    analysis/scaling.py OUT.png PATH ...

Each PATH is a results.h5 file or a directory whose */results.h5 are used. Only the HDF5 files are
read: mpi_size, n, d, k, m (root attributes), run.name (the config the file carries) and /perf (per
phase: count, time_min / time_avg / time_max over ranks, flops summed over ranks).

Series. A run named <kind>[-<phase>]-p<P>[-r<rep>] (kind strong or weak, phase step or eigen) belongs
to the series <kind>[-<phase>]; a run otherwise named belongs to the series named by its parent
directory when that is `strong` or `weak` (the slurm/scaling.sh layout). A series without a phase
reports every phase that ran in all its runs. Repetitions (same series and P) are reduced to the
fastest one: on a shared machine the minimum is the least disturbed measurement.

Phases: `step` (event step: loss and gradient of one gradient-descent step; work model W = n m d, the
GEMMs) and `eigen` (event ntk_eigen: one eigen-solve of the nk x nk Gram; W = (nk)^3). Time T(P) is
the phase's time_max / count (seconds per call, slowest rank). With P0 the smallest P of the series:
  efficiency E(P) = [W(P) / (P T(P))] / [W(P0) / (P0 T(P0))]   (work rate per rank, relative)
  speed-up   S(P) = E(P) P / P0
For a strong series (W fixed) this is S = T(P0) / T(P), E = S P0 / P; for a weak one (W ~ P) E =
T(P0) / T(P) and S the scaled speed-up; W corrects for sizes rounded off the exact weak law.
Consistency: flops per call from /perf (backward_gemm flops per step for `step`, ntk_cholesky flops
per factorisation for `eigen`, both summed over ranks) divided by W must not depend on P:
flop_ratio = [F(P) / W(P)] / [F(P0) / W(P0)] is 1 up to rounding on any machine. Checks that do not
go through the work model: flops_total_ratio = F(P) / F(P0) (run against run: 1 for a strong series);
from /perf/flops_rank (each rank's count), rank_share_max_dev = max over ranks |F_p / F - share_p|
with share_p the rank's neuron block m_p / m (step) or 1 / P (Cholesky), and rank_sum_rel_dev =
|sum_p F_p - F| / F. Step rows also carry the band the DGEMM rates allow: the per-rank rate of the
forward and backward GEMM events at P relative to P0 (gemm_rate_ratio), the GEMM share of the step at
P0, and efficiency_band = [E_lo, E_hi] for the rest of the step not parallel at all (lo) or perfectly
parallel (hi), with efficiency_over_band_lo / _hi.

Writes OUT.png, OUT.pdf (time per call, speed-up and efficiency against P) and OUT.json:
{"step": {"strong": rows, "weak": rows}, "eigen": {...}, "series": {name: {phase: rows}}, ...}; rows
sorted by P carry P, sizes, seconds (the fastest repetition), seconds_reps, imbalance (time_max /
time_min over ranks), flops_per_call, work, flop_ratio, speedup, efficiency. "step" and "eigen" hold
the series named strong / strong-<phase> and weak / weak-<phase> (null when absent)."""
import os
import re
import sys
from collections import defaultdict

import h5py
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import NullFormatter, ScalarFormatter  # noqa: E402

from sntk_results import (AnalysisError, attrs_of, config_value, find_results,  # noqa: E402
                          run_analysis, save_outputs)

PHASES = {
    "step": {"event": "step", "flops": "backward_gemm", "per": "step",
             "work": lambda r: float(r["n"]) * r["m"] * r["d"], "label": "gradient-descent step"},
    "eigen": {"event": "ntk_eigen", "flops": "ntk_cholesky", "per": "ntk_cholesky",
              "work": lambda r: float(r["n"] * r["k"]) ** 3, "label": "NTK eigen-solve"},
}
NAME = re.compile(r"^(strong|weak)(?:-(step|eigen))?-p(\d+)(?:-r\d+)?$")


def read_perf(path):
    """One run: sizes, P, its series and its /perf table {event: {count, time_*, flops}}."""
    with h5py.File(path, "r") as f:
        a = attrs_of(f)
        if "perf" not in f:
            raise AnalysisError(f"{path} has no /perf: the run did not finish (check its log)")
        g = f["perf"]
        events = [e.decode() if isinstance(e, bytes) else str(e) for e in g["event"][...]]
        cols = {c: g[c][...] for c in ("count", "time_min", "time_avg", "time_max", "flops")}
        frank = g["flops_rank"][...] if "flops_rank" in g else None
    perf = {e: {c: float(cols[c][i]) for c in cols} for i, e in enumerate(events)}
    if frank is not None:
        if frank.shape != (int(a["mpi_size"]), len(events)):
            raise AnalysisError(f"{path}: /perf/flops_rank is {frank.shape}, not (mpi_size, events)")
        for i, e in enumerate(events):
            perf[e]["flops_rank"] = [float(x) for x in frank[:, i]]
    rundir = os.path.dirname(os.path.abspath(path))
    name = config_value(a, "run", "name") or os.path.basename(rundir)
    m = NAME.match(name)
    if m:
        series, phase = m.group(1) + (f"-{m.group(2)}" if m.group(2) else ""), m.group(2)
    elif os.path.basename(os.path.dirname(rundir)) in ("strong", "weak"):
        series, phase = os.path.basename(os.path.dirname(rundir)), None
    else:
        raise AnalysisError(f"{path}: run name {name!r} is not <strong|weak>[-step|-eigen]-p<P>, "
                            f"and its directory is not below strong/ or weak/")
    return {"path": path, "name": name, "series": series, "kind": series.split("-")[0],
            "phase": phase, "P": int(a["mpi_size"]), "n": int(a["n"]), "d": int(a["d"]),
            "k": int(a["k"]), "m": int(a["m"]), "perf": perf}


def timing(run, phase):
    """(seconds per call, imbalance, flops per unit) of one phase in one run, or None if it did not
    run."""
    ph = PHASES[phase]
    p = run["perf"].get(ph["event"])
    if not p or p["count"] <= 0 or p["time_max"] <= 0:
        return None
    per = run["perf"].get(ph["per"], {}).get("count", 0)
    fl = run["perf"].get(ph["flops"], {}).get("flops", 0.0)
    return (p["time_max"] / p["count"], p["time_max"] / p["time_min"] if p["time_min"] > 0 else None,
            fl / per if per > 0 else None)


GEMM_EVENTS = ("forward_gemm", "backward_gemm")
SHARE_TOL = 1e-12  # flop counts are sums of exact integers below 2^53: shares agree to rounding


def expected_shares(run, phase):
    """Each rank's expected share of the phase's flops: its neuron block m_p / m for the step's
    GEMMs (DESIGN.md section 3: contiguous blocks, the first m mod P ranks one neuron more), 1 / P
    for the Cholesky (the work model /perf counts per rank)."""
    P, m = run["P"], run["m"]
    if phase == "step":
        base, rem = divmod(m, P)
        return np.array([(base + (p < rem)) / m for p in range(P)])
    return np.full(P, 1.0 / P)


def rank_checks(run, phase):
    """(max over ranks |F_p / F - expected share|, |sum_p F_p - F| / F) of the phase's flop event,
    or (None, None) when the file has no per-rank counts."""
    ev = run["perf"].get(PHASES[phase]["flops"], {})
    fr = ev.get("flops_rank")
    if fr is None or not ev.get("flops"):
        return None, None
    fr = np.asarray(fr)
    total = ev["flops"]
    return (float(np.max(np.abs(fr / total - expected_shares(run, phase)))),
            float(abs(fr.sum() - total) / total))


def gemm_split(run):
    """(GEMM seconds per step, other seconds per step, GEMM rate per rank in flop/s) of the step,
    from the forward and backward GEMM events (the DGEMM calls themselves, timed in the run)."""
    steps = run["perf"]["step"]["count"]
    t_step = run["perf"]["step"]["time_max"] / steps
    t_g = sum(run["perf"][e]["time_avg"] for e in GEMM_EVENTS) / steps
    f_g = sum(run["perf"][e]["flops"] for e in GEMM_EVENTS) / steps / run["P"]
    return t_g, max(t_step - t_g, 0.0), f_g / t_g if t_g > 0 else None


def series_rows(runs, phase):
    """Rows (one per P, the fastest repetition) of one phase of one series, with speed-up and
    efficiency relative to the smallest P."""
    by_p = defaultdict(list)
    for r in runs:
        t = timing(r, phase)
        if t is not None:
            by_p[r["P"]].append((t, r))
    rows = []
    for P in sorted(by_p):
        (sec, imb, fl), r = min(by_p[P], key=lambda x: x[0][0])
        rows.append({"P": P, "run": r["name"], "path": r["path"], "n": r["n"], "d": r["d"],
                     "k": r["k"], "m": r["m"], "seconds": sec,
                     "seconds_reps": sorted(x[0][0] for x in by_p[P]), "imbalance": imb,
                     "flops_per_call": fl, "work": PHASES[phase]["work"](r), "_run": r})
    if not rows:
        return None
    b = rows[0]
    for r in rows:
        run = r.pop("_run")
        r["rank_share_max_dev"], r["rank_sum_rel_dev"] = rank_checks(run, phase)
        r["_split"] = gemm_split(run) if phase == "step" else None
    for r in rows:
        # the same problem (strong) on P and P0 ranks: the total flop count must not change; weak:
        # it grows with the work (compared directly, run against run, not through the model)
        ok = r["flops_per_call"] and b["flops_per_call"]
        r["flops_total_ratio"] = r["flops_per_call"] / b["flops_per_call"] if ok else None
        r["work_ratio"] = r["work"] / b["work"]
    for r in rows:
        r["efficiency"] = (r["work"] / (r["P"] * r["seconds"])) / (b["work"] / (b["P"] * b["seconds"]))
        r["speedup"] = r["efficiency"] * r["P"] / b["P"]
        ok = r["flops_per_call"] and b["flops_per_call"]
        r["flop_ratio"] = ((r["flops_per_call"] / r["work"]) / (b["flops_per_call"] / b["work"])
                           if ok else None)
    if phase == "step":
        # the band the DGEMM rates allow: the GEMM part at the per-rank DGEMM rate measured in the
        # run (forward and backward GEMM events) relative to P0's; the rest of the step between
        # perfectly parallel (hi) and not parallel at all (lo)
        tg0, to0, rate0 = b["_split"]
        for r in rows:
            tg, to, rate = r["_split"]
            w, pr = r["work"] / b["work"], b["P"] / r["P"]
            if not (rate and rate0):
                continue
            r["gemm_rate_per_rank"] = rate
            r["gemm_rate_ratio"] = rate / rate0
            r["gemm_share_P0"] = tg0 / (tg0 + to0)
            tg_pred = tg0 * w * pr / r["gemm_rate_ratio"]
            t0 = b["seconds"]
            r["efficiency_band"] = [w * pr * t0 / (tg_pred + to0 * w),
                                    w * pr * t0 / (tg_pred + to0 * w * pr)]
            r["efficiency_over_band_lo"] = r["efficiency"] / r["efficiency_band"][0]
            r["efficiency_over_band_hi"] = r["efficiency"] / r["efficiency_band"][1]
    for r in rows:
        r.pop("_split", None)
    return rows


def summarise(runs):
    groups = defaultdict(list)
    for r in runs:
        groups[r["series"]].append(r)
    series = {}
    for name in sorted(groups):
        rs = groups[name]
        phases = [rs[0]["phase"]] if rs[0]["phase"] else list(PHASES)
        series[name] = {ph: rows for ph in phases if (rows := series_rows(rs, ph))}
    out = {ph: {"strong": None, "weak": None} for ph in PHASES}
    for name, by_phase in series.items():
        kind = name.split("-")[0]
        for ph, rows in by_phase.items():
            # a series named for its phase wins over a shared one (strong-step over strong)
            if out[ph][kind] is None or name == f"{kind}-{ph}":
                out[ph][kind] = rows
    if not any(rows for ph in out.values() for rows in ph.values()):
        raise AnalysisError("no run timed the step or the eigen-solve (/perf counts are zero)")
    return series, out


def plot(out):
    fig, ax = plt.subplots(2, 2, figsize=(11, 8))
    ranks = sorted({r["P"] for ph in out.values() for rows in ph.values() if rows for r in rows})
    styles = {("step", "strong"): ("C0", "o"), ("step", "weak"): ("C0", "s"),
              ("eigen", "strong"): ("C1", "o"), ("eigen", "weak"): ("C1", "s")}
    for col, ph in enumerate(PHASES):
        for kind in ("strong", "weak"):
            rows = out[ph][kind]
            if not rows:
                continue
            c, mk = styles[(ph, kind)]
            P = np.array([r["P"] for r in rows], float)
            T = np.array([r["seconds"] for r in rows])
            W = np.array([r["work"] for r in rows])
            sizes = (f"n = {rows[0]['n']}..{rows[-1]['n']}" if ph == "eigen" and rows[0]["n"] != rows[-1]["n"]
                     else f"m = {rows[0]['m']}..{rows[-1]['m']}" if rows[0]["m"] != rows[-1]["m"]
                     else f"n = {rows[0]['n']}, m = {rows[0]['m']}")
            a = ax[0, col]
            a.loglog(P, T, marker=mk, color=c, ls="-" if kind == "strong" else "--",
                     label=f"{kind} ({sizes})")
            a.loglog(P, T[0] * (W / W[0]) * (P[0] / P), ":", color="gray", lw=1)
            for r in rows:
                a.loglog([r["P"]] * len(r["seconds_reps"]), r["seconds_reps"], ".", color=c, alpha=0.3)
            lab = f"{ph}, {kind}"
            if kind == "strong":
                ax[1, 0].loglog(P, [r["speedup"] for r in rows], marker=mk, color=c, label=lab)
            ax[1, 1].semilogx(P, [r["efficiency"] for r in rows], marker=mk, color=c,
                              ls="-" if kind == "strong" else "--", label=lab)
            a.set_title(f"{PHASES[ph]['label']}: seconds per call (max over ranks)\n"
                        f"dotted: ideal; dots: repetitions", fontsize=9)
            a.set_ylabel("seconds")
    if ranks:
        ax[1, 0].loglog(ranks, [p / ranks[0] for p in ranks], ":", color="gray", label="ideal")
    ax[1, 0].set_title("strong speed-up T(P0) / T(P)", fontsize=9)
    ax[1, 1].axhline(1.0, color="gray", lw=0.8, ls=":")
    effs = [r["efficiency"] for ph in out.values() for rows in ph.values() if rows for r in rows]
    ax[1, 1].set_ylim(0, max([1.3] + [1.1 * e for e in effs if np.isfinite(e)]))
    ax[1, 1].set_title("parallel efficiency (work rate per rank relative to P0)", fontsize=9)
    for a in ax.flat:
        a.set_xlabel("MPI ranks P")
        if ranks:
            a.set_xticks(ranks)
        a.xaxis.set_major_formatter(ScalarFormatter())
        a.xaxis.set_minor_formatter(NullFormatter())
        a.grid(True, which="both", alpha=0.3)
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=7)
    fig.suptitle("Parallel scaling of softntk: the training step and the NTK eigen-solve "
                 "(from results.h5 /perf)", fontsize=10)
    fig.tight_layout()
    return fig


def _main(out, paths):
    files = find_results(paths)
    if not files:
        raise AnalysisError(f"no results.h5 found in {' '.join(paths)} (run the experiment first: "
                            f"scripts/run_experiment.sh scaling)")
    runs = [read_perf(p) for p in files]
    series, summary = summarise(runs)
    data = dict(summary)
    data.update({"definitions": {"seconds": "phase time_max / count from /perf (s per call)",
                                 "efficiency": "[W(P) / (P T(P))] / [W(P0) / (P0 T(P0))]",
                                 "speedup": "efficiency P / P0",
                                 "work": {ph: ("n m d" if ph == "step" else "(n k)^3")
                                          for ph in PHASES},
                                 "flop_ratio": "[F(P) / W(P)] / [F(P0) / W(P0)], F from /perf"},
                 "units": {"seconds": "s", "work": "1 (model, proportional to flops)",
                           "flops_per_call": "floating-point operations"},
                 "series": series, "inputs": files})
    save_outputs(plot(summary), out, data)
    for ph in PHASES:
        for kind in ("strong", "weak"):
            for r in summary[ph][kind] or []:
                print(f"{ph:5s} {kind:6s} P = {r['P']:3d}  n = {r['n']:6d}  m = {r['m']:8d}  "
                      f"{r['seconds']:.4e} s/call  speed-up {r['speedup']:6.3f}  efficiency "
                      f"{r['efficiency']:6.3f}  flop ratio "
                      f"{r['flop_ratio'] if r['flop_ratio'] is None else round(r['flop_ratio'], 12)}")


def experiment_main(out, paths):
    """analysis/scaling.py OUT.png PATH ...: returns the exit status."""
    return run_analysis(lambda o, p: _main(o, p), [sys.argv[0], out] + list(paths))
