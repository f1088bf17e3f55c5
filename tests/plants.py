"""Planted errors per experiment: each is injected into a copy of the tiny variant's outputs (HDF5
files and the attributes they record), never by a switch in the library, and the experiment's checks
(its analysis and expect.json) must fail on it. tests/test_experiments.py runs them after the tiny
variant passes. An experiment adds its plants here: name -> [(label, mutate(dir))], with the
mutations of analysis/sntk_stats.py."""
import math

import h5py

from sntk_stats import replace_config, results_files, scale_dataset, set_attribute


def double_rank_flops(root, rank=1):
    """Every run on more than `rank` ranks counts rank `rank`'s flops twice (its row of
    /perf/flops_rank and the total /perf/flops with it, as if that rank had done its GEMMs twice)."""
    paths = results_files(root, "results.h5", where=lambda a: a.get("mpi_size", 1) > rank)
    if not paths:
        raise ValueError("planted error matched no run with more than one rank")
    for p in paths:
        with h5py.File(p, "r+") as f:
            fr = f["perf/flops_rank"][...]
            fr[rank] *= 2
            f["perf/flops_rank"][...] = fr
            f["perf/flops"][...] = fr.sum(axis=0)
    return paths

PLANTS = {
    "kernel-limit": [
        # H(0) - H* a factor sqrt 2 too large: the fluctuation the constant does not predict
        ("H(0) - H* scaled by sqrt 2",
         lambda d: scale_dataset(d, "ntk/diff_limit_fro", math.sqrt(2))),
        # the runs had half the width they record: C / m off by 2
        ("width off by 2x", lambda d: set_attribute(d, "m", lambda m: 2 * m)),
        # softmax's runs judged by the exp kernel's constant (the wrong kernel)
        ("exp kernel in place of softmax's",
         lambda d: set_attribute(d, "activation", "exp",
                                 where=lambda a: a.get("activation") == "softmax")),
        # independent neurons recorded as coupled pairs: the prediction 2C / m instead of C / m
        ("random init recorded as coupled",
         lambda d: replace_config(d, "model", "init", "coupled")),
    ],
    "scaling": [
        # one rank's flop count doubled: the totals no longer agree across P and its share is 2/3
        ("flop count of rank 1 doubled", double_rank_flops),
    ],
    "lambda-min": [
        # the runs recorded another sigma than the one their H* was built with: the closed form
        # evaluated at the recorded sigma no longer matches the distributed H*'s lambda_min
        ("sigma recorded 2x", lambda d: set_attribute(d, "sigma", lambda s: 2 * s)),
    ],
    "convergence": [
        # the runs recorded twice the learning rate they used: the linearised rate and the bound
        # computed from the record no longer match the measured contraction
        ("eta misreported 2x",
         lambda d: set_attribute(d, "eta", lambda e: 2 * e, filename="results.h5")),
        # and half of it: the measured rate is then too fast, the check must fail that way too
        ("eta misreported 0.5x",
         lambda d: set_attribute(d, "eta", lambda e: 0.5 * e, filename="results.h5")),
    ],
}
