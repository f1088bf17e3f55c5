"""The declared schema of the output files (src/h5/schema.c, `softntk inspect --schema`):
- every file the commands write passes `softntk inspect` against it: train (NTK snapshots, saved Gram
  matrices, held-out regression, full spectrum, checkpoints), ntk (limit, regression on held-out
  points, perturbation, save_gram), score with diffusion.regression and ntk.gd (results.h5,
  regression.h5, checkpoints), score on a file target, sample, bench;
- planted errors in a file fail inspect, naming the path: a dataset and an attribute the schema
  lacks, wrong units, a wrong type, a wrong size, a missing required attribute;
- the README's schema section is what scripts/schema_doc.py generates from the schema;
- every HDF5 path the analysis scripts (analysis/*.py) read is declared, and a planted undeclared
  path is caught by the same check.
(That a writer adding an undeclared path fails is tests/test_schema.c.)"""
import glob
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import SOFTNTK, SOURCE, Suite, run  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

t = Suite("schema")
OUT = ["--run.output_dir=out", "--run.overwrite=true"]
SMALL = ["--data.n=23", "--data.d=6", "--model.width=98", "--ntk.holdout=7"]


def inspect(path):
    p = subprocess.run([SOFTNTK, "inspect", path], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


# --- every file the commands write passes inspect -------------------------------------------------
runs = [
    ("train", 2, ["train", "--run.name=tr", "--data.k=2", "--train.steps=20", "--ntk.every=5",
                  "--ntk.save_gram=true", "--ntk.spectrum=full", "--checkpoint.every_steps=10"]
     + SMALL),
    ("ntk", 2, ["ntk", "--run.name=nk", "--ntk.limit=true", "--ntk.save_gram=true",
                "--ntk.perturb=true", "--ntk.perturb_gd_steps=5"] + SMALL),
    ("score", 2, ["score", "--run.name=sc", "--diffusion.regression=true", "--ntk.ridge=1e-2",
                  "--ntk.gd=true", "--model.width=64", "--train.steps=20", "--ntk.every=10",
                  "--diffusion.samples=200"]),
    ("sample", 2, ["sample", "--run.name=sc", "--model.width=64", "--diffusion.samples=200"]),
    ("bench", 1, ["bench", "--run.name=be", "--bench.n=64", "--bench.d=8", "--bench.m=64",
                  "--bench.gram_n=32", "--bench.gram_m=32", "--bench.eigen_n=40", "--bench.reps=1"]),
]
# a file target (/diffusion/second_moment instead of the mixture's means and weights)
rng = np.random.default_rng(3)
with h5py.File("mix.h5", "w") as f:
    f["samples/x"] = rng.standard_normal((500, 2))
runs.append(("score (file target)", 2,
             ["score", "--run.name=sf", "--diffusion.target=file", "--diffusion.file=mix.h5",
              "--diffusion.dataset=samples/x", "--model.width=64", "--train.steps=10",
              "--diffusion.samples=100"]))
for name, np_, args in runs:
    r = run(np_, args + OUT, timeout=300)
    t.check(r.code == 0, f"{name} exits 0 {r.stderr[-300:]}")
files = sorted(glob.glob("out/*/*.h5") + glob.glob("out/*/checkpoints/*.h5"))
kinds = {os.path.basename(f) if "ckpt-" not in f else "checkpoint" for f in files}
t.check(kinds >= {"results.h5", "ntk.h5", "samples.h5", "regression.h5", "bench.h5", "checkpoint"},
        f"the commands wrote every kind of file: {sorted(kinds)}")
for f in files:
    code, out = inspect(f)
    line = [x for x in out.splitlines() if "schema (" in x]
    t.check(code == 0 and line and line[0].rstrip().endswith("ok"),
            f"inspect {f}: exit {code}, {line[0].strip() if line else out[-400:]}")

# --- planted errors in a file: inspect fails naming what is wrong ---------------------------------


def plant(label, src, edit, words):
    shutil.copy(src, "planted.h5")
    with h5py.File("planted.h5", "r+") as f:
        edit(f)
    code, out = inspect("planted.h5")
    bad = [x for x in out.splitlines() if "FAILED (schema)" in x]
    t.check(code == 1 and bad and all(w in bad[0] for w in words),
            f"planted {label}: inspect exits {code}: {bad[0].strip() if bad else out[-300:]}")


def units(f):
    f["train/loss"].attrs["units"] = np.bytes_("s")


def shape(f):
    x = f["data/X"][...]
    del f["data/X"]
    f.create_dataset("data/X", data=x[:, :-1])
    f["data/X"].attrs["units"] = np.bytes_("1")
    f["data/X"].attrs["description"] = np.bytes_("training inputs, one sample per row")


def ty(f):
    v = f["ntk/gram_0"][...]
    del f["ntk/gram_0"]
    f["ntk/gram_0"] = v.astype(np.int64)


R = "out/tr/results.h5"
plant("dataset /train/planted", R, lambda f: f.create_dataset("train/planted", data=[1.0]),
      ["/train/planted", "not in the schema"])
plant("attribute /ntk@planted", R, lambda f: f["ntk"].attrs.create("planted", 1.0),
      ["/ntk@planted", "not in the schema"])
plant("units s on /train/loss", R, units, ["/train/loss", "units"])
plant("/data/X with d - 1 columns", R, shape, ["/data/X", "d = 6"])
plant("/ntk/gram_0 stored as int64", R, ty, ["/ntk/gram_0", "i64"])
plant("no config_hash", R, lambda f: f.attrs.__delitem__("config_hash"),
      ["/@config_hash", "missing"])
plant("a results dataset in bench.h5", "out/be/bench.h5",
      lambda f: f.create_dataset("train/loss", data=[1.0]), ["/train", "bench"])

# --- inspect --schema ------------------------------------------------------------------------------
KINDS = ("results", "ntk", "samples", "regression", "bench", "checkpoint")
for kind in KINDS:
    p = subprocess.run([SOFTNTK, "inspect", "--schema", kind], capture_output=True, text=True)
    heads = [ln[2:] for ln in p.stdout.splitlines() if ln[2:] in KINDS and ln.startswith("# ")]
    t.check(p.returncode == 0 and heads == [kind],
            f"inspect --schema {kind}: {sum(ln.startswith('/') for ln in p.stdout.splitlines())} "
            f"entries")
p = subprocess.run([SOFTNTK, "inspect", "--schema", "nope"], capture_output=True, text=True)
t.check(p.returncode == 2 and "nope" in p.stderr, f"inspect --schema nope: exit {p.returncode}")

# --- the schema document is current ---------------------------------------------------------------
doc = subprocess.run([sys.executable, os.path.join(SOURCE, "scripts", "schema_doc.py"), "--check",
                      SOFTNTK], capture_output=True, text=True)
t.check(doc.returncode == 0, f"the README's schema section is generated from the schema: {doc.stdout.strip()}")

# --- every path the analysis scripts read is declared ---------------------------------------------
text = subprocess.run([SOFTNTK, "inspect", "--schema"], capture_output=True, text=True).stdout
declared = sorted({ln.split(" | ")[0] for ln in text.splitlines()
                   if ln.startswith("/") and " | " in ln})


def pattern(p):
    q = re.escape(p)
    q = q.replace(re.escape("<step>"), r"\d+")
    return re.compile("^" + re.sub(r"\\<[a-z]+\\>", r"[A-Za-z0-9_]+", q) + "$")


PATTERNS = [pattern(p) for p in declared if "@" not in p]
GROUPS = ("train", "ntk", "score", "samples", "diffusion", "perf", "perturb", "data", "bench",
          "history")
# "group/name..." literals, and chains f["group"]["name"] on an h5py handle (f, g, h, fh, h5; the
# analysis' own dicts, run["perf"]["step"], are not files)
LIT = re.compile(r'"((?:%s)(?:/[A-Za-z0-9_]*)*)"' % "|".join(GROUPS))
CHAIN = re.compile(r'\b(?:f|g|h|fh|h5)\["((?:%s))"\]\["([A-Za-z0-9_]+)"\]' % "|".join(GROUPS))


def paths_of(source):
    out = set()
    for m in LIT.finditer(source):
        out.add("/" + m.group(1))
    for m in CHAIN.finditer(source):
        out.add(f"/{m.group(1)}/{m.group(2)}")
    return out


def declared_path(p):
    """A path or prefix ("ntk/regression/" + name) that names a declared object, or the group of
    declared objects."""
    p = p.rstrip("/")
    return any(r.match(p) for r in PATTERNS) or any(d.startswith(p + "/") for d in declared)


used, undeclared = set(), []
for script in sorted(glob.glob(os.path.join(SOURCE, "analysis", "*.py"))):
    for p in paths_of(open(script).read()):
        used.add(p)
        if not declared_path(p):
            undeclared.append(f"{os.path.basename(script)}: {p}")
t.check(len(used) >= 20 and not undeclared,
        f"{len(used)} HDF5 paths read by analysis/*.py, every one declared (undeclared: "
        f"{undeclared})")
planted = paths_of('x = f["ntk/planted_series"][...]; y = f["train"]["not_a_column"]')
t.check(sorted(p for p in planted if not declared_path(p)) == ["/ntk/planted_series",
                                                              "/train/not_a_column"]
        and "/perf/step" not in paths_of('run["perf"]["step"]'),
        f"planted analysis paths are caught: {sorted(planted)}")

sys.exit(t.finish())
