"""The NTK through the command line (`softntk ntk`, `softntk train` with [ntk] every) and its files:
- ntk.h5 carries the standard attributes, the /ntk series with units, gamma and nu, /data;
- the Gram matrix written collectively from the block-cyclic layout is identical for P = 1, 3 (grid 3x1,
  nb 5) and 4 (grid 2x2, nb 7), exactly symmetric, and its numpy eigenvalues equal the stored ones;
- the H* written beside it equals the closed forms of DESIGN.md section 2 evaluated by numpy on /data/X;
- every check prints PASSED; a FAILED check (threshold 1e-30) exits 1; a matrix that is not positive
  definite is reported (exit 0, positive_definite = 0); a problem too large for memory exits 2 naming
  needed and available memory and a rank count that fits; a bad grid exits 2;
- `softntk train` with ntk.every records snapshots and Gram matrices in results.h5 /ntk, and its
  step-0 Gram equals the one of `softntk ntk`;
- the linearised loss curve predicted from the spectrum at step 0 matches the measured training loss of
  a wide network (m = 16384, small eta) over the first 100 steps, for every activation, within a
  first-order bound in the network's measured NTK drift;
- the kernel gradient-descent predictor (ntk.gd) reproduces the linearised loss curve on the
  training set and a wide trained network's held-out predictions;
- generated inputs of varying norm (data.norm_min, norm_max) keep the unit-sphere directions and
  satisfy H*_softmax = H*_exp / (Z_i Z_j);
- ntk.perturb: /perturb agrees on P = 1 and 3, its H equals gram_0, k = 2 and a negative radius are
  refused.
Tolerances, each from a stated bound (clitest.py): Gram matrices computed on different grids and rank
counts within 2 gram_tau tr(H) in Frobenius norm; eigenvalues of backward-stable solvers within
16 n eps lambda_max (eig_scaled); closed forms within the entrywise round-off bound limit_bound; norms of
the same matrix within gamma_{4N+4}; the linearised model and the kernel gradient-descent predictor
against the trained network within first-order bounds in the measured NTK drift."""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import (EPS, Suite, eig_scaled, gamma, gram_tau, h5attrs, run,  # noqa: E402
                     weight_norm_bound)

import h5py  # noqa: E402
import numpy as np  # noqa: E402

t = Suite("ntk")
SMALL = ["--data.n=23", "--data.d=6", "--data.k=2", "--model.width=97", "--model.init=random",
         "--ntk.holdout=7", "--ntk.save_gram=true", "--run.output_dir=out", "--run.overwrite=true"]


def passed_failed(out):
    lines = [ln for ln in out.splitlines() if ln.startswith("check ")]
    return (sum(ln.endswith("PASSED") for ln in lines), sum(ln.endswith("FAILED") for ln in lines))


def limit_gram(X, k, act, sigma):
    """H* of DESIGN.md section 2 with rows and columns (i, l) -> i k + l."""
    K = X @ X.T
    nrm = np.diag(K)
    if act == "softmax":
        h = K * np.exp(sigma ** 2 * K)
    elif act == "exp":
        h = K * np.exp(0.5 * sigma ** 2 * (nrm[:, None] + nrm[None, :] + 2 * K))
    else:
        # the angle as 2 atan2(|u - v|, |u + v|) of the unit vectors: accurate to a few eps for every
        # pair (arccos of the cosine is off by ~sqrt(eps) for nearly parallel pairs)
        U = X / np.sqrt(nrm)[:, None]
        th = 2 * np.arctan2(np.linalg.norm(U[:, None] - U[None], axis=2),
                            np.linalg.norm(U[:, None] + U[None], axis=2))
        h = K * (0.5 - th / (2 * math.pi))
    return np.kron(h, np.eye(k))


def limit_bound(X, k, act, sigma):
    """Entrywise bound on the round-off of one evaluation of H*: x_i . x_j and the squared norms are
    dot products of length d (error <= d eps |x_i| |x_j|), the rest adds a few roundings (the angle
    of the ReLU kernel <= (d + 4) eps absolute); g = (d + 4) eps covers both."""
    K = X @ X.T
    nrm = np.diag(K)
    nn = np.sqrt(np.outer(nrm, nrm))
    g = (X.shape[1] + 4) * np.finfo(float).eps
    s2 = sigma ** 2
    if act == "softmax":
        h = K * np.exp(s2 * K)
        b = g * (np.abs(1 + s2 * K) * np.exp(s2 * K) * nn + np.abs(h))
    elif act == "exp":
        E = np.exp(0.5 * s2 * (nrm[:, None] + nrm[None, :] + 2 * K))
        b = g * (np.abs(1 + s2 * K) * E * nn + np.abs(K * E) * (1 + s2 * (nrm[:, None] + nrm[None, :])))
    else:
        b = g * nn
    return np.kron(b, np.ones((k, k)))


# softntk ntk on several grids: identical Gram, exact symmetry, spectra, H*, attributes
grams = {}
for np_, grid, nb, act in [(1, "auto", 64, "softmax"), (3, "3x1", 5, "softmax"),
                           (4, "2x2", 7, "softmax"), (2, "2x1", 3, "exp"), (3, "1x3", 4, "relu"),
                           (2, "2x1", 64, "softmax")]:  # nb > nk: the second rank holds nothing
    name = f"g{np_}_{act}_{nb}"
    r = run(np_, ["ntk", f"--run.name={name}", f"--parallel.grid={grid}", f"--parallel.nb={nb}",
                  f"--model.activation={act}", "--ntk.spectrum=full"] + SMALL)
    npass, nfail = passed_failed(r.stdout)
    if not t.check(r.code == 0 and nfail == 0 and npass >= 10,
                   f"ntk {act} P={np_} grid {grid} nb {nb}: exit {r.code}, {npass} PASSED, "
                   f"{nfail} FAILED {r.stderr.strip()[:300]}"):
        continue
    path = f"out/{name}/ntk.h5"
    a = h5attrs(path)
    with h5py.File(path, "r") as f:
        H = f["ntk/gram_0"][...]
        Hs = f["ntk/gram_limit"][...]
        w = f["ntk/eigenvalues"][0]
        X = f["data/X"][...]
        g = dict(f["ntk"].attrs)
        units = all("units" in f["ntk"][c].attrs for c in ["step", "lambda_min", "logdet",
                                                            "diff_limit_fro", "eigenvalues"])
        regr = "predictions" in f["ntk/regression"] and "predictions_limit" in f["ntk/regression"]
        lin = f["ntk/linearised/loss"].shape[0] == 1001
    nk = 23 * 2
    t.check(a["format"] == "softntk-results" and a["command"] == "ntk" and a["mpi_size"] == np_
            and a["process_grid"] == (grid if grid != "auto" else "1x1") and "config" in a
            and len(a["config_hash"]) == 16 and units and regr and lin,
            f"ntk.h5 {act} P={np_}: attributes (format, command, config, hash, mpi_size "
            f"{a['mpi_size']}, grid {a['process_grid']}), units, regression, linearised curve")
    t.check(g["gamma"] == a["gamma"] and g["nu"] == a["nu"] and g["nk"] == nk,
            f"{act}: /ntk records gamma = {g['gamma']:.6g}, nu = {g['nu']:.6g}, nk = {g['nk']:.0f}")
    t.check(H.shape == (nk, nk) and np.array_equal(H, H.T),
            f"{act} P={np_}: collectively written gram_0 is {H.shape} and exactly symmetric")
    e = eig_scaled(w, np.linalg.eigvalsh(H))  # Weyl + backward stability: < 16
    t.check(e < 16, f"{act} P={np_}: stored eigenvalues vs numpy eigvalsh of gram_0: {e:.2f} n eps "
                    f"lambda_max (< 16)")
    ref = limit_gram(X, 2, act, 1.0)
    # both evaluations are within limit_bound of the exact H*: their difference within twice it
    e = np.max(np.abs(Hs - ref) / (2 * limit_bound(X, 2, act, 1.0)))
    t.check(e <= 1, f"{act} P={np_}: gram_limit vs numpy closed form of H*: {e:.2f} of the "
                    f"round-off bound (<= 1)")
    grams.setdefault(act, []).append((np_, H, X))


def gram_bound(H, X, act, m, ranks, sigma=1.0):
    """Two computations of H differ by at most 2 tau sqrt(H_aa H_bb) per entry (gram_tau), so by
    2 tau tr(H) in Frobenius norm; |w . x| <= max ||x|| max ||w|| (weight_norm_bound)."""
    zmax = np.max(np.linalg.norm(X, axis=1)) * weight_norm_bound(sigma, X.shape[1], m)
    return 2 * gram_tau(act, m, X.shape[1], ranks, zmax) * np.trace(H)


for act, lst in grams.items():
    for np_, H, X in lst[1:]:
        e = np.linalg.norm(H - lst[0][1]) / gram_bound(lst[0][1], X, act, 97, max(np_, lst[0][0]))
        t.check(e <= 1, f"{act}: gram_0 on P={np_} vs P={lst[0][0]}: {e:.1e} of the round-off "
                        f"bound (<= 1)")

# H*_relu on nearly parallel pairs against a 50-digit evaluation (mpmath): the pair x, x + delta p
# for delta from 1e-9 to 1, on points of several norms. Each entry within the round-off bound of
# limit_bound (a few eps relative, d = 6), exactly |x|^2 / 2 on the diagonal.
import mpmath  # noqa: E402

rng = np.random.default_rng(12)
rows = []
for delta in [1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]:
    x = rng.standard_normal(6)
    x *= rng.uniform(0.5, 2.0) / np.linalg.norm(x)
    p = rng.standard_normal(6)
    rows += [x, x + delta * np.linalg.norm(x) * p / np.linalg.norm(p)]
XN = np.array(rows)
with h5py.File("near.h5", "w") as f:
    f["X"] = XN
    f["Y"] = np.zeros((len(XN), 1))
r = run(1, ["ntk", "--run.name=near", "--data.source=file", "--data.file=near.h5",
            "--model.activation=relu", "--model.width=8", "--ntk.spectrum=values",
            "--ntk.save_gram=true", "--ntk.holdout=0", "--run.output_dir=out",
            "--run.overwrite=true"])
if t.check(r.code == 0, f"relu H* of nearly parallel pairs: exit {r.code} {r.stderr[:300]}"):
    with h5py.File("out/near/ntk.h5", "r") as f:
        HN = f["ntk/gram_limit"][...]
    mpmath.mp.dps = 50
    M = [[mpmath.mpf(float(v)) for v in row] for row in XN]

    def h_exact(a, b):
        kx = mpmath.fsum(u * v for u, v in zip(a, b))
        c = kx / mpmath.sqrt(mpmath.fsum(u * u for u in a) * mpmath.fsum(v * v for v in b))
        c = max(min(c, mpmath.mpf(1)), mpmath.mpf(-1))
        return kx * (mpmath.pi - mpmath.acos(c)) / (2 * mpmath.pi)

    n_ = len(XN)
    ex = np.array([[float(h_exact(M[i], M[j])) for j in range(n_)] for i in range(n_)])
    worst = np.max(np.abs(HN - ex) / limit_bound(XN, 1, "relu", 1.0))
    rel = np.max(np.abs(HN - ex) / np.abs(ex))
    diag = np.array_equal(np.diag(HN), np.einsum("ij,ij->i", XN, XN) / 2) or \
        np.max(np.abs(np.diag(HN) - np.diag(ex)) / np.diag(ex)) <= (6 + 4) * np.finfo(float).eps
    t.check(worst <= 1 and diag,
            f"relu H* vs 50-digit evaluation on pairs with delta 1e-9..1: {worst:.2f} of the "
            f"round-off bound (<= 1), largest relative error {rel:.1e} "
            f"({rel / np.finfo(float).eps:.1f} eps); diagonal |x|^2 / 2 within the dot product's "
            f"rounding")

# honest exit status
r = run(2, ["ntk", "--run.name=fail", "--ntk.threshold=1e-30"] + SMALL)
errs = [ln for ln in r.stderr.splitlines() if ln.startswith("softntk: error:")]
npass, nfail = passed_failed(r.stdout)
t.check(r.code == 1 and nfail > 0 and len(errs) == 1 and "FAILED" in errs[0],
        f"threshold 1e-30: exit {r.code}, {nfail} FAILED lines, {errs[0] if errs else r.stderr[:200]}")

# not positive definite: relu with 2 neurons leaves some samples with no active neuron (zero rows)
r = run(2, ["ntk", "--run.name=notpd", "--model.activation=relu", "--model.width=2",
            "--data.n=40", "--data.d=3", "--run.output_dir=out", "--run.overwrite=true"])
ok = r.code == 0 and "NOT positive definite" in r.stdout
if ok:
    with h5py.File("out/notpd/ntk.h5", "r") as f:
        ok = f["ntk/positive_definite"][0] == 0 and np.isnan(f["ntk/logdet"][0])
t.check(ok, f"relu m=2 n=40: H not positive definite is a result (exit {r.code}, recorded "
            f"positive_definite = 0, logdet NaN)")

# memory refusal and bad grids: input errors
r = run(2, ["ntk", "--run.name=huge", "--data.n=300000", "--run.output_dir=out"], timeout=60)
errs = [ln for ln in r.stderr.splitlines() if ln.startswith("softntk: error:")]
msg = errs[0] if errs else r.stderr[:300]
t.check(r.code == 2 and len(errs) == 1 and "needs" in msg and "available per rank" in msg
        and "would fit on" in msg and not os.path.exists("out/huge/ntk.h5"),
        f"n = 300000 on 2 ranks refused before any file: exit {r.code}: {msg}")
for grid, frag in [("3x1", "must equal the rank count"), ("2by2", "must be 'auto' or PxQ")]:
    r = run(2, ["ntk", f"--parallel.grid={grid}", "--run.output_dir=out"])
    t.check(r.code == 2 and frag in r.stderr, f"parallel.grid = {grid} on 2 ranks: exit {r.code}, "
                                              f"'{frag}'")
r = run(1, ["help", "ntk"])
missing = [k for k in ["every", "spectrum", "q", "limit", "save_gram", "ridge", "holdout", "panel",
                       "threshold", "grid", "nb", "memory_limit"] if f"\n  {k} " not in r.stdout]
t.check(r.code == 0 and not missing, f"help ntk lists the [ntk] and [parallel] keys (missing: "
                                     f"{missing})")

# ntk.memory = lean (H held once, factorised and solved in place, assembled again where needed)
# gives the same bits as the work copy: the same assembly and the same solver calls on the same
# values. Training's tracker (H(0), H*, saved Grams, 3 ranks), softntk ntk with each backend, and
# a matrix that is not positive definite (H is assembled again after the failed Cholesky).
def ntk_datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f["ntk"].visititems(lambda n, o: out.__setitem__(n, o[...])
                            if isinstance(o, h5py.Dataset) and "wall" not in n else None)
        mem = f["ntk"].attrs.get("memory")
    return out, mem.decode() if isinstance(mem, bytes) else mem


def same_bits(a, b):
    return sorted(a) == sorted(b) and all(a[k].tobytes() == b[k].tobytes() for k in a)


LT = ["train", "--data.n=40", "--data.d=8", "--model.width=256", "--train.steps=30",
      "--ntk.every=10", "--ntk.save_gram=true", "--run.output_dir=out", "--run.overwrite=true"]
res = {}
for mem in ("copy", "lean"):
    r = run(3, LT + [f"--ntk.memory={mem}", f"--run.name=lean-train-{mem}"])
    res[mem] = ntk_datasets(f"out/lean-train-{mem}/results.h5") if r.code == 0 else ({}, None)
(a, ma), (b, mb) = res["copy"], res["lean"]
t.check(len(a) >= 10 and same_bits(a, b) and (ma, mb) == ("copy", "lean"),
        f"train on 3 ranks, ntk.memory lean vs copy: {len(a)} /ntk datasets (H(0), H*, Grams) "
        f"bitwise equal; recorded memory {ma}, {mb}")
solvers = ["scalapack", "elpa"] if os.environ.get("SNTK_HAVE_ELPA") == "1" else ["scalapack"]
NOTPD = ["--model.activation=relu", "--model.width=2", "--data.n=40", "--data.d=3"]
LEAN = [a for a in SMALL if "holdout" not in a] + ["--parallel.nb=8"]  # ELPA: a block per column
# nb 3 on 2x1: the lean transpose buffer holds a quarter of the local matrix, so the Gram's
# upper triangle arrives in several exchanges
ROUNDS = LEAN + ["--parallel.nb=3", "--parallel.grid=2x1"]
for solver, deck in [(s_, LEAN) for s_ in solvers] + [("scalapack", NOTPD), ("scalapack", ROUNDS)]:
    res = {}
    for mem in ("copy", "lean"):
        r = run(2, ["ntk", f"--ntk.memory={mem}", f"--ntk.solver={solver}",
                    f"--run.name=lean-{solver}-{mem}", "--ntk.save_gram=true",
                    "--run.output_dir=out", "--run.overwrite=true"] + deck)
        npass, nfail = passed_failed(r.stdout)
        res[mem] = (ntk_datasets(f"out/lean-{solver}-{mem}/ntk.h5") if r.code == 0 and nfail == 0
                    else ({}, None)), npass
    ((a, _), na), ((b, mb), nb_) = res["copy"], res["lean"]
    pd = int(a["positive_definite"][0]) if "positive_definite" in a else -1
    t.check(len(a) >= 8 and same_bits(a, b) and mb == "lean" and na == nb_ > 0,
            f"softntk ntk ({solver}, {'positive definite' if pd == 1 else 'not positive definite'}"
            f"), lean vs copy: {len(a)} datasets bitwise equal, {na} and {nb_} checks PASSED")
# auto holds the copy where it fits and H alone where only that fits (the plan's bytes per rank)
AUTO = ["ntk", "--data.n=2500", "--data.d=4", "--model.width=64", "--ntk.limit=false",
        "--run.output_dir=out", "--run.overwrite=true"]
plans = {}
for mem in ("copy", "lean"):
    r = run(2, AUTO + [f"--ntk.memory={mem}", f"--run.name=plan-{mem}"])
    plans[mem] = h5attrs(f"out/plan-{mem}/ntk.h5")["memory_planned_per_rank"] if r.code == 0 else 0
between = (plans["copy"] + plans["lean"]) / 2 / 1048576
r = run(2, AUTO + ["--run.name=plan-auto", f"--parallel.memory_limit={between}"])
got = ntk_datasets("out/plan-auto/ntk.h5")[1] if r.code == 0 else None
t.check(plans["copy"] - plans["lean"] >= 2500 * 1250 * 8 / 2 and got == "lean"
        and "memory lean" in r.stdout,
        f"ntk.memory = auto under a limit between the plans ({plans['copy'] / 2**20:.1f} and "
        f"{plans['lean'] / 2**20:.1f} MiB): {got} (a local matrix of 23.8 MiB less, a transpose "
        f"buffer of 7.3 MiB more)")
r = run(2, AUTO + ["--run.name=plan-auto2"])
t.check(r.code == 0 and ntk_datasets("out/plan-auto2/ntk.h5")[1] == "copy",
        "ntk.memory = auto with room for the copy: copy")
for extra, frag in [(["--ntk.spectrum=full"], "check their eigenvectors against H"),
                    (["--ntk.holdout=5"], "held-out points")]:
    r = run(2, ["ntk", "--ntk.memory=lean", "--run.name=lean-bad", "--run.output_dir=out"] + LEAN
            + extra)
    t.check(r.code == 2 and "ntk.memory = lean is not possible here" in r.stderr and frag in r.stderr
            and not os.path.exists("out/lean-bad/ntk.h5"),
            f"ntk.memory = lean with {extra[0]}: input error (exit {r.code}) naming why")

# tracking during training; its step-0 Gram equals softntk ntk's
TR = ["--data.n=12", "--data.d=5", "--model.width=256", "--train.eta=2e-5", "--train.steps=20",
      "--train.log_every=10", "--ntk.every=5", "--ntk.save_gram=true", "--ntk.spectrum=extremes",
      "--ntk.q=3", "--run.output_dir=out", "--run.overwrite=true"]
r = run(3, ["train", "--run.name=track"] + TR)
npass, nfail = passed_failed(r.stdout)
if t.check(r.code == 0 and nfail == 0, f"train with ntk.every = 5 on 3 ranks: exit {r.code}, "
                                       f"{npass} PASSED {r.stderr.strip()[:300]}"):
    with h5py.File("out/track/results.h5", "r") as f:
        steps = list(f["ntk/step"][...])
        ev = f["ntk/eigenvalues"].shape
        di = f["ntk/diff_init_fro"][...]
        dl = f["ntk/diff_limit_spec"][...]
        g0, g20 = f["ntk/gram_0"][...], f["ntk/gram_20"][...]
        nloss = f["train/loss"].shape[0]
    t.check(steps == [0, 5, 10, 15, 20] and ev == (5, 6) and di[0] == 0 and np.all(di[1:] > 0)
            and np.all(np.isfinite(dl)) and nloss == 21,
            f"results.h5 /ntk: steps {steps}, eigenvalues {ev} (q = 3 at each end), "
            f"||H(t) - H(0)||_F {di[0]:.1e} -> {di[-1]:.3e}, train/loss intact")
    # the same differences (identical subtractions); two Frobenius norms of N = nk^2 entries, the
    # library's through scaled sums of squares (4 roundings per entry): within gamma_{4N+4} of it
    d20 = np.linalg.norm(g20 - g0) / np.linalg.norm(g0)
    e = abs(d20 - di[-1] / np.linalg.norm(g0)) / (gamma(4 * g0.size + 4) * d20)
    t.check(e <= 1, f"gram_20 - gram_0 from the file matches the recorded ||H(20) - H(0)||_F "
                    f"({d20:.3e} rel): {e:.2f} of the round-off bound (<= 1)")
    r = run(2, ["ntk", "--run.name=track0"] + [a for a in TR if "every" not in a])
    if t.check(r.code == 0, f"softntk ntk with the same deck: exit {r.code}"):
        with h5py.File("out/track0/ntk.h5", "r") as f:
            X12 = f["data/X"][...]
            e = np.linalg.norm(f["ntk/gram_0"][...] - g0) / gram_bound(g0, X12, "softmax", 256, 3)
        t.check(e <= 1, f"train's gram_0 (P=3) equals softntk ntk's (P=2): {e:.1e} of the round-off "
                        f"bound (<= 1)")
    # the NTK of a trained network, from its final checkpoint
    r = run(2, ["ntk", "--run.name=track", "--restart", "auto"] + [a for a in TR if "every" not in a])
    if t.check(r.code == 0 and "weights from out/track/checkpoints/ckpt-20.h5" in r.stdout,
               f"softntk ntk --restart auto loads the final checkpoint: exit {r.code}"):
        with h5py.File("out/track/ntk.h5", "r") as f:
            X12 = f["data/X"][...]
            # W(20) = W(0) + a drift below 1e-2 (train/max_drift): the norm bound still holds
            b20 = gram_bound(g20, X12, "softmax", 256, 3)
            e = np.linalg.norm(f["ntk/gram_20"][...] - g20) / b20
            dfile = f["ntk/diff_init_fro"][0]
            step = f.attrs["step"]
        # H - H(0) differs by the differences of H and of H(0) built on 2 and 3 ranks: within twice
        # the Gram bound (on the scale of ||H||, not of the small ||H - H(0)||) plus the norms' rounding
        ed = abs(dfile - di[-1]) / (2 * b20 + gamma(4 * g20.size + 4) * dfile)
        t.check(step == 20 and e <= 1 and ed <= 1,
                f"ntk from the step-20 checkpoint (P=2): gram equals training's gram_20 ({e:.1e} of "
                f"the round-off bound), ||H - H(0)||_F {dfile:.6e} equals the tracked {di[-1]:.6e} "
                f"({ed:.1e} of the bound)")
    r = run(2, ["ntk", "--run.name=track", "--restart", "auto"]
            + [a for a in TR if "every" not in a] + ["--model.width=128"])
    t.check(r.code == 2 and "model.width = 256 there, 128 here" in r.stderr,
            f"softntk ntk refuses a checkpoint of another deck: exit {r.code}")
    # a tracked run killed and restarted keeps an /ntk history equal to the uninterrupted one
    KILL = ["train", "--run.name=trackkill"] + TR + ["--checkpoint.every_steps=5"]
    r = run(3, KILL, env={"SOFTNTK_FAULT": "step@12"})
    killed = r.code not in (0, 2, 3)
    r = run(3, KILL)
    with h5py.File("out/trackkill/results.h5", "r") as f, h5py.File("out/track/results.h5") as g:
        same = all(np.array_equal(f[k][...], g[k][...]) for k in
                   ["ntk/step", "ntk/eigenvalues", "ntk/diff_init_fro", "train/loss"])
        grams = sorted(k for k in f["ntk"] if k.startswith("gram_"))
    t.check(killed and r.code == 0 and "resuming from out/trackkill/checkpoints/ckpt-10.h5" in r.stdout
            and same and grams == ["gram_0", "gram_10", "gram_15", "gram_20", "gram_5"],
            f"ntk tracking across a crash and restarts: /ntk series and grams equal the "
            f"uninterrupted run bit for bit ({grams})")

def drift_bound(L, dK, kmax, nk, eta):
    """First-order bound on |L_t - P_t| / L_t for the trained loss L against the linearised curve P:
    the network's residual obeys r_{t+1} = (I - eta K_t) r_t with K_t = J(W_t) J(W_t)^T (to first
    order in one step's change), the linearised one (I - eta K0) r_t with ||I - eta K0|| <= 1, so
    their difference e_t has ||e_t|| <= B_t = eta max_s ||K_s - K0||_2 sum_{s<t} ||r_s||, and
    |L_t - P_t| <= B_t (||r_t|| + B_t / 2). dK: max_s ||K_s - K0||_2 over the recorded snapshots, the
    drift growing monotonically between them; a factor 2 covers the first-order step. Plus the
    round-off of the linearised curve (as for ntk.gd below: 2 c n eps (1 + t eta lambda_max) L(0) /
    L(t), c = 16), which the measured loss's own (~1e-14) does not exceed."""
    r = np.sqrt(2 * L)
    B = eta * dK * np.concatenate([[0.0], np.cumsum(r[:-1])])
    t = np.arange(len(L))
    return 2 * B * (r + B / 2) / L + 2 * 16 * nk * EPS * (1 + t * eta * kmax) * L[0] / L


# the linearised loss curve against training: m = 16384, eta about 0.3 / lambda_max(J J^T)
for act, eta in [("softmax", 1e-6), ("exp", 1e-6), ("relu", 0.02)]:
    r = run(2, ["train", f"--run.name=lin_{act}", f"--model.activation={act}", "--data.n=16",
                "--data.d=16", "--model.width=16384", "--ntk.every=20", "--ntk.spectrum=full",
                "--ntk.limit=false", "--train.steps=100", f"--train.eta={eta}",
                "--train.log_every=100", "--run.output_dir=out", "--run.overwrite=true"])
    if not t.check(r.code == 0, f"{act}: wide training with the NTK at step 0: exit {r.code} "
                                f"{r.stderr.strip()[:300]}"):
        continue
    with h5py.File(f"out/lin_{act}/results.h5", "r") as f:
        L = f["train/loss"][...]
        P = f["ntk/linearised/loss"][: len(L)]
        scale = f.attrs["gamma"] ** 2 / f.attrs["nu"]  # J J^T = gamma^2 / nu H
        dK = scale * np.max(f["ntk/diff_init_spec"][...])
        ev = f["ntk/eigenvalues"][0]
    bound = drift_bound(L, dK, scale * ev[-1], len(ev), eta)
    dev = np.max(np.abs(P - L) / L / bound)
    t.check(len(L) == 101 and dev <= 1 and L[-1] < 0.5 * L[0],
            f"{act}: linearised prediction vs measured loss over 100 steps (loss {L[0]:.3e} -> "
            f"{L[-1]:.3e}): max rel deviation {np.max(np.abs(P - L) / L):.1e}, {dev:.2f} of the "
            f"first-order NTK-drift bound (<= 1)")

# kernel gradient descent (ntk.gd): the linearised network after train.steps steps. Its training
# loss equals the linearised curve from the eigendecomposition (two computations: T matrix-vector
# products and a backward-stable eigendecomposition, each within c n eps ||K|| per step: the loss
# within 2 c n eps (1 + T eta lambda_max) L(0) / L(T)); a wide network trained for the same steps
# predicts the held-out points as the predictor does, up to its NTK drift delta = ||H(T) - H(0)||_F /
# ||H(0)||_F (recorded by softntk ntk from the checkpoint): to first order the held-out outputs move
# by eta sum_t (dK(x', X) r_t + K(x', X) e_t), at most delta (1 + T eta lambda_max) of the
# predictor's change (f(0) = 0, coupled), the cross kernel drifting as the training one; the
# predictor with H* within delta* = ||H(0) - H*||_F / ||H(0)||_F, the kernels' own distance (a
# first-order estimate with constant 1: the bound above with delta* is vacuous, > 1, here)
GD = ["--data.n=16", "--data.d=16", "--model.width=16384", "--ntk.holdout=8", "--train.steps=100",
      "--train.eta=1e-6", "--run.output_dir=out", "--run.overwrite=true"]
r0 = run(2, ["ntk", "--run.name=gd0", "--ntk.gd=true", "--ntk.spectrum=full"] + GD)
r1 = run(2, ["train", "--run.name=gdt", "--restart", "none", "--train.log_every=100"] + GD)
r2 = run(2, ["ntk", "--run.name=gdt", "--restart", "auto"] + GD) if r1.code == 0 else r1
if t.check(r0.code == 0 and r2.code == 0,
           f"ntk.gd: softntk ntk at init and after 100 trained steps exit {r0.code}, {r2.code} "
           f"{r0.stderr[:200]}{r2.stderr[:200]}"):
    with h5py.File("out/gd0/ntk.h5", "r") as f, h5py.File("out/gdt/ntk.h5", "r") as g:
        rg = f["ntk/regression"]
        pred, plim = rg["predictions_gd"][...], rg["predictions_gd_limit"][...]
        lgd, lin = rg.attrs["gd_train_loss"], f["ntk/linearised/loss"][100]
        steps, eta = rg.attrs["gd_steps"], rg.attrs["gd_eta"]
        net = g["ntk/regression/network"][...]
        L0 = f["ntk/linearised/loss"][0]
        kmax = f.attrs["gamma"] ** 2 / f.attrs["nu"] * f["ntk/lambda_max"][0]
        nk = int(f["ntk"].attrs["nk"])
        delta = g["ntk/diff_init_fro"][0] / g["ntk/norm_fro"][0]
        dstar = f["ntk/diff_limit_fro"][0] / f["ntk/norm_fro"][0]
    growth = 1 + steps * eta * kmax
    e = abs(lgd - lin) / (2 * 16 * nk * EPS * growth * L0 / lin) / lin
    t.check(steps == 100 and eta == 1e-6 and e <= 1,
            f"ntk.gd: training loss of the kernel gradient-descent predictor {lgd:.10e} equals the "
            f"linearised curve at step 100 {lin:.10e} ({e:.1e} of the round-off bound, <= 1)")
    e = np.linalg.norm(net - pred) / np.linalg.norm(pred)
    el = np.linalg.norm(net - plim) / np.linalg.norm(plim)
    # plus the two predictions' round-off, sums of m + d + n terms: 2 gamma_{m+32} relative
    t.check(e <= delta * growth + 2 * gamma(16384 + 32) and el <= dstar,
            f"ntk.gd: the network trained 100 steps (m = 16384) predicts the held-out points as "
            f"the predictor with H(0) does: {e:.1e} relative (<= delta (1 + T eta lambda_max) = "
            f"{delta * growth:.1e}); with H*: {el:.1e} (<= delta* = {dstar:.1e})")

# generated inputs of varying norm (data.norm_min, norm_max): directions those of the unit-sphere
# set, norms in range, the same on 1 and 3 ranks; the normalisation effect of DESIGN.md section 2,
# H*_softmax = H*_exp / (Z_i Z_j) with Z(x) = exp(sigma^2 ||x||^2 / 2), holds on them (within the
# entrywise round-off bound)
NORM = ["--data.n=20", "--data.d=5", "--model.width=64", "--ntk.save_gram=true",
        "--run.output_dir=out", "--run.overwrite=true", "--model.sigma=0.8"]
runs = {}
VAR = ["--data.norm_min=0.5", "--data.norm_max=1.5"]
for name, np_, extra in [("unit", 1, []), ("var_soft", 1, VAR),
                         ("var_exp", 3, VAR + ["--model.activation=exp"])]:
    r = run(np_, ["ntk", f"--run.name={name}"] + NORM + extra)
    if r.code == 0:
        with h5py.File(f"out/{name}/ntk.h5", "r") as f:
            runs[name] = (f["data/X"][...], f["ntk/gram_limit"][...])
if t.check(len(runs) == 3,
           f"data.norm_min/norm_max: three softntk ntk runs exit 0 ({sorted(runs)})"):
    Xu, Xs, Xe = runs["unit"][0], runs["var_soft"][0], runs["var_exp"][0]
    r = np.linalg.norm(Xs, axis=1)
    same_dir = np.max(np.abs(Xs / r[:, None] - Xu))
    # x = rho u with ||u|| = 1 within (1.5 d + 5.5) u / 2 (the generator's normalisation), and
    # x / ||x|| adds (d / 2 + 3) u (norm, square root, division): within (2 d + 6) u, d = 5
    t.check(np.array_equal(Xs, Xe) and same_dir <= (2 * 5 + 6) * EPS / 2 and r.min() >= 0.5
            and r.max() <= 1.5
            and r.max() - r.min() > 0.5,
            f"data.norm_min = 0.5, norm_max = 1.5: norms {r.min():.3f}..{r.max():.3f}, directions "
            f"those of the unit-sphere set ({same_dir:.1e}), identical on 1 and 3 ranks")
    Z = np.exp(0.5 * 0.8 ** 2 * r ** 2)
    Hs, He = runs["var_soft"][1], runs["var_exp"][1]
    # each H* within limit_bound of the exact; Z_i within (1 + 3 sigma^2 r_i^2 / 2) u, the division
    # and the products 3 u: entrywise
    ZZ = np.outer(Z, Z)
    zb = (1 + 1.5 * 0.64 * r ** 2) * EPS / 2
    b = (limit_bound(Xs, 1, "exp", 0.8) / ZZ + limit_bound(Xs, 1, "softmax", 0.8)
         + (zb[:, None] + zb[None, :] + 3 * EPS / 2) * np.abs(Hs))
    e = np.max(np.abs(He / ZZ - Hs) / b)
    t.check(e <= 1, f"normalisation effect on inputs of varying norm: H*_exp / (Z_i Z_j) equals "
                    f"H*_softmax within {e:.1e} of the round-off bound (<= 1)")
# ntk.perturb through the command line (softntk/perturb.h; the maps themselves: tests/test_perturb.c):
# /perturb on P = 1 and 3 agree, its H equals the ScaLAPACK-assembled gram_0, and two input errors
# are refused. Tolerances: H and the fixed directions' first order are sums of at most m n^2 d
# products of features computed to relative gamma_N (N = m + n + d + 16) on the absolute-value Gram,
# which for coupled softmax (f = 0) is H itself and is at most bound_first_order / 24 per unit of
# Delta: 64 gamma_N times those; the worst direction is a power iteration stopped when it rises by
# less than 1e-4 relative, so two rank counts agree to 10 times that.
pert = {}
for np_ in (1, 3):
    r = run(np_, ["ntk", f"--run.name=pert{np_}", "--data.n=12", "--data.d=5", "--model.width=40",
                  "--ntk.perturb=true", "--ntk.perturb_gd_steps=5", "--ntk.save_gram=true",
                  "--run.output_dir=out", "--run.overwrite=true"])
    if t.check(r.code == 0 and "perturb: ||H||_F" in r.stdout,
               f"ntk.perturb on P={np_}: exit {r.code} {r.stderr.strip()[:300]}"):
        with h5py.File(f"out/pert{np_}/ntk.h5", "r") as f:
            pert[np_] = {k: f["perturb/" + k][...] for k in ("H", "first_order", "finite_fro")}
            pert[np_]["gram"] = f["ntk/gram_0"][...]
            pert[np_]["bound"] = float(f["perturb"].attrs["bound_first_order"])
            pert[np_]["dirs"] = f["perturb"].attrs["directions"]
if len(pert) == 2:
    a, b = pert[1], pert[3]
    tol = 64 * gamma(40 + 12 + 5 + 16)
    eg = max(np.linalg.norm(p["H"] - p["gram"]) for p in (a, b))
    t.check(eg <= tol * np.linalg.norm(a["H"]),
            f"/perturb/H equals the ScaLAPACK gram_0 on P = 1 and 3: {eg:.1e} <= "
            f"{tol * np.linalg.norm(a['H']):.1e}")
    er = abs(a["first_order"][1, 0] - b["first_order"][1, 0])
    ew = abs(a["first_order"][0, 0] - b["first_order"][0, 0]) / a["first_order"][0, 0]
    t.check(er <= tol * a["bound"] and ew <= 1e-3 and a["first_order"][0, 0] <= a["bound"],
            f"/perturb on P = 1 and 3: random direction's ||dH|| {a['first_order'][1, 0]:.6e} "
            f"differs by {er:.1e} (<= {tol * a['bound']:.1e}), the worst direction's "
            f"{a['first_order'][0, 0]:.6e} by {ew:.1e} relative (<= 1e-3), under the bound "
            f"{a['bound']:.3e}")
r = run(1, ["ntk", "--ntk.perturb=true", "--data.k=2", "--run.output_dir=out",
            "--run.name=pertk2"])
t.check(r.code == 2 and "data.k = 1" in r.stderr,
        f"ntk.perturb with k = 2: exit {r.code}, refused naming data.k")
r = run(1, ["ntk", "--ntk.perturb=true", "--ntk.perturb_radii=1e-3,-2", "--run.output_dir=out",
            "--run.name=pertr"])
t.check(r.code == 2 and "ntk.perturb_radii" in r.stderr,
        f"ntk.perturb_radii with a negative radius: exit {r.code}, refused naming the key")
r = run(1, ["train", "--data.norm_min=1.5", "--data.norm_max=0.5", "--run.output_dir=out"])
t.check(r.code == 2 and "data.norm_max = 0.5 is below data.norm_min = 1.5" in r.stderr,
        f"data.norm_max < norm_min: exit {r.code}, message names both keys")

sys.exit(t.finish())
