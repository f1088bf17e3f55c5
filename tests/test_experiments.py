"""Every experiment's analysis on tiny results made here, and its planted errors.

For each experiments/NAME/ whose experiment.conf declares a `tiny` variant: run the tiny sweep and
the analysis with scripts/run_experiment.sh (the same runner users call), then check that the
analysis wrote its PNG, PDF and JSON and that every fitted number listed for `tiny` in
experiments/NAME/expect.json falls in its documented range (analysis/check_expect.py). The ranges
and why they are what they are are in each experiment's README. Then every planted error of
tests/plants.py for NAME is injected into a copy of the outputs and the same checks must fail on it
(a check a plausible bug passes tests nothing)."""
import glob
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import SOFTNTK, SOURCE, Suite  # noqa: E402

sys.path.insert(0, os.path.join(SOURCE, "analysis"))
from check_expect import check  # noqa: E402
from plants import PLANTS  # noqa: E402
from sntk_stats import analysis_check, plants_caught  # noqa: E402

t = Suite("experiments")
env = dict(os.environ, SNTK_BIN=SOFTNTK)
names = sys.argv[1:] or sorted(
    os.path.basename(os.path.dirname(c))
    for c in glob.glob(os.path.join(SOURCE, "experiments", "*", "experiment.conf"))
    if "tiny" in open(c).read().split("VARIANTS=", 1)[-1].split("\n", 1)[0])
if not sys.argv[1:]:  # the whole set; names given on the command line are taken as they are
    t.check(len(names) >= 7, f"{len(names)} experiments with a tiny variant: {' '.join(names)}")
for name in names:
    p = subprocess.run([os.path.join(SOURCE, "scripts", "run_experiment.sh"), "--clean", name,
                        "tiny", "runs"], capture_output=True, text=True, env=env, timeout=600)
    tail = (p.stdout + p.stderr).strip().splitlines()[-12:]
    if not t.check(p.returncode == 0, f"{name}: tiny sweep and analysis exit 0"
                   + ("" if p.returncode == 0 else ":\n    " + "\n    ".join(tail))):
        continue
    base = os.path.join("runs", name, "tiny", name)
    t.check(all(os.path.getsize(base + ext) > 1000 for ext in (".png", ".pdf")),
            f"{name}: figure written as PNG and PDF")
    with open(base + ".json") as f:
        result = json.load(f)
    with open(os.path.join(SOURCE, "experiments", name, "expect.json")) as f:
        expect = json.load(f)
    t.check(len(expect.get("tiny", [])) >= 1, f"{name}: expect.json lists the tiny variant's ranges")
    lines, _ = check(result, expect, "tiny")
    for ln in lines:
        t.check(ln.startswith("ok"), f"{name}: {ln[5:]}")
    if name not in PLANTS:
        continue
    conf = open(os.path.join(SOURCE, "experiments", name, "experiment.conf")).read()
    analysis = conf.split("ANALYSIS=", 1)[1].split()[0]
    checker = analysis_check(os.path.join(SOURCE, analysis),
                             os.path.join(SOURCE, "experiments", name, "expect.json"), "tiny",
                             python="/usr/bin/python3")
    base, res = plants_caught(os.path.join("runs", name, "tiny"), os.path.join("planted", name),
                              PLANTS[name], checker)
    t.check(base["passed"], f"{name}: the unchanged copy of the outputs passes its checks"
            + ("" if base["passed"] else ":\n" + base["text"][-800:]))
    for r in res:
        t.check(r["caught"], f"{name}: planted error '{r['name']}' fails the checks")
sys.exit(t.finish())
