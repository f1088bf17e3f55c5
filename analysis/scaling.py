#!/usr/bin/python3
"""Strong and weak parallel scaling of `softntk train` from results.h5 files.

usage: analysis/scaling.py OUT.png [--strong PATH ...] [--weak PATH ...]
       analysis/scaling.py OUT.png PATH ...

First form (slurm/scaling.sh): the training step. Each PATH is a results.h5 file or a directory
whose */results.h5 are used (slurm/scaling.sh writes <dir>/strong/r<P> and <dir>/weak/r<P>). From
every file it reads mpi_size, the sizes (n, d, k, m) and the median seconds per step of
/train/wall_time (and /perf when present). With the smallest rank count P0 as the base:
  strong (same problem):      speed-up S(P) = T(P0) / T(P),  efficiency E(P) = S(P) P0 / P
  weak (m grows like P):      efficiency E(P) = T(P0) / T(P)
Writes OUT.png, OUT.pdf (time per step and efficiency against P) and OUT.json (every number).

Second form (experiments/scaling; PATHs without --strong / --weak): the training step AND the NTK
eigen-solve, timed by the per-phase timers of results.h5 /perf (see experiment_main below).
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import NullFormatter, ScalarFormatter  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sntk_results import find_results, read_run, seconds_per_step  # noqa: E402


def series(paths, kind):
    """Rows sorted by rank count: dicts with P, sizes, seconds per step, speed-up, efficiency."""
    rows = []
    for path in find_results(paths):
        run = read_run(path)
        a = run["attrs"]
        t = seconds_per_step(run)
        if t is None:
            print(f"scaling.py: {path}: too few steps to time, skipped", file=sys.stderr)
            continue
        rows.append({"run": run["name"], "path": path, "P": int(a["mpi_size"]), "n": int(a["n"]),
                     "d": int(a["d"]), "k": int(a["k"]), "m": int(a["m"]),
                     "steps": int(run["step"][-1]), "seconds_per_step": t, "perf": run["perf"]})
    rows.sort(key=lambda r: r["P"])
    if not rows:
        return rows
    base = rows[0]
    for r in rows:
        ratio = base["seconds_per_step"] / r["seconds_per_step"]
        if kind == "strong":
            r["speedup"] = ratio
            r["efficiency"] = ratio * base["P"] / r["P"]
        else:
            r["speedup"] = ratio * r["P"] / base["P"]  # scaled speed-up
            r["efficiency"] = ratio
    return rows


def parse(argv):
    if len(argv) < 3 or argv[1].startswith("-"):
        return None
    out, groups, cur = argv[1], {"strong": [], "weak": []}, None
    for a in argv[2:]:
        if a in ("--strong", "--weak"):
            cur = a[2:]
        elif cur is None:
            return None
        else:
            groups[cur].append(a)
    return out, groups


def main(argv):
    if len(argv) >= 3 and not argv[1].startswith("-") and not argv[2].startswith("-"):
        from scaling_phases import experiment_main
        return experiment_main(argv[1], argv[2:])
    parsed = parse(argv)
    if parsed is None:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out, groups = parsed
    data = {kind: series(paths, kind) for kind, paths in groups.items()}
    if not any(data.values()):
        print("scaling.py: no results.h5 found in " + " ".join(sum(groups.values(), [])),
              file=sys.stderr)
        return 1
    fig, (ax_t, ax_e) = plt.subplots(1, 2, figsize=(11, 4))
    for kind, marker in (("strong", "o"), ("weak", "s")):
        rows = data[kind]
        if not rows:
            continue
        P = [r["P"] for r in rows]
        T = [r["seconds_per_step"] for r in rows]
        m = sorted({r["m"] for r in rows})
        label = f"{kind} (m = {m[0]})" if len(m) == 1 else f"{kind} (m = {m[0]}..{m[-1]})"
        ax_t.loglog(P, T, marker=marker, label=label)
        ideal = [T[0] * P[0] / p for p in P] if kind == "strong" else [T[0]] * len(P)
        ax_t.loglog(P, ideal, "--", color=ax_t.lines[-1].get_color(), alpha=0.5,
                    label=f"{kind}, ideal")
        ax_e.semilogx(P, [r["efficiency"] for r in rows], marker=marker, label=kind)
    ax_t.set_xlabel("MPI ranks P")
    ax_t.set_ylabel("seconds per step (median)")
    ax_t.set_title("time per gradient-descent step")
    ax_e.set_xlabel("MPI ranks P")
    ax_e.set_ylabel("parallel efficiency")
    ax_e.set_ylim(0, 1.2)
    ax_e.axhline(1.0, color="gray", lw=0.8, ls=":")
    ax_e.set_title("efficiency (base: smallest P)")
    ranks = sorted({r["P"] for rows in data.values() for r in rows})
    for ax in (ax_t, ax_e):
        ax.set_xticks(ranks)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    stem = os.path.splitext(out)[0]
    fig.savefig(out, dpi=120)
    fig.savefig(stem + ".pdf")
    with open(stem + ".json", "w") as f:
        json.dump(data, f, indent=1)
    for kind, rows in data.items():
        for r in rows:
            print(f"{kind:6s} P = {r['P']:4d}  m = {r['m']:9d}  {r['seconds_per_step']:.4e} s/step  "
                  f"speed-up {r['speedup']:6.3f}  efficiency {r['efficiency']:6.3f}")
    print(f"wrote {out}, {stem}.pdf, {stem}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
