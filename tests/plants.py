"""Planted errors per experiment: each is injected into a copy of the tiny variant's outputs (HDF5
files and the attributes they record), never by a switch in the library, and the experiment's checks
(its analysis and expect.json) must fail on it. tests/test_experiments.py runs them after the tiny
variant passes. An experiment adds its plants here: name -> [(label, mutate(dir))], with the
mutations of analysis/sntk_stats.py."""
import math

from sntk_stats import replace_config, scale_dataset, set_attribute

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
}
