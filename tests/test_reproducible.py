"""Reproducible reductions (parallel.reproducible = true): the same bits on any number of ranks.
- softntk train, 50 steps at eta = auto (the power iteration is part of the trajectory), for each
  activation and k in {1, 3}, width 251 (prime: divisible by no rank count) with a chunk of 10 of
  the 24 samples (three chunks, the last one short): on P = 1, 2, 3, 4 (and 8, oversubscribed, with
  --slow) the final checkpoint's W, the /train series (loss, gradient norm, drift), eta and the
  verification hash (/@state_hash, printed in the log) are bitwise identical (SHA-256 of the bytes);
- the GEMMs: one call over a rank's units (taken where the first call of each shape matched the
  per-unit calls bit for bit) and the per-unit calls (forced by SOFTNTK_GEMM_PER_UNIT) give the same
  bits, relu k = 3 and softmax k = 1, on 3 ranks and on 1;
- m = 1001, d = 16, chunks of 32 (GEMMs large enough for the single call over a rank's units):
  softmax k = 1 and relu k = 3 on P = 1..4 and forced per unit, bitwise equal, the single call taken;
- the comparison can fail: the same run with parallel.reproducible = false on 1 and 3 ranks differs
  in the last bits (a planted error of the mode switch);
- softntk score with minibatches on P = 1, 2, 3, 4: /train, /score (held-out errors), the final W,
  the reverse-SDE sampler's learned samples and every sample metric (sliced W2, MMD) bitwise
  identical; softntk sample (probability-flow ODE) from its checkpoint on 1 and 3 ranks likewise;
- elastic restart: a run checkpointed on 2 ranks and resumed on 3, and that run's 3-rank checkpoint
  resumed on 1, end bitwise identical to the uninterrupted run (W, series, state hash)."""
import glob
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import Suite, run  # noqa: E402

import h5py  # noqa: E402

SLOW = "--slow" in sys.argv
t = Suite("reproducible-8" if SLOW else "reproducible")
OUT = ["--run.output_dir=out-repro", "--data.store=false", "--parallel.reproducible=true"]
BASE = ["--data.n=24", "--data.d=8", "--model.width=251", "--model.init=random",
        "--train.eta=auto", "--train.steps=50", "--train.chunk=10", "--train.log_every=50"] + OUT
RANKS = (1, 2, 3, 4, 8) if SLOW else (1, 2, 3, 4)


def sha(a):
    return hashlib.sha256(a.tobytes()).hexdigest()[:16]


def fingerprint(name, groups=("train",)):
    """Hashes of the run's series (all but wall time), final W, eta and state hash."""
    d = f"out-repro/{name}"
    fp = {}
    with h5py.File(f"{d}/results.h5", "r") as f:
        for g in groups:
            for k in sorted(f[g].keys()):
                if k != "wall_time" and isinstance(f[g][k], h5py.Dataset):
                    fp[f"{g}/{k}"] = sha(f[g][k][...])
        for a in ("eta", "state_hash", "reproducible", "neuron_block"):
            v = f.attrs.get(a)
            fp["@" + a] = v.decode() if isinstance(v, bytes) else str(v)
    ck = sorted(glob.glob(f"{d}/checkpoints/ckpt-*.h5"),
                key=lambda p: int(p.rsplit("-", 1)[1][:-3]))[-1]
    with h5py.File(ck, "r") as f:
        fp["W"] = sha(f["W"][...])
        fp["ckpt"] = os.path.basename(ck)
    return fp


def same_on_all(label, fps):
    ref = fps[RANKS[0]]
    diff = {p: [k for k in ref if fps[p].get(k) != ref[k]] for p in fps}
    ok = all(not v for v in diff.values()) and ref.get("@reproducible") == "1"
    t.check(ok, f"{label}: W, series, eta and state hash {ref.get('@state_hash')} bitwise equal on "
                f"P = {tuple(fps)}" + ("" if ok else f"; differing: {diff}"))


# --- train: each activation, k in {1, 3}, on every rank count ------------------------------------
for act in ("softmax", "exp", "relu"):
    for k in (1, 3):
        fps = {}
        for np_ in RANKS:
            name = f"{act}-k{k}-p{np_}"
            r = run(np_, ["train", f"--run.name={name}", f"--model.activation={act}",
                          f"--data.k={k}"] + BASE)
            if t.check(r.code == 0, f"train {act} k={k} on {np_} rank(s) exits 0 {r.stderr[-300:]}"):
                fps[np_] = fingerprint(name)
                line = [ln for ln in r.stdout.splitlines() if "verification:" in ln]
                t.check(len(line) == 1 and fps[np_]["@state_hash"] in line[0],
                        f"train {act} k={k} P={np_}: the log's verification line carries the "
                        f"results file's state hash")
        if len(fps) == len(RANKS):
            same_on_all(f"train {act} k={k}", fps)

# --- the single GEMM over a rank's units (taken when probed bitwise equal) and the per-unit calls -
for act, k in (("relu", 3), ("softmax", 1)):
    fps = {}
    for np_, env in ((3, None), (3, {"SOFTNTK_GEMM_PER_UNIT": "1"}),
                     (1, {"SOFTNTK_GEMM_PER_UNIT": "1"})):
        name = f"perunit-{act}-p{np_}-{bool(env)}"
        r = run(np_, ["train", f"--run.name={name}", f"--model.activation={act}",
                      f"--data.k={k}"] + BASE, env=env)
        if t.check(r.code == 0, f"{act} k={k} on {np_} rank(s), GEMMs "
                                f"{'per unit' if env else 'probed'}"):
            fps[name] = fingerprint(name)
            t.check(("(SOFTNTK_GEMM_PER_UNIT)" in r.stdout) == bool(env),
                    f"{act} k={k} on {np_} rank(s): the log names the GEMM path taken")
    if len(fps) == 3:
        v = list(fps.values())
        t.check(v[0] == v[1] == v[2], f"{act} k={k}: the per-unit GEMM path (SOFTNTK_GEMM_PER_UNIT) "
                                      f"gives the bits of the probed single calls, on 3 ranks and 1")

# --- shapes large enough for the single GEMM over a rank's units (rows, inner >= 16, width >= 64):
# it must be taken (the log counts the shapes run as one call) and agree with the per-unit calls
WIDE = ["--data.n=80", "--data.d=16", "--model.width=1001", "--model.init=random",
        "--train.eta=auto", "--train.steps=20", "--train.chunk=32", "--train.log_every=20"] + OUT
for act, k in (("softmax", 1), ("relu", 3)):
    fps, whole = {}, {}
    for np_, env in ((1, None), (2, None), (3, None), (4, None), (3, {"SOFTNTK_GEMM_PER_UNIT": "1"})):
        name = f"wide-{act}-p{np_}-{bool(env)}"
        r = run(np_, ["train", f"--run.name={name}", f"--model.activation={act}",
                      f"--data.k={k}"] + WIDE, env=env)
        if t.check(r.code == 0, f"wide {act} k={k} on {np_} rank(s) exits 0 {r.stderr[-300:]}"):
            fps[name] = fingerprint(name)
            with h5py.File(f"out-repro/{name}/results.h5", "r") as f:
                blas = f.attrs.get("blas", b"")
                blas = blas.decode() if isinstance(blas, bytes) else str(blas)
            line = [ln for ln in r.stdout.splitlines() if "GEMM shapes on rank 0" in ln]
            whole[name] = int(line[0].split(":")[1].split()[0]) if line else -1
    if len(fps) == 5:
        v = list(fps.values())
        t.check(all(x == v[0] for x in v), f"wide {act} k={k} (m = 1001, d = 16, chunks of 32): "
                                           f"W, series and state hash bitwise equal on P = 1..4 "
                                           f"and with every GEMM per unit")
        w = list(whole.values())
        # OpenBLAS's packed GEMM passes the probe; another BLAS may not (then all runs per unit)
        t.check((min(w[:4]) > 0 or "openblas" not in blas.lower()) and w[4] == 0,
                f"wide {act} k={k}: single calls taken where probed equal ({w[:4]} shapes on rank "
                f"0, {blas.split(';')[0]}) and none when forced per unit")

# --- the comparison can fail: the rank-local mode differs across rank counts ---------------------
fps = {}
for np_ in (1, 3):
    name = f"local-p{np_}"
    r = run(np_, ["train", f"--run.name={name}", "--model.activation=softmax", "--data.k=1"]
            + BASE + ["--parallel.reproducible=false"])  # the last value of a key counts
    if t.check(r.code == 0, f"rank-local mode on {np_} rank(s) exits 0"):
        fps[np_] = fingerprint(name)
if len(fps) == 2:
    t.check(fps[1]["W"] != fps[3]["W"] and fps[1]["@reproducible"] == "0",
            "planted: parallel.reproducible = false gives different bits of W on 1 and 3 ranks "
            "(the bitwise comparison above can fail)")

# --- score with minibatches, held-out errors and sample metrics ----------------------------------
SCORE = ["--model.width=38", "--train.steps=30", "--train.eta=1e-4", "--diffusion.samples=64",
         "--diffusion.samples_train=128", "--diffusion.eval_every=10", "--diffusion.t0=0.01",
         "--diffusion.T=2", "--diffusion.minibatch=48", "--train.chunk=20",
         "--checkpoint.final=true"] + OUT
fps = {}
for np_ in (1, 2, 3, 4):
    name = f"score-p{np_}"
    r = run(np_, ["score", f"--run.name={name}"] + SCORE, timeout=300)
    if t.check(r.code == 0, f"score (minibatch 48) on {np_} rank(s) exits 0 {r.stderr[-300:]}"):
        fps[np_] = fingerprint(name, ("train", "score"))
        with h5py.File(f"out-repro/{name}/results.h5", "r") as f:
            if "samples" in f:  # the sampler's learned samples and every sample metric
                fps[np_]["samples/learned"] = sha(f["samples/learned"][...])
                fps[np_]["samples"] = str(sorted((k, float(v)) for k, v in f["samples"].attrs.items()
                                                 if isinstance(v, float)))
if len(fps) == 4:
    ref = fps[1]
    diff = {p: [k for k in ref if fps[p].get(k) != ref[k]] for p in fps}
    t.check(all(not v for v in diff.values()) and "score/error" in ref and "samples/learned" in ref,
            f"score with minibatches: /train, /score, sample metrics and W bitwise equal on P = "
            f"1, 2, 3, 4" + ("" if all(not v for v in diff.values()) else f"; differing: {diff}"))

# --- softntk sample (probability-flow ODE) from the 1-rank score run's checkpoint, on 1 and 3 ranks
smp = {}
for np_ in (1, 3):
    r = run(np_, ["sample", "--run.name=score-p1", "--run.overwrite=true",
                  "--diffusion.sampler=ode"] + SCORE, timeout=300)
    if t.check(r.code == 0, f"sample (ode) on {np_} rank(s) exits 0 {r.stderr[-300:]}"):
        with h5py.File("out-repro/score-p1/samples.h5", "r") as f:
            smp[np_] = (sha(f["samples/learned"][...]),
                        sorted((k, float(v)) for k, v in f["samples"].attrs.items()
                               if isinstance(v, float)))
if len(smp) == 2:
    t.check(smp[1] == smp[3], "softntk sample: the ODE sampler's learned samples and every sample "
                              "metric bitwise equal on 1 and 3 ranks")

# --- elastic restart 2 -> 3 -> 1 -----------------------------------------------------------------
EL = ["--model.activation=softmax", "--data.k=1", "--checkpoint.every_steps=10",
      "--checkpoint.keep=10"] + BASE
r = run(2, ["train", "--run.name=el-ref"] + EL)
if t.check(r.code == 0, "elastic: uninterrupted reference on 2 ranks exits 0"):
    ref = fingerprint("el-ref")
    r = run(3, ["train", "--run.name=el-3", "--restart",
                "out-repro/el-ref/checkpoints/ckpt-20.h5"] + EL)
    if t.check(r.code == 0, f"elastic: the 2-rank checkpoint of step 20 resumed on 3 ranks "
                            f"{r.stderr[-300:]}"):
        fp3 = fingerprint("el-3")
        t.check(fp3 == ref, f"elastic 2 -> 3: W, series and state hash bitwise equal to the "
                            f"uninterrupted run ({[k for k in ref if fp3.get(k) != ref[k]]})")
        with h5py.File("out-repro/el-3/checkpoints/ckpt-30.h5", "r") as f:
            t.check(int(f.attrs.get("ranks", 3)) == 3, "elastic: step 30 was written on 3 ranks")
        r = run(1, ["train", "--run.name=el-1", "--restart",
                    "out-repro/el-3/checkpoints/ckpt-30.h5"] + EL)
        if t.check(r.code == 0, "elastic: the 3-rank checkpoint of step 30 resumed on 1 rank"):
            fp1 = fingerprint("el-1")
            t.check(fp1 == ref, f"elastic 3 -> 1: W, series and state hash bitwise equal to the "
                                f"uninterrupted run ({[k for k in ref if fp1.get(k) != ref[k]]})")

t.finish()
