"""Reading softntk results files for the analysis scripts (imported, not run).

Arguments of the analysis scripts name results.h5 files or directories; a directory stands for every
`<dir>/*/results.h5` (the run directories below an output directory). Only the HDF5 files are read:
attributes (sizes, mpi_size, ...), the /train series and, when present, /perf."""
import glob
import os

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
