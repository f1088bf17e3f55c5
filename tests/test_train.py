"""Training end to end through the command line and results.h5:
- a wide network on a small problem reduces the loss by at least 1e4 for each activation (learning
  rates about 0.8 / lambda_max(J J^T) from the limiting kernels of DESIGN.md section 2: lambda_max(H*) =
  15.6 (softmax), 42.3 (exp), 3.05 (relu) for this data, J J^T = m H for softmax and exp, = H for relu);
- the loss series on 1 and 3 ranks agree within the round-off bound of clitest.series_bound over 50
  steps (each evaluation's round-off carried through the gradient steps);
- the quick-start deck runs on 2 ranks and writes a results file h5py reads."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import SOURCE, Suite, run, series_bound  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

t = Suite("train")
BASE = ["--run.output_dir=out", "--data.n=16", "--data.d=16", "--model.width=4096"]


def losses(name):
    with h5py.File(f"out/{name}/results.h5", "r") as f:
        return f["train/loss"][...], dict(f.attrs)


for act, eta in [("softmax", 1.25e-5), ("exp", 4.6e-6), ("relu", 0.26)]:
    r = run(2, ["train", f"--run.name={act}", f"--model.activation={act}", f"--train.eta={eta}",
                "--train.steps=300", "--train.log_every=100"] + BASE)
    if not t.check(r.code == 0, f"{act}: training run exits 0 ({r.stderr.strip()[:200]})"):
        continue
    L, _ = losses(act)
    # an acceptance threshold (training works), not a round-off tolerance: at these rates the
    # linearised dynamics contract every mode of J J^T by (1 - eta lambda_q)^2 per step
    t.check(L[0] / L[-1] >= 1e4, f"{act}: loss {L[0]:.3e} -> {L[-1]:.3e}, "
                                 f"reduced {L[0] / L[-1]:.2e}x in 300 steps (>= 1e4)")

series = {}
for np_ in (1, 3):
    r = run(np_, ["train", f"--run.name=p{np_}", "--model.init=random", "--model.width=301",
                  "--train.eta=2e-4", "--train.steps=50"] + BASE[:3])
    t.check(r.code == 0, f"P={np_} run exits 0 ({r.stderr.strip()[:200]})")
    series[np_] = losses(f"p{np_}")[0] if r.code == 0 else None
if series[1] is not None and series[3] is not None:
    rel = np.abs(series[3] - series[1]) / np.abs(series[1])
    e = np.max(rel / np.array(series_bound("out/p1/results.h5", 3)))
    t.check(len(series[1]) == 51 and e <= 1,
            f"loss series P=3 vs P=1 (m=301, random init): max rel diff {np.max(rel):.1e}, {e:.1e} "
            f"of the round-off bound (<= 1), final loss {series[1][-1]:.3e}")

deck = os.path.join(SOURCE, "experiments", "quickstart.ini")
r = run(2, ["train", deck, "--run.output_dir=out"])
ok = r.code == 0 and "results: out/quickstart/results.h5" in r.stdout
if t.check(ok, f"quick-start deck on 2 ranks exits 0 and says where its results went"):
    L, a = losses("quickstart")
    t.check(a["mpi_size"] == 2 and L[0] / L[-1] > 1e6,  # acceptance threshold (README's run)
            f"quick-start: loss {L[0]:.3e} -> {L[-1]:.3e} on {a['mpi_size']} ranks")

sys.exit(t.finish())
