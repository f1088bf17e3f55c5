"""Helpers for the command-line tests: run softntk under mpirun with a timeout (a hang is a failure),
count checks, read HDF5 attributes, and the round-off bounds the numerical comparisons use (the same
first-order bounds as tests/reference.c, here for quantities read from softntk's files)."""
import math
import os
import shutil
import subprocess
import sys

SOFTNTK = os.environ.get("SOFTNTK", "softntk")
SOURCE = os.environ.get("SOFTNTK_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), ".."))


class Result:
    def __init__(self, code, stdout, stderr):
        self.code, self.stdout, self.stderr = code, stdout, stderr


def run(np_, args, timeout=120, env=None):
    """Run `mpirun -np np_ softntk args`; a run that exceeds the timeout is killed and reported as
    exit code -999 (a hang)."""
    cmd = ["mpirun", "-np", str(np_), SOFTNTK] + list(args)
    e = dict(os.environ)
    if env:
        e.update(env)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e)
        return Result(p.returncode, p.stdout, p.stderr)
    except subprocess.TimeoutExpired as exc:
        return Result(-999, exc.stdout or "", f"TIMEOUT after {timeout}s: {' '.join(cmd)}")


def h5attrs(path):
    import h5py
    out = {}
    with h5py.File(path, "r") as f:
        for k, v in f.attrs.items():
            out[k] = v.decode() if isinstance(v, bytes) else (v.item() if hasattr(v, "item") else v)
    return out


class Suite:
    """Counts checks; works in a fresh directory <name>.work below the current one."""

    def __init__(self, name):
        self.name, self.failures, self.checks = name, 0, 0
        work = os.path.abspath(f"{name}.work")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        os.chdir(work)

    def check(self, ok, message):
        self.checks += 1
        if ok:
            print(f"ok   {message}", flush=True)
        else:
            self.failures += 1
            print(f"FAIL {message}", flush=True)
        return ok

    def finish(self):
        print(f"{self.checks} checks, {self.failures} failures")
        return 1 if self.failures else 0


# --- round-off bounds ------------------------------------------------------------------------------
EPS = 2.220446049250313e-16  # double epsilon; the unit roundoff is u = EPS / 2
U = EPS / 2


def gamma(n):
    """Higham's gamma_n = n u / (1 - n u): a sum of n terms in any order is within gamma_n times the
    sum of their absolute values of the exact sum."""
    return n * U / (1 - n * U)


def eig_scaled(w, wref):
    """max |w_i - wref_i| / (n eps max |wref|): two backward-stable symmetric eigensolvers give
    eigenvalues of H + E with ||E||_2 <= c n eps ||H||_2, c = O(1), so (Weyl) this stays below the
    HPL-style threshold 16."""
    w, wref = [float(x) for x in w], [float(x) for x in wref]
    return max(abs(a - b) for a, b in zip(w, wref)) / (len(wref) * EPS * max(abs(x) for x in wref))


def weight_norm_bound(sigma, d, m, p=1e-9):
    """A bound on max_r ||w_r|| for m initial weights w_r ~ N(0, sigma^2 I_d), exceeded with
    probability below p: P(||w|| > sigma (sqrt d + t)) <= exp(-t^2 / 2) (Gaussian concentration of
    the norm), with a union bound over the m neurons."""
    return sigma * (math.sqrt(d) + math.sqrt(2 * math.log(m / p)))


def softmax_rho(m, d, ranks, zmax):
    """Relative round-off of each softmax probability S_r when |w_r . x| <= zmax (tests/reference.c,
    ref_bounds): exponentials within gamma_d zmax + 2 u zmax + 8 u, sums gamma_{m + ranks}, the
    ranks' rescalings 2 u zmax + 9 u each."""
    return (2 * (gamma(d) * zmax + 2 * U * zmax + 8 * U) + (ranks + 2) * (2 * U * zmax + 9 * U)
            + gamma(m + ranks) + 2 * U)


def gram_tau(act, m, d, ranks, zmax, fmax=0.9):
    """One computation of the normalised NTK H_ab = nu (x_i . x_j) sum_r u_ar u_br is within
    tau sqrt(H_aa H_bb) of the exact one (Cauchy-Schwarz bounds the sums of |terms| by the diagonal),
    tau = 2 kappa + gamma_{m + d + 2}, kappa the features' relative round-off: relu 0 (a kink within
    2 gamma_d zmax of 0 has probability ~1e-13), exp gamma_d zmax + 8 u, softmax u = S (a - <a, S>):
    rho + (rho + gamma_m) / (1 - fmax) for |<a, S(x)>| <= fmax = 0.9 (random signs: its s.d. is
    ||S||_2 ~ e^(sigma^2 / 2) / sqrt(m), 0.17 at m = 97, so 0.9 is over 5 s.d.)."""
    if act == "relu":
        kappa = 0.0
    elif act == "exp":
        kappa = gamma(d) * zmax + 8 * U
    else:
        rho = softmax_rho(m, d, ranks, zmax)
        kappa = rho + (rho + gamma(m)) / (1 - fmax)
    return 2 * kappa + gamma(m + d + 2)


def series_bound(path, ranks, xmax=1.0):
    """Bound on the relative difference between the loss series of this softmax run and of the same
    run on another rank count, step by step, from the run's own results file (round-off only).
    Per evaluation, every output F_il is within gamma c of the exact one, c = rho + gamma_{m+P+4}
    (softmax_rho, zmax = xmax (max_r ||w_r|| bounded by weight_norm_bound plus the recorded drift);
    sum_r |a| S_r = 1 makes gamma the scale of every output); so the loss L = 1/2 ||E||^2 within
    kappa_L = gamma c sqrt(2 n k / L) + gamma_{nk+n+4} relative, and the gradient within
    xmax gamma (2 n k gamma c + b sqrt(2 n k L)), b = 2 rho + 2 c + 6 u + 2 gamma_{k+4} +
    2 gamma_{n+2} (the terms of ref_bounds summed with sum_r S_r = 1). Gradient descent with
    ||I - eta Hess L|| <= 1 carries the injected gradient errors: ||dW_t|| <= eta sum_{s<t} ||dg_s||,
    and dL_t <= ||g_t|| ||dW_t|| + kappa_L L_t; both runs err, hence the factor 2. n is the
    evaluation's sample count (the minibatch when there is one)."""
    import h5py
    with h5py.File(path, "r") as f:
        a = dict(f.attrs)
        L, g, drift = f["train/loss"][...], f["train/grad_norm"][...], f["train/max_drift"][...]
    n = int(a["minibatch"]) if int(a.get("minibatch", 0)) > 0 else int(a["n"])
    k, m, d, gam, eta = int(a["k"]), int(a["m"]), int(a["d"]), float(a["gamma"]), float(a["eta"])
    w0 = weight_norm_bound(float(a["sigma"]), d, m)
    out, dW = [], 0.0
    for t in range(len(L)):
        zmax = xmax * (w0 + float(drift[t]))
        rho = softmax_rho(m, d, ranks, zmax)
        c = rho + gamma(m + ranks + 4)
        kL = gam * c * math.sqrt(2 * n * k / L[t]) + gamma(n * k + n + 4)
        out.append(2 * (kL + g[t] * dW / L[t]))
        b = 2 * rho + 2 * c + 6 * U + 2 * gamma(k + 4) + 2 * gamma(n + 2)
        dW += eta * xmax * gam * (2 * n * k * gam * c + b * math.sqrt(2 * n * k * L[t]))
    return out
