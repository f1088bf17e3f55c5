"""The analysis toolkit itself (pure Python, no softntk run; seconds):
- analysis/sntk_stats.py: seed-bootstrap intervals cover the truth at their nominal rate on synthetic
  problems (an RMS over seeds, a log-log slope across widths), BCa agrees with scipy's, resampling is
  deterministic given its seed; Kaplan-Meier and Turnbull reproduce a textbook survival table, the
  censored (Tobit-type) log-log fit recovers a planted slope where dropping the censored points does
  not; the planted-error harness copies and changes HDF5 outputs, and the kernel-limit constant check
  passes the unchanged synthetic runs and fails every planted error;
- analysis/ntk_fluctuation.py: the constant C of E||H(0) - H*||_F^2 = C / m (coupled pairs 2C / m)
  against a direct Monte-Carlo simulation of the finite-width H(0) for exp, relu and softmax (the
  latter with its 1/m^2 term and its 1/m bias), and the closed-form softmax variance against the
  third-order jet expansion.
Tolerances are statistical: a Monte-Carlo mean is compared within 4 of its standard errors (two-sided
normal tail 6e-5 per check; the seeds are fixed, so a run is deterministic), a coverage against the
binomial range of its repetitions; exact identities within a stated multiple of eps."""
import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import SOURCE, Suite  # noqa: E402

sys.path.insert(0, os.path.join(SOURCE, "analysis"))
import ntk_fluctuation as nf  # noqa: E402
import sntk_stats as st  # noqa: E402
from sntk_results import loglog_fit  # noqa: E402

t = Suite("analysis")
Z = 4.0  # Monte-Carlo comparisons: within 4 standard errors (two-sided normal tail 6e-5)


def sphere(n, d, seed):
    """n points on the unit sphere in d dimensions with a constant last coordinate (the generator's
    layout: sqrt(1/2) times a random unit vector of d - 1 coordinates, then sqrt(1/2))."""
    r = np.random.default_rng(seed)
    X = r.standard_normal((n, d - 1))
    X /= np.linalg.norm(X, axis=1)[:, None]
    return np.hstack([np.sqrt(0.5) * X, np.full((n, 1), np.sqrt(0.5))])


# ---- bootstrap coverage ------------------------------------------------------------------------------
# truth: RMS of sqrt(chi2_4 / 4) is 1 (the shape of a ratio ||H - H*|| / sqrt(C/m))
rng = np.random.default_rng(7)
REP, S = 400, 32
lo_ok, hi_ok = 0.90, 0.99  # the range for nominal 95 %
cover = {"percentile": 0, "bca": 0, "bootstrap-t": 0}
for i in range(REP):
    x = np.sqrt(rng.chisquare(4, S) / 4)
    b = st.bootstrap(x, st.rms, reps=1000, seed=i, method="both", vectorized=True)
    cover["percentile"] += st.contains(b["percentile"], 1.0)
    cover["bca"] += st.contains(b["bca"], 1.0)
    cover["bootstrap-t"] += st.contains(st.rms_interval(x, reps=1000, seed=i), 1.0)
for name, c in cover.items():
    ci = st.binomial_interval(c, REP)
    t.check(lo_ok <= c / REP <= hi_ok,
            f"bootstrap {name} 95 % interval of an RMS over {S} seeds covers the truth in {c}/{REP} "
            f"= {c / REP:.3f} of repetitions (95 % Clopper-Pearson [{ci[0]:.3f}, {ci[1]:.3f}]; "
            f"required in [{lo_ok}, {hi_ok}])")

# the shape of the bootstrap-t interval: for the mean of 32 exponential draws the exact interval
# 2n xbar / chi2_2n is skewed, (high - xbar) / (xbar - low) = 1.69; bootstrap-t, second-order
# accurate, reproduces the skew (median over 50 samples within [1.2, 2.4]; a mirrored interval,
# the classic orientation error, gives < 1)
from scipy import stats as sst  # noqa: E402

exact = (64 / sst.chi2.ppf(0.025, 64) - 1) / (1 - 64 / sst.chi2.ppf(0.975, 64))
for log in (False, True):
    sk = []
    for i in range(50):
        x = rng.exponential(1.0, 32)
        b = st.mean_t_interval(x, reps=1000, seed=i, log=log)
        sk.append((b["high"] - b["estimate"]) / (b["estimate"] - b["low"]))
    t.check(1.2 <= np.median(sk) <= 2.4,
            f"bootstrap-t (log = {log}) interval of an exponential mean: median skew "
            f"{np.median(sk):.2f} (exact {exact:.2f}; required in [1.2, 2.4])")

# log-log slope across widths: per seed y = m^{-1/2} sqrt(chi2_4 / 4); truth -1/2 (the offset of
# log RMS is the same at every width, so the fitted slope is unbiased)
widths = [256, 1024, 4096, 16384]
c_slope, REP2 = 0, 200
for i in range(REP2):
    by = {m: m ** -0.5 * np.sqrt(rng.chisquare(4, 16) / 4) for m in widths}
    b = st.slope_interval(by, reps=400, seed=i, method="percentile")
    c_slope += st.contains(b, -0.5)
ci = st.binomial_interval(c_slope, REP2)
# 200 repetitions: a true coverage of 0.95 gives >= 0.88 with probability 0.9999 (binomial)
t.check(0.88 <= c_slope / REP2 <= 0.995,
        f"slope interval (seeds resampled within each of 4 widths, 16 seeds) covers -1/2 in "
        f"{c_slope}/{REP2} = {c_slope / REP2:.3f} (95 % CP [{ci[0]:.3f}, {ci[1]:.3f}]; required "
        f"in [0.88, 0.995])")

# BCa against scipy's implementation on one skewed sample: both are Monte-Carlo approximations of
# the same interval; at 20000 replicates each endpoint's Monte-Carlo error is ~0.5 % of the width

x = rng.lognormal(0, 1, 40)
ours = st.bootstrap(x, np.mean, reps=20000, seed=3, method="bca", vectorized=True)
ref = sst.bootstrap((x,), np.mean, n_resamples=20000, method="BCa",
                    random_state=np.random.default_rng(4)).confidence_interval
w = ref.high - ref.low
err = max(abs(ours["low"] - ref.low), abs(ours["high"] - ref.high)) / w
t.check(err < 0.05, f"BCa interval of a lognormal mean [{ours['low']:.4f}, {ours['high']:.4f}] vs "
                    f"scipy [{ref.low:.4f}, {ref.high:.4f}]: {err:.3f} of the width (< 0.05, ~7 "
                    f"Monte-Carlo standard errors)")
a1 = st.bootstrap(x, np.mean, reps=500, seed=11)
a2 = st.bootstrap(x, np.mean, reps=500, seed=11)
a3 = st.bootstrap(x, np.mean, reps=500, seed=12)
t.check(a1 == a2 and a1["low"] != a3["low"],
        "bootstrap deterministic given its seed, different for another seed")
g = st.ratio_interval(2 * x, x, reduce=st.rms, reps=300, seed=1, paired=True)
t.check(abs(g["estimate"] - 2) < 1e-12 and abs(g["low"] - 2) < 1e-12 and abs(g["high"] - 2) < 1e-12,
        f"paired ratio of RMS(2x) / RMS(x) is exactly 2 in every replicate: [{g['low']}, "
        f"{g['high']}]")

# ---- censored data: textbook answers -----------------------------------------------------------------
# Gehan's 6-MP remission times (weeks; + = censored) and their Kaplan-Meier table as printed in
# survival-analysis texts (3 decimals): S(6) .857, S(7) .807, S(10) .753, S(13) .690, S(16) .627,
# S(22) .538, S(23) .448; median 23
times = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
seen = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
gehan = st.Censored.observed(times, seen)
km = st.kaplan_meier(gehan)
table = {6: .857, 7: .807, 10: .753, 13: .690, 16: .627, 22: .538, 23: .448}
got = dict(zip(km["time"].tolist(), km["survival"].tolist()))
dev = max(abs(got[k] - v) for k, v in table.items())
t.check(set(got) == set(table) and dev <= 5e-4,
        f"Kaplan-Meier on Gehan's 6-MP data: the textbook table to its 3 decimals (max dev {dev:.1e})")
med = st.censored_quantile(gehan, 0.5)
t.check(med == {"low": 23.0, "high": 23.0}, f"Kaplan-Meier median {med} (textbook: 23)")
tb = st.turnbull(gehan)
surv_tb = {float(c): 1 - float(np.sum(tb["mass"][: j + 1]))
           for j, c in enumerate(tb["left"]) if tb["point"][j]}
dev = max(abs(surv_tb[k] - got[k]) for k in got)
# the EM stops when no mass moves by more than 1e-10; 1e-6 allows its slow final convergence
t.check(dev < 1e-6, f"Turnbull on exact + right-censored data equals Kaplan-Meier (max dev {dev:.1e})")
q = st.censored_quantile(st.Censored.observed([1, 2, 3, 4], [1, 1, 0, 0]), 0.75)
t.check(q["low"] == 4 and np.isinf(q["high"]),
        f"a quantile beyond the last event is reported as censored (at least 4): {q}")

# grid thresholds: 10 seeds, grid 1..5; first success at index [0,1,1,2,2,2,3,-1,-1,-1]
grid = [1.0, 2.0, 4.0, 8.0, 16.0]
gs = st.Censored.from_grid(grid, [0, 1, 1, 2, 2, 2, 3, -1, -1, -1])
tb = st.turnbull(gs)
exp_mass = {(0, 1): .1, (1, 2): .2, (2, 4): .3, (4, 8): .1, (16, np.inf): .3}
got_mass = {(float(a), float(b)): float(m) for a, b, m in zip(tb["left"], tb["right"], tb["mass"])}
t.check(gs.counts() == {"exact": 0, "right": 3, "left": 1, "interval": 6}
        and set(got_mass) == set(exp_mass)
        and max(abs(got_mass[k] - v) for k, v in exp_mass.items()) < 1e-8,
        f"grid thresholds: Turnbull masses are the empirical cell frequencies {got_mass}")
q = st.censored_quantile(gs, 0.5)
t.check(q == {"low": 2.0, "high": 4.0}, f"grid median in the cell (2, 4]: {q}")
q = st.censored_quantile(gs, 0.8)
t.check(q["low"] == 16 and np.isinf(q["high"]), f"grid 0.8-quantile censored above 16: {q}")

# Tobit-type fit: exact data give the least-squares slope; censored data recover the truth
xx = np.repeat([64.0, 128, 256, 512, 1024], 100)
yy = 3 * xx ** 1.5 * np.exp(0.3 * rng.standard_normal(len(xx)))
fit = st.censored_loglog_fit(xx, st.Censored(yy, yy))
ols = np.polyfit(np.log(xx), np.log(yy), 1)[0]
# the optimiser's gradient tolerance (1e-8 on a likelihood of 500 terms) bounds the difference
t.check(abs(fit["slope"] - ols) < 1e-6, f"exact data: ML slope {fit['slope']:.8f} = least squares "
                                        f"{ols:.8f}")
# a budget growing more slowly than y: 20 % censored at m = 64, 85 % at 1024 (a step budget)
budget = 3 * 64 ** 1.5 * (xx / 64) ** 1.3 * np.exp(0.25)
cs = st.Censored.observed(np.minimum(yy, budget), yy <= budget)
fit = st.censored_loglog_fit(xx, cs)
keep = yy <= budget
naive = loglog_fit(xx[keep], yy[keep])
t.check(abs(fit["slope"] - 1.5) < Z * fit["slope_stderr"] and
        abs(naive["slope"] - 1.5) > Z * naive["slope_stderr"],
        f"{cs.counts()['right']} of {len(cs)} right-censored: ML slope {fit['slope']:.3f} +- "
        f"{fit['slope_stderr']:.3f} covers 1.5 within {Z:g} SE; dropping them gives "
        f"{naive['slope']:.3f} +- {naive['slope_stderr']:.3f}, more than {Z:g} SE off")
# thresholds on a grid of powers of 2 (cells of ln 2 = 2.3 noise s.d.; interval-censored, above the
# grid right-censored): over 20 synthetic sets the standardised errors z = (slope - 1.5) / SE of the
# ML fit are all within 4 and their mean square within the chi2_20 / 20 99.9 % range [0.33, 2.26]
grid2 = 2.0 ** np.arange(6, 20)
zs = []
for i in range(20):
    ys = 3 * xx[::5] ** 1.5 * np.exp(0.3 * rng.standard_normal(100))
    first = [int(k) if k < len(grid2) else -1 for k in np.searchsorted(grid2, ys)]
    gsamp = st.Censored.from_grid(grid2, first)
    f = st.censored_loglog_fit(xx[::5], gsamp)
    zs.append((f["slope"] - 1.5) / f["slope_stderr"])
zs = np.array(zs)
t.check(np.max(np.abs(zs)) < Z and 0.33 <= np.mean(zs ** 2) <= 2.26,
        f"interval-censored on a grid of powers of 2: max |z| {np.max(np.abs(zs)):.2f} (< {Z:g}), "
        f"mean z^2 {np.mean(zs ** 2):.2f} (in [0.33, 2.26]): the ML slope and its SE are calibrated")
fit = st.censored_fit_interval(xx[::5], gsamp, reps=100, seed=2)
ratio = (fit["high"] - fit["low"]) / (2 * 1.96 * fit["slope_stderr"])
# both estimate the slope's sampling spread; 100 replicates put ~15 % noise on the 2.5/97.5 % ends
t.check(fit["low"] < fit["slope"] < fit["high"] and 0.5 <= ratio <= 2,
        f"censored slope bootstrap [{fit['low']:.3f}, {fit['high']:.3f}] around {fit['slope']:.3f}: "
        f"{ratio:.2f} times the width from the information matrix (in [0.5, 2])")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots()
ax.set_xscale("log")
ax.set_yscale("log")
st.plot_censored(ax, xx[::5], gsamp, label="grid")
st.plot_censored(ax, xx * 1.05, cs, marker="s", label="budget")
t.check(len(ax.texts) == cs.counts()["right"] + gsamp.counts()["right"] + gsamp.counts()["left"]
        and len(ax.collections) == 1,
        f"plot_censored: one arrow per one-sided point ({len(ax.texts)}), interval bars drawn")
plt.close(fig)

# ---- the constant C against a direct simulation --------------------------------------------------------
X = sphere(6, 4, 3)
for act, sig, init, m, draws in [("exp", 0.5, "random", 256, 1000), ("exp", 0.5, "coupled", 256, 1000),
                                 ("relu", 1.0, "random", 256, 1000),
                                 ("relu", 1.0, "coupled", 256, 1000),
                                 ("exp", 0.25, "random", 64, 2000)]:
    C = nf.constant(X, act, sig, init)
    s = nf.monte_carlo(X, act, sig, m, init, draws, seed=5)["scaled"]
    se = s.std(ddof=1) / np.sqrt(draws)
    t.check(abs(s.mean() - C) <= Z * se,
            f"{act} sigma {sig} {init} m {m}: m E||H - H*||^2 by {draws} draws {s.mean():.4g} +- "
            f"{se:.2g} vs C = {C:.4g} (exact at every m; within {Z:g} SE)")
# the per-entry variances in double precision against 50-digit evaluations of the same closed forms,
# on both sides of the expm1 / scaled-log switch (exponents <= 1): the softmax bracket is O(sigma^4)
# out of terms O(sigma^2) (sigma = 0.05: a factor 1/sigma^2 = 400 of cancellation, eight terms, a few
# eps each: < 1e-11 relative); exp: log(e^s (e^s - 1)) to a few eps
import mpmath  # noqa: E402

mpmath.mp.dps = 50
worst = 0.0
for sig in (0.05, 0.9, 1.1, 3.0, 20.0):
    lv_s, _ = nf.log_moments(X, "softmax", sig)
    lv_e, _ = nf.log_moments(X, "exp", sig)
    for i, j in ((0, 0), (0, 1), (2, 5), (4, 3)):
        xi, xj = [mpmath.mpf(float(v)) for v in X[i]], [mpmath.mpf(float(v)) for v in X[j]]
        s2 = mpmath.mpf(sig) ** 2
        a = s2 * mpmath.fsum(u * u for u in xi)
        b = s2 * mpmath.fsum(u * u for u in xj)
        k = s2 * mpmath.fsum(u * v for u, v in zip(xi, xj))
        br = (mpmath.exp(a + b + 2 * k) + mpmath.exp(a) + mpmath.exp(b) + 2 * mpmath.exp(k) - 1
              - 2 * mpmath.exp(a + k) - 2 * mpmath.exp(b + k))
        ref_s = 2 * k + mpmath.log(br)
        ss = a + b + 2 * k
        ref_e = ss + mpmath.log(mpmath.expm1(ss))
        # an absolute error of log v is the relative error of v
        worst = max(worst, abs(float(lv_s[i, j] - ref_s)), abs(float(lv_e[i, j] - ref_e)))
t.check(worst < 1e-11, f"variances (softmax, exp) vs 50-digit evaluations, sigma 0.05 .. 20: "
                       f"largest relative error {worst:.1e} (< 1e-11)")
# tail_share: at z = -inf (draws = 1) it is the whole of C (the monomial expansion of (T - E T)^2
# against the closed form; cancellation 1/sigma^4 = 256 at sigma 0.25 over 16 terms: < 1e-11); at a
# finite z against the share of sum K^2 (T - E T)^2 carried by sampled neurons with w.u / sigma > z
# (20 batches of 5000 neurons, within 4 standard errors of the batch means)
from scipy.stats import norm  # noqa: E402

d1 = max(abs(nf.tail_share(X, a, sg, 1.0) - 1) for a in ("exp", "softmax") for sg in (0.25, 1.5))
t.check(d1 < 1e-11, f"tail_share with z = -inf is 1 (largest deviation {d1:.1e}, < 1e-11)")
Kx = X @ X.T
nx = np.diag(Kx)
for act, sig in (("exp", 0.5), ("softmax", 0.5)):
    draws = 10.0
    z = norm.isf(1 / draws)
    shares = []
    for bt in range(20):
        W = sig * np.random.default_rng(100 + bt).standard_normal((5000, X.shape[1]))
        E = np.exp(X @ W.T)  # n x N
        S2 = X + X[:, None, :]  # x_i + x_j, n x n x d
        U = S2 / np.linalg.norm(S2, axis=2, keepdims=True)
        Zp = np.einsum("ijd,rd->ijr", U, W) / sig
        if act == "exp":
            T = E[:, None, :] * E[None, :, :]
            ET = np.exp(0.5 * sig ** 2 * (nx[:, None] + nx[None] + 2 * Kx))
        else:
            b = E / np.exp(0.5 * sig ** 2 * nx)[:, None]
            g = np.exp(sig ** 2 * Kx)
            T = (b[:, None, :] - g[..., None]) * (b[None, :, :] - g[..., None])
            ET = g * (g - 1)
        D = Kx[..., None] ** 2 * (T - ET[..., None]) ** 2
        shares.append(np.sum(D * (Zp > z)) / np.sum(D))
    mc, se = np.mean(shares), np.std(shares, ddof=1) / np.sqrt(len(shares))
    ts = nf.tail_share(X, act, sig, draws)
    t.check(abs(mc - ts) <= Z * se, f"tail_share {act} sigma {sig}, z = {z:.2f}: {ts:.4f} vs sampled "
                                    f"{mc:.4f} +- {se:.4f} (within {Z:g} SE)")
C1, C2 = nf.constant(X, "exp", 0.5), nf.constant(X, "exp", 0.5, "coupled")
t.check(abs(C2 / C1 - 2) < 1e-14, f"coupled pairs: C doubles ({C2 / C1!r})")
Ck = nf.constant(X, "relu", 1.0, k=3)
s = nf.monte_carlo(X, "relu", 1.0, 128, "random", 600, seed=6, k=3)["scaled"]
se = s.std(ddof=1) / np.sqrt(len(s))
t.check(abs(s.mean() - Ck) <= Z * se, f"relu k = 3 (cross-output blocks): {s.mean():.4g} +- "
                                      f"{se:.2g} vs C_k = {Ck:.4g}")

for sig, init in [(0.5, "random"), (0.5, "coupled"), (0.25, "random")]:
    e = nf.softmax_expansion(X, sig, init)
    lv, _ = nf.log_moments(X, "softmax", sig)
    scale = 2 if init == "coupled" else 1
    dv = np.max(np.abs(scale * np.exp(lv) - e["v"]) / e["v"])
    db = np.max(np.abs(nf.softmax_bias(X, sig, init) - e["bias"])) / np.max(np.abs(e["bias"]))
    # both evaluate the same finite sums of exponentials; 1e-10 allows the cancellation of the
    # O(sigma^4) variance out of O(1) terms (relative error ~ eps / sigma^4 ~ 1e-13 here)
    t.check(dv < 1e-10 and db < 1e-10, f"softmax sigma {sig} {init}: closed-form variance and bias "
                                       f"vs the jet expansion: {dv:.1e}, {db:.1e} (< 1e-10)")
    for m in (64, 256):
        r = nf.monte_carlo(X, "softmax", sig, m, init, 2000, seed=7 + m)
        s = r["scaled"]
        se = s.std(ddof=1) / np.sqrt(len(s))
        pred = e["C"] + e["C2"] / m
        t.check(abs(s.mean() - pred) <= Z * se,
                f"softmax sigma {sig} {init} m {m}: {s.mean():.4g} +- {se:.2g} vs C + C2/m = "
                f"{pred:.4g} (C = {e['C']:.4g}, C2 = {e['C2']:.4g}; within {Z:g} SE)")

# ---- planted errors on synthetic kernel-limit runs -----------------------------------------------------
import h5py  # noqa: E402


ACTS_SEED = {"softmax": 1, "exp": 2, "relu": 3}


def write_runs(root, X, act, sigma, m, seeds, init):
    """ntk.h5 files as `softntk ntk` writes them (the parts run_ratios reads), from simulate_H."""
    Hs = nf.limit_kernel(X, act, sigma)
    rng_ = np.random.default_rng([ACTS_SEED[act], len(init)])
    for seed in seeds:
        H = nf.simulate_H(X, act, sigma, m, init, rng_)[0]
        d = os.path.join(root, f"{act}-{init}-{m}-{seed}")
        os.makedirs(d)
        with h5py.File(os.path.join(d, "ntk.h5"), "w") as f:
            f.attrs.update({"activation": act, "sigma": sigma, "m": m, "n": len(X),
                            "d": X.shape[1], "k": 1, "seed": seed,
                            "config": f"[model]\nactivation = {act}\ninit = {init}\n"})
            f["data/X"] = X
            f["ntk/diff_limit_fro"] = [np.linalg.norm(H - Hs)]


def constant_check(root):
    rows = nf.ratio_summary(nf.run_ratios([root]), reps=1000)
    lines, failures = nf.ratio_checks(rows, min_seeds=32, reps=1000)
    return failures == 0, "\n".join(lines)


work = tempfile.mkdtemp(prefix="plant", dir=".")
src = os.path.join(work, "runs")
X = sphere(8, 5, 4)
write_runs(src, X, "exp", 0.5, 1024, range(1, 41), "random")
write_runs(src, X, "exp", 0.5, 1024, range(1, 41), "coupled")
donor = os.path.join(work, "donor")
write_runs(donor, X, "softmax", 0.5, 1024, range(1, 41), "coupled")
plants = [
    ("fluctuation scaled by sqrt 2",
     lambda d: st.scale_dataset(d, "ntk/diff_limit_fro", 2 ** 0.5)),
    ("width off by 2x", lambda d: st.set_attribute(d, "m", lambda v: 2 * v)),
    ("random instead of coupled init",
     lambda d: st.replace_config(d, "model", "init", "random",
                                 where=lambda a: "init = coupled" in a["config"])),
    ("the softmax fluctuation in place of exp's",
     lambda d: st.replace_dataset(d, "ntk/diff_limit_fro", donor, match=("m", "seed"),
                                  where=lambda a: "init = coupled" in a["config"])),
    ("seeds lost (9 of 40)", lambda d: st.drop_runs(d, lambda a: a["seed"] > 31)),
]
base, results = st.plants_caught(src, work, plants, constant_check)
t.check(base["passed"], "kernel-limit constant check passes the unchanged synthetic runs (exp, "
                        "sigma 0.5, m 1024, 40 seeds, random and coupled):\n    "
                        + base["text"].replace("\n", "\n    "))
for r in results:
    t.check(r["caught"] and len(r["changed"]) > 0,
            f"planted error '{r['name']}' ({len(r['changed'])} files changed) fails the check: "
            + next((ln for ln in r["text"].splitlines() if ln.startswith("FAIL")), "no FAIL line"))
with h5py.File(os.path.join(src, "exp-random-1024-1", "ntk.h5"), "r") as f0, \
        h5py.File(os.path.join(work, "fluctuation scaled by sqrt 2", "exp-random-1024-1",
                               "ntk.h5"), "r") as f1:
    a, b = f0["ntk/diff_limit_fro"][0], f1["ntk/diff_limit_fro"][0]
t.check(b == a * 2 ** 0.5, "scale_dataset multiplies the copy exactly and leaves the source as it was")
try:
    st.scale_dataset(src, "ntk/diff_limit_fro", 2.0, where=lambda a: a["activation"] == "relu")
    t.check(False, "a plant that matches no file is refused")
except ValueError as exc:
    t.check("matched no file" in str(exc), f"a plant that matches no file is refused: {exc}")
shutil.rmtree(work)
sys.exit(t.finish())
