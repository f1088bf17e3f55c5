#!/usr/bin/python3
"""softntk's training step against a hand-written NumPy step of the same network, in one run.

usage: scripts/bench_numpy.py [--softntk PATH] [--n 8192] [--d 64] [--m 16384] [--reps 5]
                              [--chunk 512] [--workdir DIR] [--plant]

The network (DESIGN.md section 1, src/model/model.c): softmax activation, k = 1, output scale
alpha = sqrt(m) (output_scale = ntk, as `softntk bench` uses), F(x) = alpha sum_r a_r S_r(x) with
S = softmax over the m neurons of w_r . x, loss 1/2 sum_i (F(x_i) - y_i)^2. One step is the loss,
the analytic gradient dL/dw_r = sum_i x_i G_ir with G_ir = S_ir E_i (alpha a_r - F_i), E = F - y,
and the update W -= eta grad, all in place on preallocated arrays (rows in chunks of --chunk
samples so the n x m temporaries stay 64 MiB, as softntk's chunks do).

1. Same computation: on a small shape (n = 40, d = 6, m = 24) `softntk train` runs 2 steps from a
   data file this script writes, with a checkpoint after each; the NumPy step applied to the
   checkpointed W(1) must give the checkpointed W(2) entrywise within a round-off bound
   (c (n + m + d) eps times the same sums taken in absolute values, c = 8), and the loss at W(1)
   must equal the loss softntk recorded for step 1 within (n + m + d) eps of its absolute terms.
   --plant drops the F_i term of the gradient: the check must then fail (exit 1).
2. Timing: the NumPy step on the benchmark shape (best and median of --reps after a warm-up) and
   `softntk bench --bench.what=step` on the same shape (best of --reps after a warm-up, read from
   its bench.h5), one rank; prints the ratio NumPy / softntk and the NumPy and BLAS versions.

Set OPENBLAS_NUM_THREADS=1 (and any BLIS variables) in the environment: the script passes the
environment to both sides unchanged. Writes nothing into the repository (--workdir, default a
temporary directory).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

EPS = np.finfo(float).eps


def step(X, y, W, a, alpha, eta, chunk, buf, plant=False):
    """One in-place gradient step on W (m x d); returns the loss before the step."""
    n, m = X.shape[0], W.shape[0]
    Z, T, grad = buf["Z"], buf["T"], buf["grad"]
    alpha_a = alpha * a
    grad[:] = 0.0
    loss = 0.0
    for i0 in range(0, n, chunk):
        c = min(chunk, n - i0)
        Xc, z, t = X[i0:i0 + c], Z[:c], T[:c]
        np.matmul(Xc, W.T, out=z)
        z -= z.max(axis=1)[:, None]
        np.exp(z, out=z)
        z /= z.sum(axis=1)[:, None]  # S
        F = z @ alpha_a
        E = F - y[i0:i0 + c]
        loss += 0.5 * float(E @ E)
        if plant:
            np.multiply(z, alpha_a[None, :], out=z)
        else:
            np.subtract(alpha_a[None, :], F[:, None], out=t)
            np.multiply(z, t, out=z)
        z *= E[:, None]  # G
        grad += z.T @ Xc
    W -= eta * grad
    return loss


def buffers(n, d, m, chunk):
    c = min(chunk, n)
    return {"Z": np.empty((c, m)), "T": np.empty((c, m)), "grad": np.empty((m, d))}


def bound(X, y, W, a, alpha, eta):
    """Entrywise round-off bound on eta * grad, and on the loss, from absolute values."""
    Z = X @ W.T
    S = np.exp(Z - Z.max(axis=1)[:, None])
    S /= S.sum(axis=1)[:, None]
    F = S @ (alpha * a)
    E = F - y
    absG = S * np.abs(E)[:, None] * (alpha + np.abs(F))[:, None]
    n, d = X.shape
    m = W.shape[0]
    c = 8.0 * (n + m + d) * EPS
    gb = eta * c * (absG.T @ np.abs(X))
    lb = (n + m + d) * EPS * float(np.abs(E) @ (alpha * (S @ np.ones(m)) + np.abs(y)) + E @ E)
    return gb, lb


def run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.stdout.write(r.stdout)
        sys.exit("command failed (exit %d): %s" % (r.returncode, " ".join(cmd)))
    return r.stdout


def mpirun(np_):
    return ["mpirun", "-np", str(np_), "--bind-to", "none"]


def verify(sntk, work, plant):
    n, d, m, eta = 40, 6, 24, 0.05
    rng = np.random.default_rng(7)
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1)[:, None]
    y = rng.standard_normal(n)
    data = os.path.join(work, "verify_data.h5")
    with h5py.File(data, "w") as f:
        f["X"] = X
        f["Y"] = y
    run(mpirun(1) + [sntk, "train", "--data.source=file", "--data.file=" + data,
                     "--model.width=%d" % m, "--model.activation=softmax", "--model.init=random",
                     "--model.output_scale=ntk", "--train.steps=2", "--train.eta=%g" % eta,
                     "--checkpoint.every_steps=1", "--checkpoint.keep=5",
                     "--run.output_dir=" + work, "--run.name=verify", "--run.overwrite=true"], work)
    rd = os.path.join(work, "verify")
    with h5py.File(os.path.join(rd, "checkpoints", "ckpt-1.h5"), "r") as f:
        W1, a = f["W"][()], f["a"][()][:, 0]
    with h5py.File(os.path.join(rd, "checkpoints", "ckpt-2.h5"), "r") as f:
        W2 = f["W"][()]
    with h5py.File(os.path.join(rd, "results.h5"), "r") as f:
        steps, losses = f["/train/step"][()], f["/train/loss"][()]
    alpha = np.sqrt(m)
    gb, lb = bound(X, y, W1, a, alpha, eta)
    W = W1.copy()
    loss = step(X, y, W, a, alpha, eta, 16, buffers(n, d, m, 16), plant)
    werr = float(np.max(np.abs(W - W2) / gb))
    lsntk = float(losses[list(steps).index(1)])
    lerr = abs(loss - lsntk) / lb
    ok = werr <= 1.0 and lerr <= 1.0
    print("verify (n = %d, d = %d, m = %d, eta = %g%s): W(2) from softntk's W(1): %.2e of the "
          "round-off bound; loss at W(1) %.15e vs softntk %.15e: %.2e of its bound: %s"
          % (n, d, m, eta, ", PLANTED error" if plant else "", werr, loss, lsntk, lerr,
             "same computation" if ok else "MISMATCH"))
    return ok


def blas_libraries():
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if any(s in os.path.basename(p) for s in ("blas", "blis", "lapack")):
                libs.add(os.path.realpath(p))
    return sorted(libs)


def time_numpy(n, d, m, chunk, reps):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1)[:, None]
    y = rng.standard_normal(n)
    W = rng.standard_normal((m, d))
    a = np.where(rng.random(m) < 0.5, -1.0, 1.0)
    buf = buffers(n, d, m, chunk)
    alpha = np.sqrt(m)
    step(X, y, W, a, alpha, 1e-12, chunk, buf)  # warm-up
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step(X, y, W, a, alpha, 1e-12, chunk, buf)
        t.append(time.perf_counter() - t0)
    return min(t), float(np.median(t))


def time_softntk(sntk, work, n, d, m, reps):
    out = run(mpirun(1) + [sntk, "bench", "--bench.what=step", "--bench.n=%d" % n,
                           "--bench.d=%d" % d, "--bench.m=%d" % m, "--bench.reps=%d" % reps,
                           "--run.output_dir=" + work, "--run.name=bench"], work)
    with h5py.File(os.path.join(work, "bench", "bench.h5"), "r") as f:
        parts = [p.decode() if isinstance(p, bytes) else p for p in f["/bench/part"][()]]
        sec = f["/bench/seconds"][()][parts.index("training step")]
        blas = f.attrs.get("blas", b"")
        blas = blas.decode() if isinstance(blas, bytes) else str(blas)
    return float(sec), blas, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--softntk", default=os.environ.get("SOFTNTK", "build/softntk"))
    ap.add_argument("--n", type=int, default=8192)
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--m", type=int, default=16384)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--chunk", type=int, default=512)
    ap.add_argument("--workdir")
    ap.add_argument("--plant", action="store_true")
    args = ap.parse_args()
    sntk = os.path.abspath(args.softntk)
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.abspath(args.workdir or tmp)
        os.makedirs(work, exist_ok=True)
        if not verify(sntk, work, args.plant):
            sys.exit(1)
        if args.plant:
            sys.exit("the planted error was not detected")
        tn_best, tn_med = time_numpy(args.n, args.d, args.m, args.chunk, args.reps)
        ts, blas, out = time_softntk(sntk, work, args.n, args.d, args.m, args.reps)
    print("shape: n = %d, d = %d, m = %d, k = 1, softmax, 1 rank; OPENBLAS_NUM_THREADS=%s "
          "OPENBLAS_CORETYPE=%s BLIS_ARCH_TYPE=%s" % (
              args.n, args.d, args.m, os.environ.get("OPENBLAS_NUM_THREADS", "(unset)"),
              os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
              os.environ.get("BLIS_ARCH_TYPE", "(unset)")))
    print("NumPy %s (Python %s), BLAS loaded: %s" % (
        np.__version__, sys.version.split()[0], ", ".join(blas_libraries())))
    print("softntk BLAS: %s" % blas)
    for line in out.splitlines():
        if "kernel family" in line or "BLIS_ARCH_TYPE=" in line and "set at start" in line:
            print("softntk" + line.strip().join([" ", ""]))
    print("NumPy step: best %.3f s, median %.3f s of %d" % (tn_best, tn_med, args.reps))
    print("softntk step: best %.3f s of %d" % (ts, args.reps))
    print("ratio NumPy / softntk (best / best): %.2fx" % (tn_best / ts))


if __name__ == "__main__":
    main()
