"""Reading softntk results files for the analysis scripts (imported, not run).

Arguments of the analysis scripts name results files or directories; a directory stands for every
`<dir>/*/results.h5` (or `ntk.h5`, `regression.h5`: the run directories below an output directory).
Only the HDF5 files are read: attributes (sizes, mpi_size, the resolved config, ...), the /train,
/ntk, /score and /samples series and, when present, /perf. The second half holds what the experiment
analyses share: a main wrapper that turns missing data into a one-line error, a log-log fit, the
closed-form limit kernels of DESIGN.md section 2, and the PNG + PDF + JSON writer."""
import glob
import json
import os
import sys

import h5py
import numpy as np


def find_results(paths):
    """Expand files and directories into a sorted list of results.h5 paths."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            out += sorted(glob.glob(os.path.join(p, "*", "results.h5")))
        else:
            out.append(p)
    return out


def _plain(v):
    if isinstance(v, bytes):
        return v.decode()
    if hasattr(v, "item") and np.ndim(v) == 0:
        return v.item()
    return v


def _perf(group):
    """Every numeric dataset below /perf, flattened to {path: value or list} (the layout is the perf
    issue's; only read here so the scaling JSON carries it)."""
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "iuf":
            v = obj[()]
            out[name] = v.item() if np.ndim(v) == 0 else np.asarray(v).tolist()

    group.visititems(visit)
    return out


def read_run(path):
    """One run: {'path', 'name', 'attrs', 'step', 'loss', 'wall_time', 'perf' (None if absent)}."""
    with h5py.File(path, "r") as f:
        attrs = {k: _plain(v) for k, v in f.attrs.items()}
        train = f["train"]
        run = {
            "path": path,
            "name": os.path.basename(os.path.dirname(os.path.abspath(path))),
            "attrs": attrs,
            "step": train["step"][...],
            "loss": train["loss"][...],
            "wall_time": train["wall_time"][...],
            "perf": _perf(f["perf"]) if "perf" in f else None,
        }
    return run


def seconds_per_step(run, skip=2):
    """Median wall-clock seconds per gradient-descent step, from the /train/wall_time series (cumulative
    over invocations, so restarts add no gap), skipping the first `skip` steps (start-up). None if
    the run has fewer than two usable rows."""
    wt, st = run["wall_time"], run["step"]
    keep = st >= skip
    wt, st = wt[keep], st[keep]
    if len(wt) < 2:
        return None
    per = np.diff(wt) / np.maximum(np.diff(st), 1)
    return float(np.median(per))


# ---- shared by the experiment analyses (analysis/exp_*.py) -------------------------------------------

class AnalysisError(Exception):
    """What a results directory lacks, said in one line (printed without a traceback)."""


def run_analysis(main, argv):
    """Call main(out, paths) with the script's arguments (OUT.png PATH ...); print usage (exit 2)
    when they are missing, and a one-line message (exit 1) for an AnalysisError or a results file
    that cannot be read, instead of a traceback."""
    prog = os.path.basename(argv[0])
    if len(argv) < 3 or argv[1].startswith("-"):
        doc = sys.modules["__main__"].__doc__ or ""
        print(doc.strip() or f"usage: {prog} OUT.png PATH [PATH ...]", file=sys.stderr)
        return 2
    try:
        main(argv[1], argv[2:])
    except AnalysisError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except (OSError, KeyError) as exc:
        print(f"{prog}: error: a results file could not be read as expected: {exc}", file=sys.stderr)
        return 1
    return 0


def find_files(paths, filename):
    """Expand files and directories into a sorted list of `filename` paths (a directory stands for
    <dir>/*/filename). Raises AnalysisError when there is none."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            out += sorted(glob.glob(os.path.join(p, "*", filename)))
        elif os.path.isfile(p):
            out.append(p)
    if not out:
        raise AnalysisError(f"no {filename} found in {' '.join(paths)} (run the experiment first: "
                            f"scripts/run_experiment.sh NAME)")
    return out


def attrs_of(obj):
    """Attributes of an HDF5 object as plain Python values."""
    return {k: _plain(v) for k, v in obj.attrs.items()}


def config_value(attrs, section, key):
    """Value of section.key in the resolved config text a file carries (a string), or None."""
    sec = None
    for line in str(attrs.get("config", "")).splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            sec = line[1:-1]
        elif sec == section and "=" in line:
            k, v = line.split("=", 1)
            if k.strip() == key:
                return v.strip()
    return None


def need(f, *names):
    """Raise AnalysisError naming the first dataset or group of the open file f that is missing."""
    for name in names:
        if name not in f:
            raise AnalysisError(f"{f.filename} has no {name}: the run did not write it (check its "
                                f"deck and log)")


def loglog_fit(x, y):
    """Least-squares fit log y = a + b log x. Returns {'slope', 'slope_stderr', 'intercept',
    'points'} (stderr NaN for two points); raises AnalysisError with fewer than two usable points."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        raise AnalysisError(f"a log-log fit needs two positive points, got {int(ok.sum())}")
    lx, ly = np.log(x[ok]), np.log(y[ok])
    A = np.vstack([np.ones_like(lx), lx]).T
    coef, res, _, _ = np.linalg.lstsq(A, ly, rcond=None)
    n = len(lx)
    se = float("nan")
    if n > 2:
        s2 = float(np.sum((ly - A @ coef) ** 2)) / (n - 2)
        se = float(np.sqrt(s2 / np.sum((lx - lx.mean()) ** 2)))
    return {"slope": float(coef[1]), "slope_stderr": se, "intercept": float(coef[0]), "points": n}


def limit_kernel(X, act, sigma):
    """The infinite-width NTK H* of DESIGN.md section 2 (k = 1 block) on the rows of X."""
    K = X @ X.T
    nrm = np.diag(K)
    if act == "softmax":
        return K * np.exp(sigma ** 2 * K)
    if act == "exp":
        return K * np.exp(0.5 * sigma ** 2 * (nrm[:, None] + nrm[None, :] + 2 * K))
    return K * (0.5 - unit_angles(X) / (2 * np.pi))


def unit_angles(X, block=64):
    """Angles between the rows of X as 2 atan2(|u - v|, |u + v|) of the unit vectors: accurate to a
    few eps for every pair (arccos of the cosine loses half the digits for nearly parallel rows) and
    exactly 0 on the diagonal. Zero rows give angle pi / 2 (their kernel entries vanish anyway)."""
    X = np.asarray(X, float)
    nrm = np.linalg.norm(X, axis=1)
    U = X / np.where(nrm > 0, nrm, 1.0)[:, None]
    n = len(U)
    theta = np.empty((n, n))
    for i0 in range(0, n, block):
        D = U[i0:i0 + block, None, :]
        theta[i0:i0 + block] = 2 * np.arctan2(np.linalg.norm(D - U[None], axis=2),
                                              np.linalg.norm(D + U[None], axis=2))
    return theta


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return v if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def save_outputs(fig, out, data):
    """Write the figure as OUT.png (100 dpi) and OUT.pdf and `data` as OUT.json (NaN and inf as
    null); print what was written."""
    stem = os.path.splitext(out)[0]
    fig.savefig(stem + ".png", dpi=100)
    fig.savefig(stem + ".pdf")
    with open(stem + ".json", "w") as f:
        json.dump(_jsonable(data), f, indent=1)
        f.write("\n")
    print(f"wrote {stem}.png, {stem}.pdf, {stem}.json")
