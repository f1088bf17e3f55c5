#!/usr/bin/python3
"""Write experiments/threshold/sweep-tiny.txt, sweep-small.txt and sweep-full.txt.

usage: experiments/threshold/make_sweep.py [SOFTNTK]   (default: build/softntk; run from the
repository root, writes into this directory; needs mpirun)

Every line trains one (activation, n, m, seed) with the learning rate eta = 0.9 / lambda_max(J J^T):
J J^T = m H for softmax and exp and J J^T = H for relu, with lambda_max(H*) of the first seed's data
for that n, read from `softntk ntk --ntk.limit=true` (a width-2 network: H* does not depend on m).
The loss target is 1 % of L(0) = n / 2. Deterministic: the same binary and deck give the same files."""
import os
import subprocess
import sys
import tempfile

import h5py

HERE = os.path.dirname(os.path.abspath(__file__))
ACTS = ("softmax", "exp", "relu")
VARIANTS = {
    "tiny": {"n": [16, 64], "m": [2 ** k for k in range(1, 8)], "seeds": [1], "extra": "",
             "head": "n = 16, 64, m = 2..128 (factors of 2), 1 seed, 5000 steps: 42 runs of 1 rank, "
                     "about 30 s on 2 cores (tests/test_experiments.py)"},
    "small": {"n": [8, 16, 32, 64, 128], "m": [2 ** k for k in range(1, 13)], "seeds": [1, 2],
              "extra": "",
              "head": "n = 8..128, m = 2..4096 (factors of 2), 2 seeds, 5000 steps: 360 runs of "
                      "1 rank, about 3 minutes on 2 cores"},
    "full": {"n": [8, 16, 32, 64, 128, 256, 512], "m": [2 ** k for k in range(1, 17)],
             "seeds": [1, 2, 3, 4], "extra": " --train.steps=20000",
             "head": "n = 8..512, m = 2..65536 (factors of 2), 4 seeds, 20000 steps: 1344 runs"},
}


def lambda_max(softntk, act, n, tmp):
    """lambda_max(H*) for activation act on the deck's data with n points (seed 1)."""
    name = f"lmax-{act}-{n}"
    subprocess.run(["mpirun", "-np", "1", softntk, "ntk", os.path.join(HERE, "deck.ini"),
                    f"--model.activation={act}", f"--data.n={n}", "--model.width=2",
                    "--ntk.limit=true", f"--run.output_dir={tmp}", f"--run.name={name}"],
                   check=True, stdout=subprocess.DEVNULL)
    with h5py.File(os.path.join(tmp, name, "ntk.h5"), "r") as f:
        return float(f["ntk/limit"].attrs["lambda_max"])


def write(variant, spec, lmax):
    path = os.path.join(HERE, f"sweep-{variant}.txt")
    with open(path, "w") as out:
        out.write(f"# experiments/threshold, {variant} (written by make_sweep.py):\n# {spec['head']}.\n"
                  "# eta = 0.9 / lambda_max(J J^T); lambda_max(H*) for n = "
                  + ", ".join(str(n) for n in spec["n"]) + ":\n")
        for a in ACTS:
            out.write(f"#   {a}: " + ", ".join(f"{lmax[a, n]:.4g}" for n in spec["n"]) + "\n")
        for act in ACTS:
            for n in spec["n"]:
                for m in spec["m"]:
                    eta = 0.9 / (lmax[act, n] * (1 if act == "relu" else m))
                    for seed in spec["seeds"]:
                        out.write(f"--model.activation={act} --data.n={n} --model.width={m} "
                                  f"--train.eta={eta:.5e} --train.target_loss={0.005 * n:g} "
                                  f"--run.seed={seed}{spec['extra']}\n")
    print(f"wrote {path}")


def main(argv):
    softntk = argv[1] if len(argv) > 1 else "build/softntk"
    ns = sorted({n for spec in VARIANTS.values() for n in spec["n"]})
    with tempfile.TemporaryDirectory() as tmp:
        lmax = {(a, n): lambda_max(softntk, a, n, tmp) for a in ACTS for n in ns}
    for variant, spec in VARIANTS.items():
        write(variant, spec, lmax)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
