#!/usr/bin/python3
"""The exact constant of the kernel-limit fluctuation, E||H(0) - H*||_F^2 = C / m (imported, and a
small command line).

The derivation is experiments/kernel-limit/CONSTANT.md; the formulas here are those. With
K = X X^T, alpha_i = sigma^2 K_ii, kappa_ij = sigma^2 K_ij, the per-neuron variance v_ij of the
scale-free term of H_ij / K_ij is
  exp:     v = e^{s} (e^{s} - 1),                  s = sigma^2 ||x_i + x_j||^2
  relu:    v = p (1 - p),                          p = (pi - theta_ij) / (2 pi)
  softmax: v = e^{2 kappa} [e^{alpha_i + alpha_j + 2 kappa} + e^{alpha_i} + e^{alpha_j} + 2 e^{kappa}
                            - 1 - 2 e^{alpha_i + kappa} - 2 e^{alpha_j + kappa}]   (delta method)
and C = sum_ij K_ij^2 v_ij for one output (k = 1) and independent neurons; coupled pairs double it.
For k outputs the cross-output blocks add k (k - 1) sum_ij K_ij^2 mu_ij with the second moments
mu = e^{2 s} (exp), p (relu), e^{alpha_i + alpha_j + 4 kappa} (softmax). Everything is evaluated in
logs (log C is finite where C overflows), with expm1 where the exponents are small.

Also here: a direct numpy simulation of the finite-width H(0) (the Monte-Carlo reference of the
formula), the order-1/m bias of softmax's H(0), and the ratio ||H(0) - H*||_F / sqrt(C/m) of
`softntk ntk` runs (ntk.h5 files that store /data/X).

usage: analysis/ntk_fluctuation.py FILE.h5 [--activation=A] [--sigma=S] [--init=I] [--k=K]
  prints C for the inputs /data/X of FILE.h5 (an ntk.h5 or results.h5; or X of a data file),
  by default for every activation and the file's own sigma, init and k when it records them."""
import os
import sys

import numpy as np
from scipy.special import logsumexp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sntk_results import limit_kernel, unit_angles  # noqa: E402

ACTIVATIONS = ("softmax", "exp", "relu")
INITS = ("random", "coupled")


def _check(activation, init, k):
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation {activation!r} is not one of {', '.join(ACTIVATIONS)}")
    if init not in INITS:
        raise ValueError(f"init {init!r} is not one of {', '.join(INITS)}")
    if int(k) < 1:
        raise ValueError(f"k = {k} must be >= 1")


def _signed_log_sum(expos, coefs, small):
    """log of sum_t coefs[t] exp(expos[t]) (elementwise over the arrays of expos), which is known to be
    >= 0. Where every exponent is small (`small` true) the sum is taken as sum_t c_t expm1(e_t) (the
    coefficients sum to 0 there, and expm1 keeps the digits the cancellation would lose); elsewhere
    scaled by the largest exponent. Returns -inf where the sum is 0 (or rounds to <= 0)."""
    expos = [np.asarray(e, float) for e in expos]
    top = np.maximum.reduce(expos)
    scaled = sum(c * np.exp(e - top) for c, e in zip(coefs, expos))
    with np.errstate(over="ignore", invalid="ignore"):  # used only where every exponent <= 1
        tiny = sum(c * np.expm1(np.minimum(e, 1.0)) for c, e in zip(coefs, expos))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(small, np.log(np.where(tiny > 0, tiny, 1.0)),
                       top + np.log(np.where(scaled > 0, scaled, 1.0)))
    return np.where(np.where(small, tiny, scaled) > 0, out, -np.inf)


def _log_expm1(t):
    """log(e^t - 1) for t >= 0 without overflow (-inf at t = 0)."""
    t = np.asarray(t, float)
    with np.errstate(divide="ignore"):
        return np.where(t > 30, t + np.log1p(-np.exp(-np.minimum(t, 700))),
                        np.log(np.expm1(np.minimum(t, 30))))


def log_moments(X, activation, sigma):
    """Per-entry logs (log_v, log_mu) of the one-neuron variance v_ij of H_ij / K_ij (the diagonal
    blocks) and of the second moment mu_ij of the cross-output blocks (module docstring), n x n.
    For softmax v is the delta method's (the variance of the linearised ratio)."""
    X = np.asarray(X, float)
    K = X @ X.T
    nrm = np.diag(K).copy()
    s2 = float(sigma) ** 2
    if activation == "relu":
        p = 0.5 - unit_angles(X) / (2 * np.pi)
        with np.errstate(divide="ignore"):
            return np.log(p * (1 - p)), np.log(p)
    if activation == "exp":
        s = s2 * np.maximum(nrm[:, None] + nrm[None, :] + 2 * K, 0.0)
        return s + _log_expm1(s), 2 * s
    kap = s2 * K
    a, b = np.broadcast_to(s2 * nrm[:, None], K.shape), np.broadcast_to(s2 * nrm[None, :], K.shape)
    expos = [a + b + 2 * kap, a, b, kap, a + kap, b + kap]
    coefs = [1.0, 1.0, 1.0, 2.0, -2.0, -2.0]
    # the bracket's constant -1 is the term -1 e^0 (its expm1 is 0: the coefficients sum to 0)
    small = np.maximum.reduce([np.abs(e) for e in expos]) <= 1.0
    log_br = _signed_log_sum(expos + [np.zeros_like(a)], coefs + [-1.0], small)
    return 2 * kap + log_br, a + b + 4 * kap


def log_constant(X, activation, sigma, init="random", k=1):
    """log C (natural log), C = lim m E||H(0) - H*||_F^2 (exact at every m for exp and relu), for the
    normalised NTK of DESIGN.md section 2 with k outputs (the nk x nk matrix, Frobenius norm over all
    entries). Pure numpy, O(n^2 d)."""
    _check(activation, init, k)
    X = np.asarray(X, float)
    K = X @ X.T
    log_v, log_mu = log_moments(X, activation, sigma)
    with np.errstate(divide="ignore"):
        lk2 = 2 * np.log(np.abs(K))
    terms = [np.log(k) + logsumexp(lk2 + log_v)]
    if k > 1:
        terms.append(np.log(k * (k - 1.0)) + logsumexp(lk2 + log_mu))
    out = float(logsumexp(terms))
    return out + (np.log(2.0) if init == "coupled" else 0.0)


def constant(X, activation, sigma, init="random", k=1):
    """C with E||H(0) - H*||_F^2 = C / m (+ O(1/m^2) for softmax); coupled pairs included (2x).
    inf when C overflows a double (use log_constant)."""
    with np.errstate(over="ignore"):
        return float(np.exp(log_constant(X, activation, sigma, init, k)))


def softmax_bias(X, sigma, init="random"):
    """B (n x n, k = 1 block) with E H(0) - H* = B / m + O(1/m^2) for softmax (second-order delta
    method of P / (Z_i Z_j) plus the mean of the sign terms F_i F_j P - (F_i + F_j) Q, which vanish
    for coupled pairs; CONSTANT.md). The exp and relu H(0) are unbiased (B = 0)."""
    X = np.asarray(X, float)
    K = X @ X.T
    nrm = np.diag(K)
    s2 = float(sigma) ** 2
    a, b, kap = s2 * nrm[:, None], s2 * nrm[None, :], s2 * K
    g = np.exp(kap)
    ratio = g * (np.expm1(a) + np.expm1(b) + np.expm1(kap) - np.expm1(a + kap) - np.expm1(b + kap))
    if init == "coupled":
        return K * 2 * ratio
    return K * (ratio + np.exp(2 * kap) - np.exp(a + 2 * kap) - np.exp(b + 2 * kap))


# ---- softmax to second order: E||H(0) - H*||_F^2 = C / m + C2 / m^2 + O(1/m^3) -----------------------
# H_ij / K_ij = f(Y) of the neuron means Y = (Z_i, Z_j, P, N_i, N_j, Q) (each normalised by
# zeta_i = E e^{w.x_i}): f = [P (1 + F_i F_j) - (F_i + F_j) Q] / (Z_i Z_j), F = N / Z. Its Taylor
# polynomial to third order at the mean is carried as a jet (c0, c1, c2, c3) per entry, the moments of
# one neuron's Y are log-normal in closed form, and the classical expansion of the mean square of a
# smooth function of a sample mean gives the 1/m and 1/m^2 coefficients (CONSTANT.md).

_VARS = ((1, 0, 0), (0, 1, 0), (1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1))  # (c_i, c_j, sign) per Y


def _jet_mul(f, g):
    """Product of two truncated Taylor polynomials (third order); tensors need not be symmetric."""
    return (f[0] * g[0],
            f[0][:, None] * g[1] + g[0][:, None] * f[1],
            f[0][:, None, None] * g[2] + g[0][:, None, None] * f[2]
            + np.einsum("ea,eb->eab", f[1], g[1]),
            f[0][:, None, None, None] * g[3] + g[0][:, None, None, None] * f[3]
            + np.einsum("ea,ebc->eabc", f[1], g[2]) + np.einsum("eab,ec->eabc", f[2], g[1]))


def _jet_add(f, g, sg=1.0):
    return tuple(a + sg * b for a, b in zip(f, g))


def _jet_recip(f):
    """1 / f = (1 / f0) sum_k (-r / f0)^k, r = f - f0, to third order."""
    def per(c, x):  # x (one number per entry) broadcast against the tensor c
        return x.reshape((-1,) + (1,) * (c.ndim - 1))

    r = (np.zeros_like(f[0]),) + tuple(-c / per(c, f[0]) for c in f[1:])
    out = power = (np.ones_like(f[0]),) + tuple(np.zeros_like(c) for c in f[1:])
    for _ in range(3):
        power = _jet_mul(power, r)
        out = _jet_add(out, power)
    return tuple(c / per(c, f[0]) for c in out)


def _raw_moment(K, s2, i_idx, j_idx, combo):
    """E of the product of the normalised Y variables `combo` (indices into _VARS) for one neuron, per
    entry (i, j): zero for an odd number of signs, else exp(sigma^2/2 [c_i (c_i - 1) K_ii +
    c_j (c_j - 1) K_jj + 2 c_i c_j K_ij])."""
    ci = sum(_VARS[v][0] for v in combo)
    cj = sum(_VARS[v][1] for v in combo)
    if sum(_VARS[v][2] for v in combo) % 2:
        return np.zeros(len(i_idx))
    kii, kjj, kij = K[i_idx, i_idx], K[j_idx, j_idx], K[i_idx, j_idx]
    return np.exp(0.5 * s2 * (ci * (ci - 1) * kii + cj * (cj - 1) * kjj + 2 * ci * cj * kij))


def softmax_expansion(X, sigma, init="random"):
    """Softmax, k = 1: {'v': per-entry 1/m coefficient of E(H_ij - H*_ij)^2 / K_ij^2, 'w': its 1/m^2
    coefficient, 'bias': B with E H(0) - H* = B / m + O(1/m^2), 'C': sum K^2 v, 'C2': sum K^2 w}
    (coupled pairs: the neuron means are means over m / 2 pairs without the sign variables, which
    scales v by 2 and w by 4). The terms of w: 2 c1 c2 kappa3 (the skewness of one neuron),
    c2 c2 (three pairings of Sigma; (tr c2 Sigma)^2 is the squared bias) and 2 c1 c3 (three
    pairings), with c_k the Taylor coefficients of f and Sigma, kappa3 the covariance and third
    central moments of one neuron's Y. O(n^2) memory of 6^3 per entry; n up to a few hundred."""
    _check("softmax", init, 1)
    X = np.asarray(X, float)
    n = len(X)
    K = X @ X.T
    s2 = float(sigma) ** 2
    ii, jj = [a.ravel() for a in np.meshgrid(np.arange(n), np.arange(n), indexing="ij")]
    V = 3 if init == "coupled" else 6  # coupled pairs: N and Q are exactly 0
    mu = np.stack([_raw_moment(K, s2, ii, jj, (v,)) for v in range(V)], axis=1)
    m2 = np.empty((len(ii), V, V))
    m3 = np.empty((len(ii), V, V, V))
    for a in range(V):
        for b in range(a, V):
            m2[:, a, b] = m2[:, b, a] = _raw_moment(K, s2, ii, jj, (a, b))
            for c in range(b, V):
                val = _raw_moment(K, s2, ii, jj, (a, b, c))
                for p in {(a, b, c), (a, c, b), (b, a, c), (b, c, a), (c, a, b), (c, b, a)}:
                    m3[(slice(None),) + p] = val
    Sig = m2 - np.einsum("ea,eb->eab", mu, mu)
    k3 = (m3 - np.einsum("ea,ebc->eabc", mu, m2) - np.einsum("eb,eac->eabc", mu, m2)
          - np.einsum("ec,eab->eabc", mu, m2) + 2 * np.einsum("ea,eb,ec->eabc", mu, mu, mu))
    E = len(ii)

    def var(a):
        c1 = np.zeros((E, V))
        c1[:, a] = 1.0
        return (mu[:, a].copy(), c1, np.zeros((E, V, V)), np.zeros((E, V, V, V)))

    rzi, rzj = _jet_recip(var(0)), _jet_recip(var(1))
    f = _jet_mul(var(2), _jet_mul(rzi, rzj))
    if init == "random":
        Fi, Fj = _jet_mul(var(3), rzi), _jet_mul(var(4), rzj)
        num = _jet_add(_jet_mul(var(2), _jet_mul(Fi, Fj)), _jet_mul(_jet_add(Fi, Fj), var(5)), -1.0)
        f = _jet_add(f, _jet_mul(num, _jet_mul(rzi, rzj)))
    _, c1, c2, c3 = f
    v = np.einsum("ea,eab,eb->e", c1, Sig, c1)
    pair2 = (np.einsum("eab,ecd,eab,ecd->e", c2, c2, Sig, Sig)
             + np.einsum("eab,ecd,eac,ebd->e", c2, c2, Sig, Sig)
             + np.einsum("eab,ecd,ead,ebc->e", c2, c2, Sig, Sig))
    pair3 = (np.einsum("ea,ebcd,eab,ecd->e", c1, c3, Sig, Sig)
             + np.einsum("ea,ebcd,eac,ebd->e", c1, c3, Sig, Sig)
             + np.einsum("ea,ebcd,ead,ebc->e", c1, c3, Sig, Sig))
    w = 2 * np.einsum("ea,ebc,eabc->e", c1, c2, k3) + pair2 + 2 * pair3
    bias = np.einsum("eab,eab->e", c2, Sig)
    scale = 2.0 if init == "coupled" else 1.0
    v, w, bias = (scale * v).reshape(n, n), (scale ** 2 * w).reshape(n, n), \
        (scale * bias).reshape(n, n)
    return {"v": v, "w": w, "bias": K * bias, "C": float(np.sum(K ** 2 * v)),
            "C2": float(np.sum(K ** 2 * w))}


# ---- the log-normal tail ----------------------------------------------------------------------------

def tail_share(X, activation, sigma, draws):
    """The share of C carried by neurons whose projection w.u / sigma exceeds z, the level a standard
    normal passes about once in `draws` draws (z = Phi^-1(1 - 1/draws)), u the direction of
    x_i + x_j (the direction along which exp(w.(x_i + x_j)), the heavy part of every entry's term,
    grows). A diagnostic of the log-normal tail: an RMS over S seeds of width m has seen about
    draws = S m neurons, so it typically shows sqrt(1 - tail_share(S m)) of sqrt(C/m) until the
    share is small. Exact truncated moments of (T - E T)^2 for the one-neuron term T of each entry
    (exp: e^{w.(x_i+x_j)}; softmax: the linearised (b_i - g)(b_j - g)) by exponential tilting,
    E[e^{w.v}; w.u > sigma z] = e^{sigma^2 |v|^2 / 2} Phi(sigma v.u - z). ReLU has no tail: 0.
    Floats (no logs): for sigma^2 |x|^2 up to about 40."""
    from scipy.stats import norm
    if activation == "relu":
        return 0.0
    X = np.asarray(X, float)
    K = X @ X.T
    nrm = np.diag(K)
    s2 = float(sigma) ** 2
    z = norm.isf(1.0 / draws)
    su = np.sqrt(np.maximum(nrm[:, None] + nrm[None, :] + 2 * K, 0.0))  # |x_i + x_j|
    safe = np.where(su > 0, su, 1.0)
    # projections of x_i and x_j on u = (x_i + x_j) / |x_i + x_j|
    pi_ = (nrm[:, None] + K) / safe
    pj_ = (nrm[None, :] + K) / safe
    if activation == "exp":
        mu = np.exp(0.5 * s2 * su ** 2)
        # (T - mu)^2 = T^2 - 2 mu T + mu^2, T = e^{w.(x_i + x_j)}
        terms = [(1.0, 2, 2), (-2 * mu, 1, 1), (mu ** 2, 0, 0)]
        norm_ = (0.0, 0.0)
    else:
        g = np.exp(s2 * K)
        # T - E T = b_i b_j - g b_i - g b_j + g, b = e^{w.x} / zeta; square it monomial by monomial
        lin = [(1.0, 1, 1), (-g, 1, 0), (-g, 0, 1), (g, 0, 0)]
        terms = [(c1 * c2, p1 + p2, q1 + q2) for c1, p1, q1 in lin for c2, p2, q2 in lin]
        norm_ = (0.5 * s2 * nrm[:, None], 0.5 * s2 * nrm[None, :])
    tail = np.zeros_like(K)
    for c, p, q in terms:
        v2 = p * p * nrm[:, None] + q * q * nrm[None, :] + 2 * p * q * K  # |p x_i + q x_j|^2
        logm = 0.5 * s2 * v2 - p * norm_[0] - q * norm_[1]
        tail = tail + c * np.exp(logm) * norm.sf(z - sigma * (p * pi_ + q * pj_))
    tail = np.where(su > 0, np.maximum(tail, 0.0), 0.0)
    return float(np.sum(K ** 2 * tail) / constant(X, activation, sigma))


# ---- direct simulation of the finite-width H(0) (the Monte-Carlo reference) -------------------------

def simulate_H(X, activation, sigma, m, init, rng, draws=1, k=1):
    """`draws` independent normalised NTKs H(0) (draws x nk x nk, rows (i, l) -> i k + l) of width m,
    straight from the definitions (DESIGN.md section 2): w_r ~ N(0, sigma^2 I), signs a_{l,r} = +-1,
    coupled pairs (2j, 2j + 1) with equal w and opposite a. Memory O(draws n k m)."""
    _check(activation, init, k)
    X = np.asarray(X, float)
    n, d = X.shape
    if init == "coupled" and m % 2:
        raise ValueError("coupled pairs need an even width")
    mi = m // 2 if init == "coupled" else m
    W = sigma * rng.standard_normal((draws, mi, d))
    A = rng.choice([-1.0, 1.0], size=(draws, k, mi))
    if init == "coupled":
        W = np.repeat(W, 2, axis=1)
        A = np.repeat(A, 2, axis=2) * np.tile([1.0, -1.0], mi)
    Z = np.einsum("nd,bmd->bnm", X, W)
    if activation == "softmax":
        S = np.exp(Z - Z.max(axis=2, keepdims=True))
        S /= S.sum(axis=2, keepdims=True)
        F = np.einsum("bnm,blm->bnl", S, A)
        U = S[:, :, None, :] * (A[:, None, :, :] - F[:, :, :, None])
        nu = m
    else:
        phi = np.exp(Z) if activation == "exp" else (Z > 0).astype(float)
        U = phi[:, :, None, :] * A[:, None, :, :]
        nu = 1.0 / m
    U = U.reshape(draws, n * k, m)
    KX = np.kron(X @ X.T, np.ones((k, k)))
    return nu * KX[None] * np.einsum("bim,bjm->bij", U, U)


def monte_carlo(X, activation, sigma, m, init, draws, seed, k=1, batch=None):
    """Direct Monte Carlo: {'scaled': m ||H(0) - H*||_F^2 per draw (its mean estimates C, or 2C for
    coupled pairs), 'mean_diff': the mean of H(0) - H* over the draws (nk x nk)}. Deterministic
    given seed; draws are simulated in batches of about 4e6 / (n k m) to bound memory."""
    X = np.asarray(X, float)
    n = len(X)
    Hs = np.kron(limit_kernel(X, activation, sigma), np.eye(k))
    rng = np.random.default_rng(seed)
    batch = batch or max(1, int(4e6 // (n * k * m)))
    scaled, total, done = [], np.zeros_like(Hs), 0
    while done < draws:
        b = min(batch, draws - done)
        D = simulate_H(X, activation, sigma, m, init, rng, b, k) - Hs[None]
        scaled.append(m * np.einsum("bij,bij->b", D, D))
        total += D.sum(axis=0)
        done += b
    return {"scaled": np.concatenate(scaled), "mean_diff": total / draws}


# ---- softntk runs: ||H(0) - H*||_F / sqrt(C/m) ---------------------------------------------------------

def run_ratios(paths):
    """Every ntk.h5 below paths (files, or directories standing for */ntk.h5): a list of dicts with
    activation, sigma, init, k, m, n, d, seed, fro (= /ntk/diff_limit_fro at step 0), C (for that
    run's /data/X, activation, sigma, init and k; coupled included) and ratio = fro / sqrt(C / m).
    C is computed once per distinct (X, activation, sigma, init, k)."""
    import h5py

    from sntk_results import AnalysisError, attrs_of, config_value, find_files, need
    cache, out = {}, []
    for path in find_files(paths, "ntk.h5"):
        with h5py.File(path, "r") as f:
            need(f, "ntk/diff_limit_fro", "data/X")
            a = attrs_of(f)
            X = f["data/X"][...]
            fro = float(f["ntk/diff_limit_fro"][0])
        init = config_value(a, "model", "init") or "random"
        if a.get("activation") not in ACTIVATIONS:
            raise AnalysisError(f"{path}: activation {a.get('activation')!r} unknown")
        key = (X.tobytes(), a["activation"], float(a["sigma"]), init, int(a["k"]))
        if key not in cache:
            cache[key] = constant(X, a["activation"], float(a["sigma"]), init, int(a["k"]))
        C, m = cache[key], int(a["m"])
        out.append({"path": path, "activation": a["activation"], "sigma": float(a["sigma"]),
                    "init": init, "k": int(a["k"]), "m": m, "n": int(a["n"]), "d": int(a["d"]),
                    "seed": int(a["seed"]), "fro": fro, "C": C, "ratio": fro / np.sqrt(C / m)})
    return out


def ratio_summary(runs, reps=4000, seed=1, level=0.95):
    """Per (activation, sigma, init, m) of run_ratios' runs: the RMS over seeds of the ratio with
    its seed-bootstrap intervals (analysis/sntk_stats.py): 't' (bootstrap-t of the mean square,
    the one the check uses), 'bca' and 'percentile'; the median and largest single ratio, and the
    per-seed ratios ('ratios', in seed order). Rows sorted by the key."""
    from collections import defaultdict

    from sntk_stats import bootstrap, rms, rms_interval
    groups = defaultdict(list)
    for r in runs:
        groups[(r["activation"], r["sigma"], r["init"], r["m"])].append(r)
    rows = []
    for key in sorted(groups):
        rs = sorted(groups[key], key=lambda r: r["seed"])
        ratios = np.array([r["ratio"] for r in rs])
        b = bootstrap(ratios, rms, reps=reps, seed=seed, level=level, method="both",
                      vectorized=True)
        ti = rms_interval(ratios, reps=reps, seed=seed, level=level)
        rows.append({"activation": key[0], "sigma": key[1], "init": key[2], "m": key[3],
                     "seeds": len(rs), "C": rs[0]["C"], "rms_ratio": b["estimate"],
                     "t": [ti["low"], ti["high"]], "bca": b["bca"], "percentile": b["percentile"],
                     "level": level, "median_ratio": float(np.median(ratios)),
                     "max_ratio": float(ratios.max()), "ratios": ratios.tolist(),
                     "seed_list": [r["seed"] for r in rs]})
    return rows


def ratio_checks(rows, min_seeds=32, widest_only=True, max_sigma=1.0, family=0.95, reps=4000):
    """The kernel-limit check on ratio_summary rows: at the widest m of every (activation, sigma,
    init) series with sigma <= max_sigma, at least min_seeds seeds and a bootstrap-t interval of
    the RMS ratio that contains 1 and excludes both 1/sqrt 2 and sqrt 2 (so the check can tell a
    factor 2 in C / m). The level of each interval is Bonferroni's 1 - (1 - family) / (number of
    series checked), so that all of them hold together with probability >= family when the
    constant is right. Returns (lines, failures) like analysis/check_expect.py."""
    from collections import defaultdict

    from sntk_stats import rms_interval
    widest = defaultdict(int)
    for r in rows:
        key = (r["activation"], r["sigma"], r["init"])
        widest[key] = max(widest[key], r["m"])
    chosen = [r for r in rows if r["sigma"] <= max_sigma and
              (not widest_only or r["m"] == widest[(r["activation"], r["sigma"], r["init"])])]
    if not chosen:
        return ["FAIL no series to check"], 1
    level = 1 - (1 - family) / len(chosen)
    lines, failures = [], 0
    for r in chosen:
        ti = rms_interval(r["ratios"], reps=reps, seed=1, level=level)
        lo, hi = ti["low"], ti["high"]
        ok = r["seeds"] >= min_seeds and lo <= 1 <= hi and lo > 2 ** -0.5 and hi < 2 ** 0.5
        failures += not ok
        lines.append(f"{'ok  ' if ok else 'FAIL'} {r['activation']}, sigma = {r['sigma']:g}, "
                     f"{r['init']}, m = {r['m']}: RMS ||H - H*||_F / sqrt(C/m) = "
                     f"{r['rms_ratio']:.3f}, {100 * level:.4g} % interval [{lo:.3f}, {hi:.3f}] over "
                     f"{r['seeds']} seeds (needs >= {min_seeds}, 1 inside, 1/sqrt 2 and sqrt 2 "
                     f"outside)")
    return lines, failures


def _main(argv):
    import h5py

    from sntk_results import attrs_of, config_value
    args = [x for x in argv[1:] if not x.startswith("--")]
    opts = dict(x[2:].split("=", 1) for x in argv[1:] if x.startswith("--") and "=" in x)
    if len(args) != 1 or set(opts) - {"activation", "sigma", "init", "k"}:
        print(__doc__.split("usage:", 1)[1].strip(), file=sys.stderr)
        return 2
    with h5py.File(args[0], "r") as f:
        X = f["data/X"][...] if "data/X" in f else f["X"][...]
        a = attrs_of(f)
    sigma = float(opts.get("sigma", a.get("sigma", 1.0)))
    init = opts.get("init", config_value(a, "model", "init") or "random")
    k = int(opts.get("k", a.get("k", 1)))
    acts = [opts["activation"]] if "activation" in opts else list(ACTIVATIONS)
    print(f"X: n = {X.shape[0]}, d = {X.shape[1]}; sigma = {sigma:g}, init = {init}, k = {k}")
    for act in acts:
        lc = log_constant(X, act, sigma, init, k)
        hs = np.linalg.norm(limit_kernel(X, act, sigma)) * np.sqrt(k)
        print(f"{act:8s} C = {np.exp(lc):.6g} (log C = {lc:.6f}); sqrt(C) / ||H*||_F = "
              f"{np.exp(lc / 2) / hs:.4g} (the relative error at m = 1 scale)")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
