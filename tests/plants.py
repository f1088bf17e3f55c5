"""Planted errors per experiment: each is injected into a copy of the tiny variant's outputs (HDF5
files and the attributes they record), never by a switch in the library, and the experiment's checks
(its analysis and expect.json) must fail on it. tests/test_experiments.py runs them after the tiny
variant passes. An experiment adds its plants here: name -> [(label, mutate(dir))], with the
mutations of analysis/sntk_stats.py."""
import math
import os

import h5py
import numpy as np
from sntk_stats import replace_config, results_files, scale_dataset, set_attribute


def _h5_attrs(f):
    out = {}
    for k in ("activation", "m", "n", "d", "sigma", "seed"):
        v = f.attrs[k]
        out[k] = v.decode() if isinstance(v, bytes) else (v.item() if hasattr(v, "item") else v)
    return out


def _perturb_runs(root, act):
    import h5py
    runs = []
    for p in results_files(root, "ntk.h5"):
        with h5py.File(p, "r") as f:
            a = _h5_attrs(f)
        if act is None or a["activation"] == act:
            runs.append((p, a))
    if not runs:
        raise ValueError(f"no {act} runs in {root}: the plant would test nothing")
    return runs


def exp_in_place_of_softmax(root):
    """Every softmax run's /perturb (datasets and attributes) replaced by the exp run's with the
    same n, d, sigma, m and seed: exp's H where softmax's should be."""
    import h5py
    donors = {tuple(a[k] for k in ("m", "n", "d", "sigma", "seed")): p
              for p, a in _perturb_runs(root, "exp")}
    changed = []
    for p, a in _perturb_runs(root, "softmax"):
        src = donors[tuple(a[k] for k in ("m", "n", "d", "sigma", "seed"))]
        with h5py.File(src, "r") as g, h5py.File(p, "r+") as f:
            del f["perturb"]
            g.copy("perturb", f)
        changed.append(p)
    return changed


def shift_on_half(root):
    """The common shift applied to half the neurons: H_shift as it is to leading order when the
    even neurons move by R v and the odd ones stay (the halves carry equal weight): exp H_ij (1 +
    e^{c_i + c_j}) / 2, softmax H_ij (1 + e^{c_i + c_j}) / 2 / (Z_i Z_j) with Z_i = (1 + e^{c_i}) /
    2, c_i = R v.x_i."""
    import h5py
    changed = []
    for p, a in _perturb_runs(root, None):
        if a["activation"] == "relu":
            continue
        with h5py.File(p, "r+") as f:
            R = f["perturb/radii"][-1]
            c = R * (f["data/X"][...] @ f["perturb/shift_vector"][...])
            H = f["perturb/H"][...]
            E = (1 + np.exp(c[:, None] + c[None, :])) / 2
            if a["activation"] == "softmax":
                Z = (1 + np.exp(c)) / 2
                E = E / (Z[:, None] * Z[None, :])
            f["perturb/H_shift"][...] = E * H
        changed.append(p)
    return changed


def worst_is_random(root):
    """The worst-direction search returned its random start: row 0 (worst) of every per-direction
    table replaced by row 1 (random)."""
    import h5py
    changed = []
    for p, _ in _perturb_runs(root, None):
        with h5py.File(p, "r+") as f:
            for name in ("first_order", "finite_fro", "finite_spec", "linearisation_error"):
                t = f["perturb/" + name][...]
                t[0] = t[1]
                f["perturb/" + name][...] = t
        changed.append(p)
    return changed


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


def diffusion_kernel_sqrt2(root):
    """softntk's kernel GD with H* (regression.h5 predictions_gd_limit) replaced by kernel GD with
    sqrt 2 H* on the same triples and steps (equivalently eta sqrt 2): a kernel predictor built with
    a wrongly scaled H*."""
    import h5py
    from diffusion import KernelGD, read_run
    changed = []
    for p in results_files(root, "regression.h5"):
        run = read_run(p.replace("regression.h5", "results.h5"))
        kg = KernelGD(run)
        F = kg.predictions([run["steps"]], math.sqrt(2) * run["eta"] * run["m"])[0]
        with h5py.File(p, "r+") as f:
            f["ntk/regression/predictions_gd_limit"][...] = F
        changed.append(p)
    return changed


def score_model_exact_as_learned(root):
    """Every run's exact-score sample metrics written in place of the learned score's: samples that
    are not the learned model's, labelled as learned."""
    import h5py
    paths = results_files(root, "results.h5")
    for p in paths:
        with h5py.File(p, "r+") as f:
            a = f["samples"].attrs
            for k in ("sw2", "mmd", "modes_covered", "inside"):
                a[f"{k}_learned"] = a[f"{k}_exact"]
    return paths


def score_model_skip_sign(root):
    """The edm runs' training targets written with the sign of c_skip flipped, (x_0 + c_skip x_t) /
    c_out instead of (x_0 - c_skip x_t) / c_out: the wrong parametrisation sign."""
    import h5py
    from score_model import out_map, xt_of
    paths = results_files(root, "results.h5")
    changed = []
    for p in paths:
        with h5py.File(p, "r+") as f:
            g = f["diffusion"].attrs
            if g.get("parametrisation", b"plain") not in (b"edm", "edm"):
                continue
            T = float(f["samples"].attrs["T"])
            xt, t = xt_of(f["data/X"][...], float(g["input_scale"]), T)
            cs_xt = out_map(t, xt, np.zeros_like(xt), "edm", float(g["sdata"]))
            co = out_map(t, xt, np.ones_like(xt), "edm", float(g["sdata"])) - cs_xt
            f["data/Y"][...] = f["data/Y"][...] + 2 * cs_xt / co
        changed.append(p)
    if not changed:
        raise ValueError("no edm run: the plant would test nothing")
    return changed


def score_model_plain_is_edm(root):
    """The plain run's /samples metrics replaced by the edm run's: the parametrisation's effect
    assumed instead of measured."""
    import h5py
    src = os.path.join(root, "edm", "results.h5")
    dst = os.path.join(root, "plain", "results.h5")
    with h5py.File(src, "r") as g, h5py.File(dst, "r+") as f:
        for k, v in g["samples"].attrs.items():
            f["samples"].attrs[k] = v
    return [dst]


PLANTS = {
    "score-model": [
        # the exact score's samples labelled as the learned score's: a fudged pass
        ("exact-score samples relabelled as learned", score_model_exact_as_learned),
        # the edm targets built with +c_skip: the network no longer matches kernel GD on the
        # recorded targets (and the closed form's error differs)
        ("edm targets with the sign of c_skip flipped", score_model_skip_sign),
        # plain's samples are edm's: no measured gain of edm over plain
        ("plain run's samples replaced by the edm run's", score_model_plain_is_edm),
    ],
    "diffusion": [
        # the kernel predictor of regression.h5 built with sqrt 2 H*: the closed form disagrees
        ("kernel GD with H* scaled by sqrt 2", diffusion_kernel_sqrt2),
        # the widest gap runs had half the width they record: eta m N = 2 and the closed form
        # (which takes eta m from the files) no longer reproduces softntk's kernel GD there
        ("width off by 2x at the widest gap width",
         lambda d: set_attribute(d, "m", lambda m: 2 * m, filename="results.h5",
                                 where=lambda a: int(a.get("m", 0)) == 2048)),
        # the trained networks' held-out errors 30% high (a wrong weighting of the score error):
        # the networks no longer match the kernel curve of their own triples
        ("network score errors scaled by 1.3",
         lambda d: scale_dataset(d, "score/error", 1.3, filename="results.h5",
                                 where=lambda a: int(a.get("steps_done", 0)) > 0
                                 and "regression = false" in str(a.get("config")))),
    ],
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
    "perturbation": [
        # softmax's numbers are exp's: no normalisation (the ratio is 1, the shift moves H)
        ("exp's H in place of softmax's", exp_in_place_of_softmax),
        # the common shift reached only half the neurons: softmax's H moves
        ("the shift applied to half the neurons", shift_on_half),
        # the first-order map a factor 2 too large (a missing 1/2 in the symmetrisation)
        ("the first-order map scaled by 2", lambda d: scale_dataset(d, "perturb/first_order", 2.0)),
        # the worst-direction search did nothing: the random direction reported as the worst
        ("worst direction = its random start", worst_is_random),
    ],
    "threshold": [
        # H(0) computed with half the width the files record (m recorded 2x): every threshold
        # doubles (the exponents do not move), m ||H(0) - H*||_F^2 / C doubles
        ("H(0) of half the recorded width",
         lambda d: set_attribute(d, "m", lambda m: 2 * m, filename="results.h5")),
        # the linearised curve without its 1/2 (L_lin twice the loss at step 0): every training
        # run leaves the 10 % band at once
        ("linearised loss missing its 1/2",
         lambda d: scale_dataset(d, "ntk/linearised/loss", 2.0, filename="results.h5",
                                 where=lambda a: "spectrum = full" in str(a.get("config")))),
        # kernels of sigma = 0.5 recorded as sigma = 1: lambda_min(H*) and C of the wrong kernel
        ("sigma 0.5 recorded as 1",
         lambda d: set_attribute(d, "sigma", 1.0, filename="results.h5",
                                 where=lambda a: float(a.get("sigma", 0)) == 0.5)),
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
