"""A catalogue of bad inputs. Each must end the run within seconds, on every rank, with a non-zero exit
status (2 for bad input, 1 for a runtime failure), exactly one `softntk: error:` line that names the
problem, no core dump and no hang, and must leave every file that existed before untouched."""
import glob
import hashlib
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import SOURCE, Suite, run  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

t = Suite("badinput")
SMALL = ["--run.output_dir=out", "--data.n=12", "--data.d=6", "--model.width=64",
         "--train.steps=20", "--checkpoint.every_steps=10"]


def write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)


def snapshot():
    """Hash of every file below the work directory (log.txt files grow by design)."""
    out = {}
    for p in glob.glob("**", recursive=True):
        if os.path.isfile(p) and not p.endswith("log.txt") and "/mnt/" not in p:
            out[p] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


# --- fixtures -------------------------------------------------------------------------------------
rng = np.random.default_rng(1)
X = rng.standard_normal((20, 6))
Y = rng.standard_normal((20, 1))
with h5py.File("good.h5", "w") as f:
    f["X"], f["Y"] = X, Y
with h5py.File("rows.h5", "w") as f:
    f["X"], f["Y"] = X, Y[:15]
with h5py.File("cube.h5", "w") as f:
    f["X"], f["Y"] = np.zeros((20, 6, 2)), Y
with h5py.File("text.h5", "w") as f:
    f["X"], f["Y"] = np.array([b"a", b"b"]), Y
Xn = X.copy()
Xn[3, 1] = np.nan
with h5py.File("nan.h5", "w") as f:
    f["X"], f["Y"] = Xn, Y
Yi = Y.copy()
Yi[7, 0] = np.inf
with h5py.File("inf.h5", "w") as f:
    f["X"], f["Y"] = X, Yi
write("plain.h5", "this is not HDF5\n")
os.makedirs("adir.h5", exist_ok=True)
write("nul.ini", b"[model]\nwidth = 8\x00\n", "wb")
write("broken.ini", "[model\nwidth = 8\n")
write("noequals.ini", "[model]\nwidth 8\n")
write("outside.ini", "width = 8\n[model]\n")
write("twice.ini", "[train]\nsteps = 3\nsteps = 4\n")
write("blocker", "a file where a directory should be\n")
r = run(2, ["train", "--run.name=good"] + SMALL)
t.check(r.code == 0, "fixture: a good run with checkpoints")
subprocess.run(["cp", "-r", "out/good", "out/damaged"], check=True)
ck = "out/damaged/checkpoints/ckpt-20.h5"
with open(ck, "r+b") as f:
    f.seek(os.path.getsize(ck) // 2)
    f.write(b"\xff" * 64)
subprocess.run(["cp", "-r", "out/good", "out/short"], check=True)
os.truncate("out/short/checkpoints/ckpt-20.h5", 3000)

F = ["--data.source=file"]
cases = [
    # (what, ranks, args, expected exit, fragments the message must contain)
    ("malformed line", 2, ["train", "noequals.ini"], 2, ["noequals.ini:2", "malformed"]),
    ("unterminated section", 2, ["train", "broken.ini"], 2, ["broken.ini:1"]),
    ("key outside a section", 1, ["train", "outside.ini"], 2, ["before any [section]"]),
    ("key given twice", 2, ["train", "twice.ini"], 2, ["twice.ini:3", "given twice"]),
    ("NUL bytes in the deck", 2, ["train", "nul.ini"], 2, ["NUL"]),
    ("deck is a directory", 1, ["train", "adir.h5"], 2, ["not a regular file"]),
    ("missing deck", 3, ["train", "missing.ini"], 2, ["missing.ini", "No such file"]),
    ("two decks", 1, ["train", "a.ini", "b.ini"], 2, ["more than one deck"]),
    ("unknown option", 2, ["train", "--verbose"], 2, ["unknown option '--verbose'"]),
    ("restart without value", 1, ["train", "--restart"], 2, ["--restart needs a value"]),
    ("unknown section", 2, ["train", "--solver.eta=1"], 2, ["unknown section [solver]"]),
    ("unknown key", 4, ["train", "--train.etaa=1"], 2, ["'etaa'", "'eta'"]),
    ("key in the wrong section", 2, ["train", "--data.width=8"], 2, ["belongs in [model]"]),
    ("integer expected", 2, ["train", "--data.n=many"], 2, ["data.n = 'many'"]),
    ("fractional integer", 1, ["train", "--model.width=10.5"], 2, ["model.width = '10.5'"]),
    ("number expected", 2, ["train", "--model.sigma=wide"], 2, ["model.sigma = 'wide'"]),
    ("infinite number", 2, ["train", "--train.eta=inf"], 2, ["train.eta = 'inf'"]),
    ("NaN number", 2, ["train", "--model.sigma=nan"], 2, ["model.sigma = 'nan'"]),
    ("boolean expected", 1, ["train", "--data.store=perhaps"], 2, ["data.store = 'perhaps'"]),
    ("choice expected", 2, ["train", "--model.activation=tanh"], 2, ["not one of"]),
    ("bad output scale", 2, ["train", "--model.output_scale=big"], 2, ["model.output_scale"]),
    ("negative n", 2, ["train", "--data.n=-5"], 2, ["data.n = -5", "out of range"]),
    ("eta = 0", 2, ["train", "--train.eta=0"], 2, ["train.eta = '0'", "> 0"]),
    ("m = 0", 2, ["train", "--model.width=0"], 2, ["model.width = 0"]),
    ("m < ranks", 4, ["train", "--model.width=2"], 2, ["number of MPI ranks (4)"]),
    ("odd width, coupled", 2, ["train", "--model.width=65"], 2, ["odd", "coupled"]),
    ("d = 1 with constant coordinate", 2, ["train", "--data.d=1"], 2, ["data.d = 1"]),
    ("file source without file", 2, ["train"] + F, 2, ["data.file"]),
    ("missing data file", 2, ["train", "--data.file=nothere.h5"] + F, 2, ["nothere.h5", "No such file"]),
    ("data file is a directory", 2, ["train", "--data.file=adir.h5"] + F, 2, ["not a regular file"]),
    ("non-HDF5 data file", 3, ["train", "--data.file=plain.h5"] + F, 2, ["not an HDF5 file"]),
    ("missing dataset", 2, ["train", "--data.file=good.h5", "--data.x_dataset=inputs"] + F, 2,
     ["no dataset 'inputs'"]),
    ("rows differ", 2, ["train", "--data.file=rows.h5"] + F, 2, ["20 rows", "15"]),
    ("3-D dataset", 2, ["train", "--data.file=cube.h5"] + F, 2, ["3 dimensions"]),
    ("non-numeric dataset", 2, ["train", "--data.file=text.h5"] + F, 2, ["not numeric"]),
    ("NaN in X", 2, ["train", "--data.file=nan.h5"] + F, 2, ["nan.h5:X[3, 1]"]),
    ("Inf in Y", 2, ["train", "--data.file=inf.h5"] + F, 2, ["inf.h5:Y[7, 0]"]),
    ("d differs from the file", 2, ["train", "--data.file=good.h5", "--data.d=5"] + F, 2,
     ["data.d = 5", "6 columns"]),
    ("n beyond the file", 2, ["train", "--data.file=good.h5", "--data.n=50"] + F, 2,
     ["data.n = 50", "only 20"]),
    ("too large for memory", 2, ["train", "--data.n=2000000000", "--data.d=1000"], 2,
     ["GiB per rank", "available"]),
    ("run name with a slash", 2, ["train", "--run.name=a/b"], 2, ["run.name = 'a/b'"]),
    ("output directory under a file", 2, ["train", "--run.output_dir=blocker/runs"], 1,
     ["blocker", "not a directory"]),
    ("damaged checkpoint, explicit", 2, ["train", "--run.name=damaged", "--restart",
                                         "out/damaged/checkpoints/ckpt-20.h5"] + SMALL, 2,
     ["ckpt-20.h5", "damaged"]),
    ("truncated checkpoint, explicit", 2, ["train", "--run.name=short", "--restart",
                                           "out/short/checkpoints/ckpt-20.h5"] + SMALL, 2,
     ["ckpt-20.h5"]),
    ("checkpoint of another deck", 2, ["train", "--run.name=good", "--data.n=13"] + SMALL[:1]
     + SMALL[2:], 2, ["data.n = 12 there, 13 here"]),
    ("missing checkpoint", 2, ["train", "--run.name=x", "--restart", "nope.h5"] + SMALL, 2,
     ["nope.h5", "No such file"]),
    ("inspect a missing file", 1, ["inspect", "nope.h5"], 2, ["nope.h5"]),
    ("inspect a non-softntk file", 1, ["inspect", "good.h5"], 2, ["not a softntk file"]),
    ("over-long value", 1, ["train", "--run.name=" + "x" * 2000], 2, ["longer than"]),
    ("a file that crashes the HDF5 library", 2,
     ["train", f"--data.file={os.path.join(SOURCE, 'tests/fuzz/corpus/data/hdf5_segv.h5')}"] + F,
     2, ["hdf5_segv.h5 is damaged", "crashed the HDF5 library"]),
]

for what, np_, args, code, frags in cases:
    before = snapshot()
    t0 = time.time()
    r = run(np_, args, timeout=60)
    took = time.time() - t0
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("softntk: error:")]
    core = glob.glob("core*")
    unchanged = all(snapshot().get(p) == h for p, h in before.items())
    ok = (r.code == code and len(lines) == 1 and all(f in lines[0] for f in frags) and took < 20
          and not core and unchanged)
    t.check(ok, f"{what} (np={np_}): exit {r.code} in {took:.1f} s, files "
                f"{'unchanged' if unchanged else 'CHANGED'}: "
                f"{lines[0][16:] if len(lines) == 1 else r.stderr.strip()[-300:]}")
t.check(len(cases) >= 30, f"{len(cases)} bad inputs in the catalogue (>= 30)")
sys.exit(t.finish())
