#!/usr/bin/python3
"""Write experiments/threshold/sweep-tiny.txt, sweep-small.txt and sweep-full.txt.

usage: experiments/threshold/make_sweep.py   (writes into this directory; pure Python)

Two kinds of line (deck.ini), each running 8 weight seeds in one launch (run.seeds = 1-8):
  kernel lines (m_lambda): --train.steps=0, init = random, spectrum = extremes; per (d, sigma, n) a
    width grid of factors of 2 from max(8, n / 8) to 16 n for d = 8, 8 n otherwise (small; tiny: a
    shorter grid, full: to 64 n);
  training lines (m_lin): init = coupled, spectrum = full, eta = auto (0.9 / lambda_max(J J^T)),
    train.steps = the budget, train.target_loss = L(0) / 10^4 = n / 2 * 1e-4; per (d, sigma, n)
    widths 4, 8, ... up to a cap (4 n in small)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = "1-8"


def pow2(lo, hi):
    out, m = [], 1
    while m <= hi:
        if m >= lo:
            out.append(m)
        m *= 2
    return out


VARIANTS = {
    "tiny": {
        "head": "m_lambda: d = 32, sigma = 0.5, n = 16, 32, 64, m = 8 .. 256; m_lin: d = 32, "
                "sigma = 1, n = 16, 32, m = 4 .. 64, budget 2000 steps; 8 seeds per line: 24 "
                "launches, about 30 s on 2 cores (tests/test_experiments.py)",
        "kernel": [(32, 0.5, n, pow2(max(8, n // 8), 4 * n)) for n in (16, 32, 64)],
        "train": [(32, 1.0, n, pow2(4, 2 * n)) for n in (16, 32)], "budget": 2000},
    "small": {
        "head": "m_lambda: d = 8, 16, 32, sigma = 0.5, 1, n = 16 .. 256, m = max(8, n/8) .. 16 n "
                "(d = 8) or 8 n; "
                "m_lin: d = 16, 32, sigma = 1, n = 16 .. 128, m = 4 .. 4 n, budget 4000 steps; "
                "8 seeds per line, about 7 minutes of runs on 2 cores",
        "kernel": [(d, s, n, pow2(max(8, n // 8), (16 if d == 8 else 8) * n)) for d in (8, 16, 32)
                   for s in (0.5, 1.0) for n in (16, 32, 64, 128, 256)],
        "train": [(d, 1.0, n, pow2(4, 4 * n)) for d in (16, 32) for n in (16, 32, 64, 128)],
        "budget": 4000},
    "full": {
        "head": "m_lambda: d = 8, 16, 32, sigma = 0.5, 1, n = 16 .. 1024, m = max(8, n/8) .. 64 n; "
                "m_lin: d = 8, 16, 32, sigma = 0.5, 1, n = 16 .. 256, m = 4 .. 16 n, budget "
                "20000 steps; 8 seeds per line",
        "kernel": [(d, s, n, pow2(max(8, n // 8), 64 * n)) for d in (8, 16, 32) for s in (0.5, 1.0)
                   for n in (16, 32, 64, 128, 256, 512, 1024)],
        "train": [(d, s, n, pow2(4, 16 * n)) for d in (8, 16, 32) for s in (0.5, 1.0)
                  for n in (16, 32, 64, 128, 256)],
        "budget": 20000},
}


def write(variant, spec):
    path = os.path.join(HERE, f"sweep-{variant}.txt")
    lines = []
    for d, s, n, ms in spec["kernel"]:
        for m in ms:
            lines.append(f"--data.d={d} --model.sigma={s:g} --data.n={n} --model.width={m} "
                         f"--run.seeds={SEEDS}")
    for d, s, n, ms in spec["train"]:
        for m in ms:
            lines.append(f"--data.d={d} --model.sigma={s:g} --data.n={n} --model.width={m} "
                         f"--model.init=coupled --ntk.spectrum=full --ntk.limit=false "
                         f"--train.eta=auto --train.eta_factor=0.9 --train.steps={spec['budget']} "
                         f"--train.target_loss={n * 5e-5:g} --run.seeds={SEEDS}")
    with open(path, "w") as out:
        out.write(f"# experiments/threshold, {variant} (written by make_sweep.py):\n"
                  f"# {spec['head']}.\n# {len(lines)} launches; kernel lines first, then training "
                  "lines (model.init=coupled).\n")
        out.write("\n".join(lines) + "\n")
    print(f"wrote {path}: {len(lines)} lines")


def main():
    for variant, spec in VARIANTS.items():
        write(variant, spec)
    return 0


if __name__ == "__main__":
    sys.exit(main())
