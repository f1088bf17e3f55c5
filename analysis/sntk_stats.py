"""Statistics the experiment analyses share (imported, not run): intervals over seeds, censored
thresholds, and a harness that plants errors in results directories.

1. Bootstrap over seeds. The seed is the unit of independence: a replicate resamples seeds with
   replacement (within every group of a stratified design, e.g. within every width) and recomputes
   the statistic. Percentile and BCa intervals (Efron 1987; the stratified acceleration of Davison
   and Hinkley 1997, section 3.2) for any statistic, bootstrap-t for means and RMS values,
   deterministic given the resampler's seed. On top: log-log slopes
   across widths and ratios of RMS values.
2. Censored data. A threshold that was not reached within the budget is a lower bound, not a
   missing value; one known only up to a grid cell is an interval. `Censored` holds [lower, upper]
   per unit (upper = inf: right-censored; lower = 0: left-censored); Kaplan-Meier and Turnbull
   estimate its distribution and quantiles, `censored_loglog_fit` is a Tobit-type maximum-likelihood
   regression of log y on log x with normal errors (exact, right-, left- and interval-censored
   points each contribute their own likelihood term), and `plot_censored` draws censored points as
   open markers with arrows (or bars).
3. Planted errors. Copy a results directory, change its HDF5 outputs (scale a dataset, replace it by
   another run's, change an attribute or the recorded config, drop runs), rerun an analysis and its
   checks, and report whether the checks failed: a check that passes a planted error is no check.
   From a test, on the tiny variant's runs (RUNS = runs/NAME/tiny/NAME):
       check = analysis_check("analysis/kernel_limit.py", "experiments/kernel-limit/expect.json",
                              "tiny")
       base, res = plants_caught(RUNS, "planted", [
           ("H scaled by sqrt 2", lambda d: scale_dataset(d, "ntk/diff_limit_fro", 2 ** 0.5)),
           ("width off by 2x", lambda d: set_attribute(d, "m", lambda m: 2 * m)),
           ("seed 3 lost", lambda d: drop_runs(d, lambda a: a["seed"] == 3))], check)
       assert base["passed"] and all(r["caught"] for r in res)
Everything is numpy/scipy; random numbers come from numpy Generators seeded by the caller."""
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

# ---- 1. bootstrap over seeds --------------------------------------------------------------------------


def rms(x, axis=0):
    """Root mean square along `axis` (the seeds)."""
    x = np.asarray(x, float)
    return np.sqrt(np.mean(x * x, axis=axis))


def _as_units(x):
    x = np.asarray(x, float)
    if x.ndim == 0 or len(x) < 2:
        raise ValueError(f"a bootstrap over seeds needs at least 2 units, got {np.size(x)}")
    return x


def _percentile(reps, level):
    a = (1 - level) / 2
    return float(np.quantile(reps, a)), float(np.quantile(reps, 1 - a))


def _bca(reps, estimate, accel, level):
    """BCa endpoints from replicates, the estimate and the acceleration; None when the bias
    correction is undefined (every replicate on one side of the estimate)."""
    reps = reps[np.isfinite(reps)]
    frac = (np.sum(reps < estimate) + 0.5 * np.sum(reps == estimate)) / len(reps)
    if not 0 < frac < 1 or not np.isfinite(accel):
        return None
    z0 = stats.norm.ppf(frac)
    out = []
    for q in ((1 - level) / 2, (1 + level) / 2):
        zq = stats.norm.ppf(q)
        den = 1 - accel * (z0 + zq)
        if den <= 0:
            return None
        out.append(float(np.quantile(reps, stats.norm.cdf(z0 + (z0 + zq) / den))))
    return out


def _acceleration(loo_by_stratum):
    """Acceleration from leave-one-out estimates, one array per stratum: with influence values
    l_sj = (n_s - 1)(mean_j t_{s,-j} - t_{s,-j}), a = sum_s n_s^-3 sum_j l_sj^3 /
    (6 (sum_s n_s^-2 sum_j l_sj^2)^{3/2}) (one stratum: Efron's jackknife formula)."""
    num = den = 0.0
    for t in loo_by_stratum:
        t = np.asarray(t, float)
        n = len(t)
        lv = (n - 1) * (t.mean() - t)
        num += np.sum(lv ** 3) / n ** 3
        den += np.sum(lv ** 2) / n ** 2
    return num / (6 * den ** 1.5) if den > 0 else 0.0


def _result(estimate, reps, level, method, accel_fn):
    reps = np.asarray(reps, float)
    ok = reps[np.isfinite(reps)]
    out = {"estimate": float(estimate), "level": level, "reps": int(len(reps)),
           "se": float(np.std(ok, ddof=1)) if len(ok) > 1 else float("nan"),
           "method": method}
    pct = _percentile(ok, level)
    bca = _bca(ok, estimate, accel_fn(), level) if method in ("bca", "both") else None
    if method in ("bca", "both"):
        out["bca"] = bca if bca is not None else list(pct)
        out["bca_fallback"] = bca is None  # percentile used: BCa undefined for these replicates
    out["percentile"] = list(pct)
    out["low"], out["high"] = (out["bca"] if method == "bca" else pct)
    if len(ok) < len(reps):
        out["nonfinite_reps"] = int(len(reps) - len(ok))
    return out


def bootstrap(units, statistic=np.mean, reps=2000, seed=0, level=0.95, method="percentile",
              vectorized=False):
    """Bootstrap interval of statistic(units) over the units (axis 0: seeds).

    statistic(array of units) -> number; with vectorized=True it is called once as
    statistic(array (reps, S, ...), axis=1) -> (reps,) (numpy reductions such as np.mean and rms
    accept this). method: 'percentile', 'bca' or 'both' (low/high are then the percentile ends and
    'bca' holds the BCa ends). Returns {'estimate', 'low', 'high', 'level', 'reps', 'se' (the
    replicates' standard deviation), 'percentile', 'bca' (when asked), 'method'}. Deterministic
    given seed."""
    x = _as_units(units)
    S = len(x)
    idx = np.random.default_rng(seed).integers(0, S, size=(reps, S))
    if vectorized:
        r = np.asarray(statistic(x[idx], axis=1), float)
    else:
        r = np.array([statistic(x[i]) for i in idx], float)
    est = float(statistic(x, axis=0) if vectorized else statistic(x))

    def accel():
        keep = ~np.eye(S, dtype=bool)
        return _acceleration([[statistic(x[keep[j]], axis=0) if vectorized else statistic(x[keep[j]])
                               for j in range(S)]])
    return _result(est, r, level, method, accel)


def bootstrap_strata(groups, statistic, reps=2000, seed=0, level=0.95, method="percentile",
                     paired=False, vectorized=False):
    """Stratified bootstrap: groups maps a key (a width, a series) to its units (axis 0: seeds), and
    statistic(dict of the same keys -> arrays) -> number. Each replicate resamples the units within
    every group independently; with paired=True the groups must hold the same seeds in the same
    order and one draw of seed indices is applied to all of them (use it when a seed's runs at
    different widths are dependent, e.g. nested neurons). vectorized=True: statistic is called once
    with arrays (reps, S_k, ...) per key and must return (reps,); for the estimate and the jackknife
    it gets (1, S_k, ...). Returns what bootstrap() returns."""
    keys = list(groups)
    data = {k: _as_units(groups[k]) for k in keys}
    rng = np.random.default_rng(seed)
    if paired:
        S = {len(v) for v in data.values()}
        if len(S) != 1:
            raise ValueError(f"paired resampling needs equal seed counts per group, got {sorted(S)}")
        S = S.pop()
        idx = rng.integers(0, S, size=(reps, S))
        draws = {k: idx for k in keys}
    else:
        draws = {k: rng.integers(0, len(data[k]), size=(reps, len(data[k]))) for k in keys}
    if vectorized:
        vstat = statistic

        def statistic(g):  # noqa: F811 (the scalar form of the vectorised statistic)
            return float(vstat({k: v[None] for k, v in g.items()})[0])
        r = vstat({k: data[k][draws[k]] for k in keys})
    else:
        r = [statistic({k: data[k][draws[k][b]] for k in keys}) for b in range(reps)]
    est = statistic(data)

    def accel():
        if paired:
            S = len(data[keys[0]])
            keep = ~np.eye(S, dtype=bool)
            return _acceleration([[statistic({k: data[k][keep[j]] for k in keys})
                                   for j in range(S)]])
        loo = []
        for k in keys:
            S = len(data[k])
            keep = ~np.eye(S, dtype=bool)
            loo.append([statistic({**data, k: data[k][keep[j]]}) for j in range(S)])
        return _acceleration(loo)
    return _result(est, np.array(r, float), level, method, accel)


def mean_t_interval(values, reps=2000, seed=0, level=0.95, log=False):
    """Studentized bootstrap (bootstrap-t) interval of the mean over seeds: the replicates' t =
    (mean* - mean) / se* give the quantiles that scale the sample's se (Efron and Tibshirani 1993,
    ch. 12). Second-order accurate like BCa, and the better of the two for the skewed squares of a
    norm at tens of seeds (tests/test_analysis.py measures the coverages). log=True studentizes
    log(mean) with the delta-method se (positive data: the interval stays positive). Meant for
    tens of seeds: with a handful, se* of some replicates is near 0 and the ends run away. Returns
    {'estimate', 'low', 'high', 'level', 'reps', 'method': 't'}."""
    y = _as_units(values)
    n = len(y)
    yb = y[np.random.default_rng(seed).integers(0, n, size=(reps, n))]
    m, s = y.mean(), y.std(ddof=1) / np.sqrt(n)
    mb, sb = yb.mean(axis=1), yb.std(axis=1, ddof=1) / np.sqrt(n)
    if log:
        if np.any(y <= 0):
            raise ValueError("mean_t_interval(log=True) needs positive values")
        m, s, mb, sb = np.log(m), s / m, np.log(mb), sb / mb
    ok = sb > 0
    tt = (mb[ok] - m) / sb[ok]
    a = (1 - level) / 2
    lo, hi = m - np.quantile(tt, 1 - a) * s, m - np.quantile(tt, a) * s
    if log:
        with np.errstate(over="ignore"):  # a handful of seeds can give an unbounded upper end
            m, lo, hi = np.exp(m), np.exp(lo), np.exp(hi)
    return {"estimate": float(m), "low": float(lo), "high": float(hi), "level": level,
            "reps": reps, "method": "t"}


def rms_interval(values, reps=2000, seed=0, level=0.95):
    """RMS over seeds with the square root of the bootstrap-t interval of the mean square
    (studentized on the log scale)."""
    out = mean_t_interval(np.asarray(values, float) ** 2, reps, seed, level, log=True)
    return {**out, "estimate": float(np.sqrt(out["estimate"])), "low": float(np.sqrt(out["low"])),
            "high": float(np.sqrt(out["high"]))}


def loglog_slope(xs, ys):
    """Least-squares slope of log y against log x (both positive)."""
    lx, ly = np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float))
    lx = lx - lx.mean()
    return float(np.sum(lx * (ly - ly.mean())) / np.sum(lx * lx))


def slope_interval(by_width, reduce=rms, reps=2000, seed=0, level=0.95, method="both",
                   paired=False):
    """Log-log slope across widths with a seed-bootstrap interval: by_width maps a width m to the
    per-seed values at m; the statistic is the slope of log reduce(values at m) against log m
    (reduce: rms by default, e.g. of ||H - H*|| over seeds; any reduction taking axis=, such as
    np.mean or np.median). Each replicate resamples the seeds
    within every width (paired=True: the same seed draw at every width). Returns bootstrap()'s
    dict plus 'widths' and 'reduced' (reduce at each width)."""
    ms = sorted(by_width)
    if len(ms) < 2:
        raise ValueError("a slope needs at least two widths")
    lx = np.log(np.asarray(ms, float))
    lx -= lx.mean()

    def stat(g):  # vectorised: g[m] is (reps, S_m); the slope of every replicate at once
        ly = np.log(np.stack([reduce(g[m], axis=1) for m in ms], axis=1))
        return (ly - ly.mean(axis=1, keepdims=True)) @ lx / (lx @ lx)
    out = bootstrap_strata({m: by_width[m] for m in ms}, stat, reps, seed, level, method, paired,
                           vectorized=True)
    out["widths"] = ms
    out["reduced"] = [float(reduce(np.asarray(by_width[m], float))) for m in ms]
    return out


def ratio_interval(a, b=None, reference=1.0, reduce=rms, reps=2000, seed=0, level=0.95,
                   method="both", paired=False):
    """Interval of reduce(a) / reduce(b) (two groups of seeds, resampled separately, or jointly
    with paired=True), or of reduce(a) / reference when b is None (e.g. the RMS over seeds of
    ||H - H*|| / sqrt(C / m), reference 1). reduce takes axis= (rms, np.mean, np.median)."""
    if b is None:
        return bootstrap(np.asarray(a, float) / reference, reduce, reps, seed, level, method,
                         vectorized=True)
    return bootstrap_strata({"a": a, "b": b},
                            lambda g: reduce(g["a"], axis=1) / reduce(g["b"], axis=1), reps,
                            seed, level, method, paired, vectorized=True)


def contains(interval, value):
    """True when value lies in [low, high] of an interval dict (or a (low, high) pair)."""
    lo, hi = (interval["low"], interval["high"]) if isinstance(interval, dict) else interval
    return bool(lo <= value <= hi)


def binomial_interval(successes, trials, level=0.95):
    """Clopper-Pearson (exact) interval of a binomial proportion, e.g. an interval's coverage."""
    a = 1 - level
    lo = stats.beta.ppf(a / 2, successes, trials - successes + 1) if successes > 0 else 0.0
    hi = stats.beta.ppf(1 - a / 2, successes + 1, trials - successes) if successes < trials else 1.0
    return float(lo), float(hi)


# ---- 2. censored data -------------------------------------------------------------------------------

@dataclass
class Censored:
    """Per-unit bounds of a positive quantity: exact where lower == upper, right-censored (the
    event was not seen up to `lower`) where upper = inf, left-censored (already at the first grid
    point) where lower = 0, interval-censored otherwise (lower < value <= upper)."""
    lower: np.ndarray
    upper: np.ndarray

    def __post_init__(self):
        self.lower = np.asarray(self.lower, float).ravel()
        self.upper = np.asarray(self.upper, float).ravel()
        if self.lower.shape != self.upper.shape or np.any(self.lower > self.upper) or \
                np.any(self.lower < 0) or np.any(np.isnan(self.lower) | np.isnan(self.upper)):
            raise ValueError("Censored needs 0 <= lower <= upper, equal shapes, no NaN")

    @classmethod
    def observed(cls, values, seen):
        """Right-censoring: values[i] is the event time where seen[i], else a lower bound (the
        budget at which observation stopped)."""
        v = np.asarray(values, float)
        return cls(v, np.where(np.asarray(seen, bool), v, np.inf))

    @classmethod
    def from_grid(cls, grid, first):
        """A threshold searched on an increasing grid: first[i] is the index of the first grid point
        at which unit i succeeded (-1 or None: none did). Index k > 0 gives (grid[k-1], grid[k]],
        k = 0 gives (0, grid[0]] (left-censored), none gives (grid[-1], inf)."""
        g = np.asarray(grid, float)
        if np.any(np.diff(g) <= 0) or g[0] <= 0:
            raise ValueError("the grid must be positive and increasing")
        lo, hi = [], []
        for k in first:
            if k is None or k < 0:
                lo.append(g[-1])
                hi.append(np.inf)
            else:
                lo.append(g[k - 1] if k > 0 else 0.0)
                hi.append(g[k])
        return cls(np.array(lo), np.array(hi))

    def __len__(self):
        return len(self.lower)

    @property
    def exact(self):
        return self.lower == self.upper

    @property
    def right(self):
        return np.isinf(self.upper)

    @property
    def left(self):
        return (self.lower == 0) & ~self.exact

    def take(self, idx):
        return Censored(self.lower[idx], self.upper[idx])

    def counts(self):
        return {"exact": int(self.exact.sum()), "right": int(self.right.sum()),
                "left": int(self.left.sum()),
                "interval": int((~self.exact & ~self.right & ~self.left).sum())}


def kaplan_meier(sample):
    """Kaplan-Meier estimate for exact and right-censored units (a censored unit is at risk at its
    own time: ties put events before censorings). Returns {'time': distinct event times,
    'survival': S just after each, 'at_risk', 'events'}."""
    if np.any(~sample.exact & ~sample.right):
        raise ValueError("Kaplan-Meier takes exact and right-censored units; use turnbull()")
    t, ev = sample.lower, sample.exact
    times = np.unique(t[ev])
    at_risk = np.array([np.sum(t >= u) for u in times])
    events = np.array([np.sum((t == u) & ev) for u in times])
    return {"time": times, "survival": np.cumprod(1 - events / at_risk), "at_risk": at_risk,
            "events": events}


def turnbull(sample, tol=1e-10, max_iter=10000):
    """Nonparametric maximum likelihood (Turnbull's self-consistency algorithm) for arbitrarily
    censored units: interval units are (lower, upper], exact units points. The support is the
    Turnbull cells: every exact point, and every (L, r] with L an interval's lower bound, r the
    smallest upper bound above L, no lower bound or exact point in between and r not an exact point
    (such a cell would be dominated by the point). Returns {'left', 'right', 'point' (the cells),
    'mass'}; mass beyond the largest finite bound sits in a cell with right = inf. On exact and
    right-censored data it is the Kaplan-Meier estimate (Efron's self-consistency)."""
    lo, hi, ex = sample.lower, sample.upper, sample.exact
    points = np.unique(lo[ex])
    lefts = np.unique(lo[~ex])
    rights = np.unique(np.concatenate([hi[~ex], points]))
    starts = np.unique(np.concatenate([lefts, points]))
    cl, cr = list(points), list(points)
    for L in lefts:
        above = rights[rights > L]
        r = above[0] if len(above) else np.inf
        if np.any((starts > L) & (starts < r)) or np.isin(r, points):
            continue
        cl.append(L)
        cr.append(r)
    cl, cr = np.array(cl, float), np.array(cr, float)
    is_pt = np.arange(len(cl)) < len(points)
    inside = np.where(ex[:, None], is_pt[None] & (cl[None] == lo[:, None]),
                      np.where(is_pt[None], (lo[:, None] < cl[None]) & (cl[None] <= hi[:, None]),
                               (lo[:, None] <= cl[None]) & (cr[None] <= hi[:, None])))
    if np.any(inside.sum(axis=1) == 0):
        raise ValueError("turnbull: a unit's interval contains no cell")
    p = np.full(len(cl), 1.0 / len(cl))
    for _ in range(max_iter):
        w = inside * p[None]
        new = np.mean(w / w.sum(axis=1, keepdims=True), axis=0)
        done = np.max(np.abs(new - p)) < tol
        p = new
        if done:
            break
    order = np.lexsort((cr, cl))
    return {"left": cl[order], "right": cr[order], "point": is_pt[order], "mass": p[order]}


def censored_quantile(sample, q=0.5):
    """The q-quantile of a censored sample from its NPMLE (Kaplan-Meier when only exact and
    right-censored units, Turnbull otherwise). Returns {'low', 'high'}: the quantile lies in this
    Turnbull cell (low == high for exact data); high = inf means it lies beyond every observation
    (report 'at least low'). For grid thresholds, 'high' is the grid point."""
    if not np.any(~sample.exact & ~sample.right):
        km = kaplan_meier(sample)
        F = 1 - km["survival"]
        hit = np.nonzero(F >= q - 1e-12)[0]
        if len(hit):
            v = float(km["time"][hit[0]])
            return {"low": v, "high": v}
        return {"low": float(sample.lower.max()), "high": float("inf")}
    tb = turnbull(sample)
    F = np.cumsum(tb["mass"])
    hit = np.nonzero(F >= q - 1e-9)[0]
    j = hit[0] if len(hit) else len(F) - 1
    return {"low": float(tb["left"][j]), "high": float(tb["right"][j])}


def _tobit_nll(params, lx, lo, hi, kind):
    """Negative log-likelihood of log y = a + b log x + s eps for censored units (kind 0 exact,
    1 right, 2 left, 3 interval; lo, hi the logs of the bounds) and its gradient in
    (a, b, log s)."""
    a, b, log_s = params
    s = np.exp(log_s)
    zl = (lo - (a + b * lx)) / s
    zh = (hi - (a + b * lx)) / s
    ll = np.zeros_like(lx)
    dmu = np.zeros_like(lx)  # d ll / d mu times s
    dls = np.zeros_like(lx)  # d ll / d log s
    lphi = -0.5 * np.log(2 * np.pi)
    e = kind == 0
    ll[e] = -0.5 * zl[e] ** 2 + lphi - log_s
    dmu[e], dls[e] = zl[e], zl[e] ** 2 - 1
    r = kind == 1
    ll[r] = special.log_ndtr(-zl[r])
    lam = np.exp(lphi - 0.5 * zl[r] ** 2 - ll[r])
    dmu[r], dls[r] = lam, lam * zl[r]
    left = kind == 2
    ll[left] = special.log_ndtr(zh[left])
    lam = np.exp(lphi - 0.5 * zh[left] ** 2 - ll[left])
    dmu[left], dls[left] = -lam, -lam * zh[left]
    i = kind == 3
    if i.any():
        # log(Phi(zh) - Phi(zl)), on the side of the smaller tail (Phi(-zl) - Phi(-zh) if zl > 0)
        flip = zl[i] > 0
        u = np.where(flip, -zh[i], zl[i])
        v = np.where(flip, -zl[i], zh[i])
        lv, lu = special.log_ndtr(v), special.log_ndtr(u)
        ll[i] = lv + np.log(-np.expm1(np.minimum(lu - lv, -1e-300)))
        pl = np.exp(lphi - 0.5 * zl[i] ** 2 - ll[i])
        ph = np.exp(lphi - 0.5 * zh[i] ** 2 - ll[i])
        dmu[i], dls[i] = pl - ph, pl * zl[i] - ph * zh[i]
    grad = -np.array([np.sum(dmu) / s, np.sum(dmu * lx) / s, np.sum(dls)])
    return -float(np.sum(ll)), grad


def censored_loglog_fit(x, sample, stderr=True):
    """Maximum-likelihood fit of log y = a + b log x + s eps, eps ~ N(0, 1) (lognormal errors), with
    each unit's likelihood term by its kind: density (exact), P(y > lower) (right-censored),
    P(y <= upper) (left-censored), P(lower < y <= upper) (interval). Returns {'slope',
    'intercept', 'sigma', 'slope_stderr' (from the observed information), 'loglik', 'counts',
    'converged'}; stderr=False skips the information matrix (NaN). Needs at least 3 units, 2
    distinct x, and one exact or interval unit."""
    x = np.asarray(x, float)
    if len(x) != len(sample) or len(x) < 3 or len(np.unique(x)) < 2:
        raise ValueError("censored_loglog_fit needs >= 3 units at >= 2 distinct x")
    lx = np.log(x)
    with np.errstate(divide="ignore"):
        lo, hi = np.log(sample.lower), np.log(sample.upper)
    kind = np.select([sample.exact, sample.right, sample.left], [0, 1, 2], 3)
    if not np.any((kind == 0) | (kind == 3)):
        raise ValueError("censored_loglog_fit: every unit is one-sided; nothing to fit")
    # start: least squares on the exact points, interval midpoints and the censoring bounds
    mid = np.where(kind == 0, lo, np.where(kind == 3, 0.5 * (lo + hi),
                                           np.where(kind == 1, lo, hi)))
    A = np.vstack([np.ones_like(lx), lx]).T
    coef = np.linalg.lstsq(A, mid, rcond=None)[0]
    s0 = max(np.std(mid - A @ coef), 0.1 * max(np.ptp(mid), 1e-3))
    start = [coef[0], coef[1], np.log(s0)]
    args = (lx, lo, hi, kind)
    best = optimize.minimize(_tobit_nll, start, args=args, jac=True, method="BFGS",
                             options={"gtol": 1e-8})
    if not best.success:  # a flat censored likelihood can stall BFGS: polish by the simplex
        nm = optimize.minimize(lambda q: _tobit_nll(q, *args)[0], best.x, method="Nelder-Mead",
                               options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000})
        if nm.fun <= best.fun:
            best = nm
    p = best.x
    out = {"slope": float(p[1]), "intercept": float(p[0]), "sigma": float(np.exp(p[2])),
           "slope_stderr": float("nan"), "loglik": float(-best.fun), "counts": sample.counts(),
           "converged": bool(best.success)}
    if not stderr:
        return out
    # observed information: central differences of the analytic gradient
    h = 1e-5 * np.maximum(1, np.abs(p))
    Hm = np.array([(_tobit_nll(p + h[j] * np.eye(3)[j], *args)[1]
                    - _tobit_nll(p - h[j] * np.eye(3)[j], *args)[1]) / (2 * h[j])
                   for j in range(3)])
    Hm = 0.5 * (Hm + Hm.T)
    try:
        cov = np.linalg.inv(Hm)
        se = float(np.sqrt(cov[1, 1])) if cov[1, 1] > 0 else float("nan")
    except np.linalg.LinAlgError:
        se = float("nan")
    out["slope_stderr"] = se
    return out


def censored_fit_interval(x, sample, strata=None, reps=500, seed=0, level=0.95):
    """censored_loglog_fit with a bootstrap interval of the slope: units resampled within each
    stratum (default: each distinct x, so every width or n keeps its seed count). Returns the fit
    plus 'low', 'high' (percentile) and 'reps_failed' (replicates that could not be fitted, e.g.
    all censored; they are left out and counted)."""
    x = np.asarray(x, float)
    fit = censored_loglog_fit(x, sample)
    strata = x if strata is None else np.asarray(strata)
    groups = [np.nonzero(strata == s)[0] for s in np.unique(strata)]
    rng = np.random.default_rng(seed)
    slopes, failed = [], 0
    for _ in range(reps):
        idx = np.concatenate([g[rng.integers(0, len(g), len(g))] for g in groups])
        try:
            slopes.append(censored_loglog_fit(x[idx], sample.take(idx), stderr=False)["slope"])
        except ValueError:
            failed += 1
    lo, hi = _percentile(np.array(slopes), level) if slopes else (np.nan, np.nan)
    return {**fit, "low": lo, "high": hi, "level": level, "reps": reps, "reps_failed": failed}


def plot_censored(ax, x, sample, color=None, label=None, marker="o", arrow=1.6, **kw):
    """Draw a censored sample at abscissae x on ax: exact units as filled markers, right-censored
    ones as open markers at their lower bound with an arrow up to lower * arrow (log axes; the true
    value is larger), left-censored ones as open markers at the upper bound with an arrow down,
    interval-censored ones as a vertical bar from lower to upper with an open marker at the
    geometric mean. Returns the handle of the exact points (for a legend)."""
    x = np.asarray(x, float)
    h = ax.plot(x[sample.exact], sample.lower[sample.exact], marker, ls="none", color=color,
                label=label, **kw)[0]
    color = h.get_color()
    open_kw = dict(ls="none", marker=marker, mfc="none", mec=color, **kw)
    for sel, y0, y1 in ((sample.right, sample.lower, sample.lower * arrow),
                        (sample.left, sample.upper, sample.upper / arrow)):
        if sel.any():
            ax.plot(x[sel], y0[sel], **open_kw)
            for xi, a, b in zip(x[sel], y0[sel], y1[sel]):
                ax.annotate("", xy=(xi, b), xytext=(xi, a),
                            arrowprops=dict(arrowstyle="->", color=color, lw=1))
    iv = ~sample.exact & ~sample.right & ~sample.left
    if iv.any():
        ax.vlines(x[iv], sample.lower[iv], sample.upper[iv], color=color, lw=1.5)
        ax.plot(x[iv], np.sqrt(sample.lower[iv] * sample.upper[iv]), **open_kw)
    return h


# ---- 3. planted errors ------------------------------------------------------------------------------

def copy_results(src, dst):
    """Copy the results directory src to dst (dst is replaced; symbolic links are copied as the
    files they point to, so a plant never writes through a link into the original). Returns dst."""
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=False)
    return dst


def _attrs(f):
    out = {}
    for k, v in f.attrs.items():
        if isinstance(v, bytes):
            v = v.decode()
        elif hasattr(v, "item") and np.ndim(v) == 0:
            v = v.item()
        out[k] = v
    return out


def results_files(root, filename="ntk.h5", where=None):
    """The files root/*/filename (and root/filename) whose root attributes satisfy where(attrs)
    (all when where is None), sorted."""
    import glob

    import h5py
    paths = sorted(glob.glob(os.path.join(root, "*", filename))
                   + glob.glob(os.path.join(root, filename)))
    if where is None:
        return paths
    out = []
    for p in paths:
        with h5py.File(p, "r") as f:
            if where(_attrs(f)):
                out.append(p)
    return out


def _need_some(paths, what):
    if not paths:
        raise ValueError(f"planted error '{what}' matched no file: the plant would test nothing")
    return paths


def scale_dataset(root, dataset, factor, filename="ntk.h5", where=None):
    """Multiply `dataset` by factor in every matching file (e.g. 'ntk/diff_limit_fro', sqrt 2).
    Returns the files changed; raises ValueError when none matched or a file lacks the dataset."""
    import h5py
    paths = _need_some(results_files(root, filename, where), f"scale {dataset}")
    for p in paths:
        with h5py.File(p, "r+") as f:
            if dataset not in f:
                raise ValueError(f"{p} has no {dataset}")
            f[dataset][...] = f[dataset][...] * factor
    return paths


def set_attribute(root, name, value, filename="ntk.h5", where=None, obj="/"):
    """Set attribute `name` of object obj in every matching file to value, or to value(old) when
    value is callable (e.g. lambda m: 2 * m: a width off by 2x). Returns the files changed."""
    import h5py
    paths = _need_some(results_files(root, filename, where), f"set attribute {name}")
    for p in paths:
        with h5py.File(p, "r+") as f:
            old = f[obj].attrs[name] if name in f[obj].attrs else None
            if hasattr(old, "item") and np.ndim(old) == 0:
                old = old.item()
            if isinstance(old, bytes):
                old = old.decode()
            new = value(old) if callable(value) else value
            f[obj].attrs[name] = new
    return paths


def replace_config(root, section, key, value, filename="ntk.h5", where=None):
    """Change section.key in the resolved config text (root attribute 'config') of every matching
    file, as if the run had been made with key = value (e.g. model.init coupled -> random).
    Returns the files changed."""
    def edit(text):
        lines, sec, done = [], None, False
        for line in str(text).splitlines():
            s = line.strip()
            if s.startswith("[") and s.endswith("]"):
                sec = s[1:-1]
            elif sec == section and "=" in s and s.split("=", 1)[0].strip() == key:
                line, done = f"{key} = {value}", True
            lines.append(line)
        if not done:
            raise ValueError(f"config has no {section}.{key}")
        return "\n".join(lines) + "\n"
    return set_attribute(root, "config", edit, filename, where)


def replace_dataset(root, dataset, source, filename="ntk.h5", where=None, match=None,
                    source_dataset=None):
    """Replace `dataset` in every matching file by the one of another run. source is a file (one
    donor for all) or a results directory: then the donor is the file there whose attributes agree
    on the names in `match` (e.g. ('m', 'seed')), so coupled runs can take the random runs' values
    or softmax runs the exp runs'. Returns the files changed."""
    import h5py
    paths = _need_some(results_files(root, filename, where), f"replace {dataset}")
    donors = None
    if os.path.isdir(source):
        if not match:
            raise ValueError("a donor directory needs `match` attribute names")
        donors = {}
        for p in results_files(source, filename):
            with h5py.File(p, "r") as f:
                a = _attrs(f)
                donors[tuple(a.get(k) for k in match)] = p
    for p in paths:
        with h5py.File(p, "r+") as f:
            src = source
            if donors is not None:
                key = tuple(_attrs(f).get(k) for k in match)
                if key not in donors:
                    raise ValueError(f"no donor in {source} with {dict(zip(match, key))}")
                src = donors[key]
            with h5py.File(src, "r") as g:
                val = g[source_dataset or dataset][...]
            if dataset in f:
                del f[dataset]
            f[dataset] = val
    return paths


def drop_runs(root, where, filename="ntk.h5"):
    """Delete the run directories whose file's attributes satisfy where (e.g. lambda a:
    a['seed'] == 3: a seed lost). Returns the directories removed."""
    dirs = [os.path.dirname(p) for p in _need_some(results_files(root, filename, where), "drop")]
    for d in dirs:
        shutil.rmtree(d)
    return dirs


def analysis_check(analysis, expect, variant, python=sys.executable):
    """A check callable for plant(): runs `python ANALYSIS DIR/check.png DIR` and then
    analysis/check_expect.py on its JSON against EXPECT for VARIANT. The check passes when both exit
    0. Returns check(dir) -> (passed, text)."""
    here = os.path.dirname(os.path.abspath(__file__))

    def check(root):
        fig = os.path.join(root, "check.png")
        p = subprocess.run([python, analysis, fig, root], capture_output=True, text=True)
        text = p.stdout + p.stderr
        if p.returncode:
            return False, text
        q = subprocess.run([python, os.path.join(here, "check_expect.py"),
                            os.path.splitext(fig)[0] + ".json", expect, variant],
                           capture_output=True, text=True)
        return q.returncode == 0, text + q.stdout + q.stderr
    return check


def plant(src, work, name, mutate, check):
    """Copy results directory src to work/name, apply mutate(copy_dir) (any of the functions above,
    or several), run check(copy_dir) -> (passed, text). Returns {'name', 'passed', 'caught'
    (= not passed: the planted error was detected), 'text', 'changed' (what mutate returned)}."""
    dst = copy_results(src, os.path.join(work, name))
    changed = mutate(dst)
    passed, text = check(dst)
    return {"name": name, "passed": bool(passed), "caught": not passed, "text": text,
            "changed": changed}


def plants_caught(src, work, plants, check):
    """Run check on the unchanged copy (it must pass, or the plants prove nothing) and on one copy
    per (name, mutate) of plants. Returns (baseline result, [plant results])."""
    base = plant(src, work, "baseline", lambda d: [], check)
    return base, [plant(src, work, name, mutate, check) for name, mutate in plants]
