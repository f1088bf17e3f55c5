"""End-to-end checks of the softntk command line: help and version, every class of input error (exit
status 2, one message from rank 0, named key/file), runtime errors (exit 1), data files, the results file
and the overwrite guard. Runs the real executable under mpirun, 1 to 4 ranks."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import Suite, run, h5attrs  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

t = Suite("cli")
SMALL = ["--data.n=12", "--data.d=6", "--model.width=64", "--train.steps=5", "--train.log_every=1"]


def expect_input_error(what, np_, args, *fragments):
    r = run(np_, args)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("softntk: error:")]
    ok = r.code == 2 and len(lines) == 1 and all(f in lines[0] for f in fragments)
    t.check(ok, f"{what} (np={np_}): exit {r.code}, {len(lines)} error line(s): "
                f"{lines[0] if lines else r.stderr.strip()[:300]}")


# help and version
r = run(1, ["--version"])
t.check(r.code == 0 and r.stdout.startswith("softntk "), f"--version: {r.stdout.strip()}")
r = run(1, ["--help"])
t.check(r.code == 0 and "train" in r.stdout, "--help lists the commands")
r = run(1, ["help", "train"])
keys = ["name", "output_dir", "seed", "source", "target", "n", "d", "k", "constant_coord", "noise",
        "file", "x_dataset", "y_dataset", "store", "activation", "width", "sigma", "output_scale",
        "init", "steps", "eta", "target_loss", "log_every", "chunk"]
missing = [k for k in keys if f"\n  {k} " not in r.stdout]
t.check(r.code == 0 and not missing, f"help train lists every key (missing: {missing})")
r = run(1, [])
t.check(r.code == 2 and "no command" in r.stderr, "no command: exit 2")

# input errors: exit 2, exactly one message, naming the problem
expect_input_error("unknown command", 2, ["trian"], "unknown command 'trian'", "'train'")
expect_input_error("unknown key", 2, ["train", "--model.widht=8"], "unknown key 'widht'",
                   "did you mean 'width'")
expect_input_error("unknown section", 2, ["train", "--modle.width=8"], "unknown section [modle]")
expect_input_error("m = 0", 2, ["train", "--model.width=0"], "model.width = 0", "out of range")
expect_input_error("m < ranks", 4, ["train", "--model.width=3", "--model.init=random"],
                   "model.width = 3", "number of MPI ranks (4)")
expect_input_error("non-numeric", 3, ["train", "--train.eta=fast"], "train.eta = 'fast'",
                   "'auto' or a finite number")
expect_input_error("missing data file", 2,
                   ["train", "--data.source=file", "--data.file=/nonexistent/x.h5"],
                   "/nonexistent/x.h5", "No such file")
expect_input_error("missing deck", 2, ["train", "nowhere.ini"], "nowhere.ini", "No such file")
expect_input_error("unknown option", 1, ["train", "--frobnicate"], "unknown option '--frobnicate'")
with open("bad_deck.ini", "w") as f:
    f.write("[model]\nwidth = 8\n[train]\nsteps = 10\nlog_evry = 3\n")
expect_input_error("unknown key in deck", 2, ["train", "bad_deck.ini"], "bad_deck.ini:5",
                   "'log_evry'", "'log_every'")

# data files
rng = np.random.default_rng(3)
X = rng.standard_normal((20, 6))
X /= np.linalg.norm(X, axis=1, keepdims=True)
Y = rng.standard_normal((20, 2))
with h5py.File("data_ok.h5", "w") as f:
    f["inputs/X"] = X
    f["inputs/Y"] = Y
with h5py.File("data_rows.h5", "w") as f:
    f["X"] = X
    f["Y"] = Y[:19]
Xn = X.copy()
Xn[4, 2] = np.nan
with h5py.File("data_nan.h5", "w") as f:
    f["X"] = Xn
    f["Y"] = Y
with open("data_text.h5", "w") as f:
    f.write("not hdf5\n")
fileargs = ["--data.source=file", "--model.width=32", "--train.steps=3", "--run.output_dir=out"]
r = run(2, ["train", "--data.file=data_ok.h5", "--data.x_dataset=inputs/X",
            "--data.y_dataset=inputs/Y", "--run.name=file"] + fileargs)
ok = r.code == 0
if ok:
    with h5py.File("out/file/results.h5", "r") as f:
        ok = np.array_equal(f["data/X"][...], X) and np.array_equal(f["data/Y"][...], Y)
t.check(ok, f"data from an HDF5 file (nested dataset paths) is used and stored: exit {r.code} "
            f"{r.stderr.strip()[:200]}")
expect_input_error("row mismatch", 2, ["train", "--data.file=data_rows.h5"] + fileargs,
                   "data_rows.h5", "20 rows", "19")
expect_input_error("NaN in data", 2, ["train", "--data.file=data_nan.h5"] + fileargs,
                   "data_nan.h5:X[4, 2]", "finite")
expect_input_error("not HDF5", 2, ["train", "--data.file=data_text.h5"] + fileargs,
                   "not an HDF5 file")
expect_input_error("missing dataset", 2, ["train", "--data.file=data_ok.h5"] + fileargs,
                   "no dataset 'X'")
expect_input_error("d mismatch", 2, ["train", "--data.file=data_ok.h5", "--data.d=5",
                                     "--data.x_dataset=inputs/X", "--data.y_dataset=inputs/Y"]
                   + fileargs, "data.d = 5", "6 columns")

# results file: attributes, series lengths, h5dump can read it
r = run(2, ["train", "--run.output_dir=out", "--run.name=attrs"] + SMALL)
path = "out/attrs/results.h5"
t.check(r.code == 0 and os.path.exists(path), f"small run writes {path}")
a = h5attrs(path)
need = ["format", "format_version", "softntk_version", "config", "config_hash", "mpi_size",
        "start_time", "gamma", "nu", "n", "d", "k", "m", "activation"]
t.check(all(k in a for k in need) and a["mpi_size"] == 2 and a["gamma"] == 64.0 and a["nu"] == 64.0,
        f"root attributes present, mpi_size 2, gamma = nu = m = 64 "
        f"(missing {[k for k in need if k not in a]})")
with h5py.File(path, "r") as f:
    lens = {k: f["train"][k].shape[0] for k in ["step", "loss", "grad_norm", "max_drift",
                                                 "wall_time"]}
    units = f["train/wall_time"].attrs["units"]
    t.check(set(lens.values()) == {6} and list(f["train/step"][...]) == list(range(6)),
            f"/train series hold steps 0..5: {lens}")
    t.check(units in (b"s", "s"), "wall_time carries units")
    t.check("[model]\nactivation = softmax\nwidth = 64\n" in a["config"],
            "the resolved config is stored")
    ev = [e.decode() for e in f["perf/event"][...]]
    cnt = dict(zip(ev, f["perf/count"][...]))
    tavg = dict(zip(ev, f["perf/time_avg"][...]))
    parts = sum(tavg[e] for e in ["forward_gemm", "activation", "allreduce", "backward_gemm",
                                  "backward_elem"])
    # the phases are disjoint intervals inside each step, timed by MPI_Wtime differences: their sum
    # exceeds the step's time only by the clock's resolution (1e-9 s, clock_gettime) per reading,
    # about 60 readings = 6e-8 s against a total step time above 1e-3 s: 1e-3 relative bounds it
    t.check(cnt["step"] == 6 and cnt["update"] == 5 and 0 < parts <= tavg["step"] * 1.001
            and f["perf/flops"][ev.index("forward_gemm")] > 0,
            f"/perf: 6 steps, 5 updates, phases inside the step time ({parts:.2e} <= "
            f"{tavg['step']:.2e} s), flops counted")
# the BLAS that ran, as the loaded library reports it (the same line as softntk --version)
ver = dict(ln.split(": ", 1) for ln in run(1, ["--version"]).stdout.splitlines() if ": " in ln)
blas = a.get("blas", "")
t.check(blas and blas == ver.get("BLAS") and " from /" in blas
        and blas.split()[0] in ("OpenBLAS", "BLIS", "reference", "unknown"),
        f"results.h5 records the BLAS that ran, as --version reports it: {blas}")
t.check(os.system(f"h5dump -H {path} > /dev/null") == 0, "h5dump reads results.h5")

# an existing run: the same command continues it (here: already complete), another deck is refused,
# and a results file without checkpoints is never replaced unless run.overwrite = true
before = open(path, "rb").read()
expect_input_error("existing run, other deck", 2,
                   ["train", "--run.output_dir=out", "--run.name=attrs", "--model.width=32"] + SMALL[:2]
                   + SMALL[3:], "belongs to a different run", "model.width = 64 there, 32 here")
t.check(open(path, "rb").read() == before, "the existing results.h5 is untouched")
r = run(2, ["train", "--run.output_dir=out", "--run.name=attrs"] + SMALL)
with h5py.File(path, "r") as f:
    steps = list(f["train/step"][...])
t.check(r.code == 0 and "resuming from" in r.stdout and steps == list(range(6)),
        f"rerunning a finished run continues from its final checkpoint and changes nothing: {steps}")
r = run(1, ["train", "--run.output_dir=out", "--run.name=nockpt", "--checkpoint.final=false"] + SMALL)
expect_input_error("results without checkpoint", 2,
                   ["train", "--run.output_dir=out", "--run.name=nockpt"] + SMALL,
                   "already holds results.h5", "run.overwrite = true")

# runtime errors: non-finite losses give exit 1 and advice
r = run(2, ["train", "--run.output_dir=out", "--run.name=overflow", "--model.activation=relu",
            "--model.output_scale=1e300", "--model.init=random"] + SMALL)
lines = [ln for ln in r.stderr.splitlines() if ln.startswith("softntk: error:")]
t.check(r.code == 1 and len(lines) == 1 and "at initialisation" in lines[0]
        and "model.output_scale" in lines[0],
        f"infinite initial loss: exit {r.code}: {lines[0] if lines else r.stderr[:200]}")
r = run(1, ["train", "--run.output_dir=out", "--run.name=expover", "--model.activation=exp",
            "--model.sigma=800", "--model.init=random"] + SMALL)
t.check(r.code == 1 and "overflow" in r.stderr and "model.sigma" in r.stderr,
        f"exp overflow at initialisation: exit {r.code}: {r.stderr.strip()[:200]}")
r = run(2, ["train", "--run.output_dir=out", "--run.name=grow", "--model.activation=exp",
            "--train.eta=1", "--train.steps=200"] + SMALL[:3])
t.check(r.code == 1 and "diverged" in r.stderr and "train.eta" in r.stderr,
        f"loss growth by 1e6 stops the run: exit {r.code}: {r.stderr.strip()[:200]}")

# data.seed keeps the data fixed while run.seed varies the weights; its default (-1) is run.seed
NS = ["ntk", "--run.output_dir=out", "--run.overwrite=true", "--data.n=10", "--data.d=5",
      "--model.width=64", "--ntk.spectrum=values", "--ntk.limit=false"]
for name, extra in [("ds_a", ["--run.seed=1", "--data.seed=5"]),
                    ("ds_b", ["--run.seed=2", "--data.seed=5"]),
                    ("ds_c", ["--run.seed=5"])]:
    run(1, NS + [f"--run.name={name}"] + extra)
with h5py.File("out/ds_a/ntk.h5") as fa, h5py.File("out/ds_b/ntk.h5") as fb, \
        h5py.File("out/ds_c/ntk.h5") as fc:
    same = np.array_equal(fa["data/X"][...], fb["data/X"][...]) and \
        np.array_equal(fa["data/Y"][...], fc["data/Y"][...])
    lam = [f["ntk/lambda_min"][0] for f in (fa, fb, fc)]
    seeds = [(f.attrs["seed"], f.attrs["data_seed"]) for f in (fa, fb, fc)]
t.check(same and lam[0] != lam[1] and seeds == [(1, 5), (2, 5), (5, 5)],
        f"data.seed = 5: the same data for run.seed 1 and 2 (and for run.seed = 5 with the default "
        f"data.seed), other weights (lambda_min {lam[0]:.4e} vs {lam[1]:.4e}); (seed, data_seed) "
        f"recorded {seeds}")

# run.seeds: one run per seed in one launch, each in <name>-s<seed>
r = run(2, NS + ["--run.name=sweep", "--run.seeds=3,5-6", "--data.seed=5"])
dirs = sorted(d for d in os.listdir("out") if d.startswith("sweep-s"))
with h5py.File("out/sweep-s5/ntk.h5") as f5, h5py.File("out/ds_a/ntk.h5") as fa:
    same_data = np.array_equal(f5["data/X"][...], fa["data/X"][...])
    s5 = f5.attrs["seed"]
t.check(r.code == 0 and dirs == ["sweep-s3", "sweep-s5", "sweep-s6"] and s5 == 5 and same_data
        and r.stdout.count("seed ") >= 3 and "seed 3 of 3" in r.stdout,
        f"run.seeds = 3,5-6: exit {r.code}, runs {dirs}, run.seed 5 in sweep-s5, data fixed")
expect_input_error("backward seed range", 2, NS + ["--run.seeds=9-3"], "run.seeds = '9-3'",
                   "backwards")
expect_input_error("run.seeds on bench", 1, ["bench", "--run.seeds=1-2"], "run.seeds",
                   "not supported by softntk bench")

# ntk.solver: the backend that ran is recorded; ELPA without ELPA built, or on a matrix that leaves a
# process column without a block, is an input error (SNTK_HAVE_ELPA: set by tests/meson.build)
if os.environ.get("SNTK_HAVE_ELPA") == "1":
    r = run(2, NS + ["--run.name=elpa", "--ntk.solver=elpa", "--parallel.nb=4"])
    with h5py.File("out/elpa/ntk.h5") as f:
        solver = f["ntk"].attrs["solver"]
        solver = solver.decode() if isinstance(solver, bytes) else solver
    t.check(r.code == 0 and solver == "elpa",
            f"ntk.solver = elpa runs, its residual checks pass (a FAILED one exits 1) and it is "
            f"recorded: exit {r.code}, /ntk@solver {solver}")
    expect_input_error("ELPA with a process column empty", 2,
                       NS + ["--ntk.solver=elpa", "--parallel.nb=64"], "ntk.solver = elpa needs",
                       "parallel.nb")
else:
    expect_input_error("ELPA not built", 2, NS + ["--ntk.solver=elpa"], "ntk.solver = elpa",
                       "built without it")

# train.eta = auto: eta_factor / lambda_max(J J^T) at initialisation by power iteration (rtol 1e-3,
# a lower bound), rounded down to two digits; lambda_max(J J^T) = gamma^2 / nu lambda_max(H) from
# softntk ntk's eigen-solve on the same deck (ScaLAPACK, to ~n eps). So eta_auto <= 1 / lambda_max
# and eta_auto > 0.9 (1 - 1e-3) / lambda_max (two-digit truncation loses less than 1 part in 10).
ET = ["--run.output_dir=out", "--run.overwrite=true", "--data.n=24", "--data.d=6",
      "--model.width=512", "--train.steps=30", "--train.log_every=10",
      "--checkpoint.every_steps=10"]
r = run(2, ["train", "--run.name=etaauto", "--restart", "none"] + ET)
rn = run(2, ["ntk", "--run.name=etaauto_ntk", "--ntk.spectrum=values", "--ntk.limit=false"] + ET)
if t.check(r.code == 0 and rn.code == 0 and "eta = auto: lambda_max(J J^T) = " in r.stdout,
           f"train.eta = auto (the default) prints the power iteration: exit {r.code}, {rn.code}"):
    a = h5attrs("out/etaauto/results.h5")
    an = h5attrs("out/etaauto_ntk/ntk.h5")
    lmax = an["gamma"] ** 2 / an["nu"] * h5py.File("out/etaauto_ntk/ntk.h5")["ntk/lambda_max"][0]
    eta = a["eta"]
    t.check(0.9 * (1 - 1e-3) / lmax < eta <= 1.0 / lmax / (1 - 1e-3) and "auto" in a["eta_rule"]
            and f"{eta:.1e}" in r.stdout.replace("e-0", "e-0"),
            f"eta = {eta:.3e} against 1 / lambda_max(J J^T) = {1 / lmax:.6e} from the eigen-solve "
            f"({eta * lmax:.4f} of it)")
    # a restart on another rank count keeps the checkpoint's eta bit for bit
    run(2, ["train", "--run.name=etakill", "--restart", "none"] + ET,
        env={"SOFTNTK_FAULT": "step@15"})
    r3 = run(3, ["train", "--run.name=etakill"] + ET)
    with h5py.File("out/etakill/checkpoints/ckpt-30.h5") as f:
        ck = f.attrs["eta"]
    a3 = h5attrs("out/etakill/results.h5")
    t.check(r3.code == 0 and "resuming from" in r3.stdout and "power iteration" not in r3.stdout
            and a3["eta"] == eta and ck == eta,
            f"killed at step 15 and resumed on 3 ranks: the checkpoint's eta {ck:.3e} reused "
            f"(no power iteration), results eta {a3['eta']:.3e}")

sys.exit(t.finish())
