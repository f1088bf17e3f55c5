"""Checks of a diffusion model's samples against the target, its baselines and the metrics' noise
floor (the /samples group written by `softntk score` and `softntk sample`).

A sample set passes when all of these hold (the thresholds of the project's diffusion claims):
- sliced W2 at most 1.5x the noise floor (the mean sliced W2 between independent target samples of
  the same size);
- MMD at most 2x its noise floor;
- better than the moment-matched Gaussian by more than the floor's spread, in sliced W2 and in MMD
  (a model that only learned the first two moments does not pass);
- for a mixture, every mode covered within its radius (a sample counts for a mode only within the
  radius holding coverage_level of that component's samples at t0).
The same checks applied to the Gaussian baseline, or to N(0, I), must fail: that is the test that
the checks can tell a diffusion model from a Gaussian."""
import math

SETS = ("learned", "exact", "noise", "gaussian", "kernel")
SW2_FACTOR, MMD_FACTOR = 1.5, 2.0


def _float(a, key):
    v = a.get(key)
    return float(v) if v is not None else math.nan


def sample_checks(attrs, name, components=None):
    """The checks of set `name` from the /samples attributes `attrs` (a dict). Returns a dict with
    one entry per criterion (value, limit, passed) and 'passed' for all of them; criteria whose
    inputs are missing (no mixture: no coverage) are left out."""
    sw2, mmd = _float(attrs, f"sw2_{name}"), _float(attrs, f"mmd_{name}")
    fs, fs_sd = _float(attrs, "sw2_floor"), _float(attrs, "sw2_floor_std")
    fm, fm_sd = _float(attrs, "mmd_floor"), _float(attrs, "mmd_floor_std")
    gs, gm = _float(attrs, "sw2_gaussian"), _float(attrs, "mmd_gaussian")
    out = {
        "sw2_over_floor": {"value": sw2 / fs, "op": "<=", "limit": SW2_FACTOR,
                           "passed": sw2 <= SW2_FACTOR * fs},
        "mmd_over_floor": {"value": mmd / fm, "op": "<=", "limit": MMD_FACTOR,
                           "passed": mmd <= MMD_FACTOR * fm},
        "sw2_gain_over_gaussian": {"value": gs - sw2, "op": ">", "limit": fs_sd,
                                   "passed": gs - sw2 > fs_sd},
        "mmd_gain_over_gaussian": {"value": gm - mmd, "op": ">", "limit": fm_sd,
                                   "passed": gm - mmd > fm_sd},
    }
    covered = attrs.get(f"modes_covered_{name}")
    if covered is not None and components:
        out["modes_covered"] = {"value": float(covered), "op": ">=", "limit": float(components),
                                "passed": float(covered) >= components}
    out["passed"] = all(v["passed"] for v in out.values())
    return out


def describe(checks):
    """One line: every criterion with its value and limit."""
    parts = []
    for k, v in checks.items():
        if k == "passed":
            continue
        parts.append(f"{k} {v['value']:.3g} ({v['op']} {v['limit']:.3g}) "
                     f"{'ok' if v['passed'] else 'FAIL'}")
    return "; ".join(parts)
