"""The Slurm batch scripts (slurm/), run on a real single-node Slurm started for this test.

Starts munged, slurmctld and slurmd on localhost (tests/slurmcluster.py; slurm-wlm and munge are
installed first when missing), then checks the acceptance criteria of the Slurm issue:
- a training job with a 2-minute limit and --signal=B:USR1@80 is warned by Slurm before its limit,
  checkpoints (SIGUSR2 forwarded through srun), requeues itself and finishes; its loss series and
  final W equal an uninterrupted 2-rank run BIT FOR BIT. The deck's step count is calibrated so the
  uninterrupted run takes about 70 s: longer than the latest moment the warning can come (Slurm
  checks signal times every 30 s, so it comes between about 10 and 40 s after the start; a requeued
  job starts about 15 s after such a check and is warned at the next one, so every later segment
  runs about 15 s);
- the same job through mpirun with SNTK_MAX_REQUEUES=0, warned by `scancel --batch --signal=USR1`:
  exit 3 with a valid checkpoint and no requeue;
- an array sweep (slurm/sweep.sh) gives one run per sweep line, named as documented, with the line's
  overrides applied;
- slurm/scaling.sh: the analysis job starts after every strong and weak scaling job ended and writes
  its PNG, PDF and JSON;
- slurm/experiment.sh width: one run per sweep line and the analysis figure;
- the daemons are stopped by their PIDs and no process of the cluster is left (also when a check
  fails: the clean-up is in a `finally`, and a reaper process covers a killed test).
Exits 77 (skip) only when Slurm cannot run here (not root, packages not installable)."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import SOFTNTK, SOURCE, Suite, run  # noqa: E402
from slurmcluster import Cluster, Unavailable, pid_alive, read_pid  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

JOB = os.path.join(SOURCE, "slurm", "softntk.sbatch")
QUICK = os.path.join(SOURCE, "experiments", "quickstart.ini")
DONE_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
               "BOOT_FAIL", "DEADLINE", "PREEMPTED"}
LIMIT_MIN, LEAD_S, TARGET_S = 2, 80, 70


class Interrupted(Exception):
    pass


def on_signal(sig, frame):
    raise Interrupted(f"interrupted by {signal.Signals(sig).name}")


def jobs(cluster, job_id):
    """scontrol's view of a job (one dict per array task)."""
    out = cluster.cmd(["scontrol", "show", "job", "-o", str(job_id)]).stdout
    return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in out.splitlines() if line.strip()]


def wait_jobs(cluster, ids, timeout):
    """Wait until every job (and array task) in ids has ended; returns {id: [task dicts]}."""
    end = time.time() + timeout
    while True:
        info = {j: jobs(cluster, j) for j in ids}
        if all(tasks and all(t.get("JobState") in DONE_STATES for t in tasks)
               for tasks in info.values()):
            return info
        if time.time() > end:
            raise RuntimeError(f"jobs {ids} not done after {timeout} s: "
                               + "; ".join(f"{j}: {[t.get('JobState') for t in v]}"
                                           for j, v in info.items()))
        time.sleep(1)


def submit(cluster, args, env=None):
    p = cluster.cmd(["sbatch", "--parsable"] + args, env=env or {})
    if p.returncode != 0:
        raise RuntimeError(f"sbatch {' '.join(args)} failed: {p.stderr}")
    return p.stdout.strip().split(";")[0]


def helper(cluster, script, args):
    """Run a submit-side script of slurm/; returns its output (the job IDs are in it)."""
    p = cluster.cmd([os.path.join(SOURCE, "slurm", script)] + args)
    if p.returncode != 0:
        raise RuntimeError(f"slurm/{script} {' '.join(args)} failed ({p.returncode}): "
                           f"{p.stdout}{p.stderr}")
    print(p.stdout, end="", flush=True)
    return p.stdout


def series(path):
    with h5py.File(path, "r") as f:
        return f["train/step"][...], f["train/loss"][...], int(f.attrs["m"])


def final_w(run_dir, step):
    with h5py.File(os.path.join(run_dir, "checkpoints", f"ckpt-{step}.h5"), "r") as f:
        return f["W"][...]


def slurm_time(s):
    return time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%S"))


def check_requeue(t, cluster):
    """A training job warned by Slurm before its time limit, requeued, identical to a plain run."""
    deck = [QUICK, "--run.output_dir=out", "--model.width=16384", "--train.eta=1e-6",
            "--checkpoint.keep=2", "--data.store=false"]
    r = run(2, ["train"] + deck + ["--run.name=calib", "--train.steps=100", "--train.log_every=100"])
    m = re.search(r"steps in ([0-9.]+) s", r.stdout)
    per_step = float(m.group(1)) / 100 if r.code == 0 and m else 0.02
    steps = int(min(max(TARGET_S / per_step, 1000), 50000))
    deck += [f"--train.steps={steps}", f"--train.log_every={max(steps // 10, 1)}"]
    print(f"calibration: {per_step:.2e} s/step on 2 ranks -> {steps} steps (about {TARGET_S} s)",
          flush=True)

    t0 = time.time()
    r = run(2, ["train"] + deck + ["--run.name=ref"], timeout=900)
    ref_s = time.time() - t0
    t.check(r.code == 0, f"uninterrupted reference run: {steps} steps on 2 ranks in {ref_s:.0f} s")

    t0 = time.time()
    job = submit(cluster, [f"--time={LIMIT_MIN}", f"--signal=B:USR1@{LEAD_S}", "--ntasks=2",
                           "--output=logs/requeue-%j.out", JOB, "train"] + deck
                 + ["--run.name=requeue"])
    info = wait_jobs(cluster, [job], 900)[job][0]
    took = time.time() - t0
    with open(f"logs/requeue-{job}.out") as f:
        log = f.read()
    print("---- job output (progress lines omitted) ----\n"
          + "".join(ln + "\n" for ln in log.splitlines() if not ln.startswith(" ")) + "----",
          flush=True)
    warnings = log.count("SIGUSR1 from Slurm")
    requeues = int(info.get("Restarts", "0"))
    starts = [time.mktime(time.strptime(s, "%Y-%m-%d %H:%M:%S")) for s in
              re.findall(r"softntk.sbatch: (\S+ \S+): job \d+ \(requeued", log)]
    signals = [time.mktime(time.strptime(s, "%Y-%m-%d %H:%M:%S")) for s in
               re.findall(r"softntk.sbatch: (\S+ \S+): SIGUSR1 from Slurm", log)]
    lags = [round(sg - max(s for s in starts if s <= sg)) for sg in signals if starts]
    t.check(info.get("JobState") == "COMPLETED" and info.get("ExitCode") == "0:0",
            f"job {job} ({LIMIT_MIN} min limit, --signal=B:USR1@{LEAD_S}) ends COMPLETED, exit "
            f"{info.get('ExitCode')}, after {took:.0f} s")
    # Slurm may send the warning up to 60 s early (its event resolution), so the last
    # allocation can be warned just as the run finishes on its own (exit 0): such a
    # warning needs no checkpoint and no requeue.
    late = len(re.findall(r"softntk exited with status 0 after \d+ s \(after Slurm's warning", log))
    t.check(warnings >= 1 and requeues >= 1 and late <= 1 and requeues == warnings - late,
            f"Slurm's warning came {warnings} time(s), {lags} s after each start (limit "
            f"{60 * LIMIT_MIN} s; {late} as the run was finishing); the job requeued itself "
            f"{requeues} time(s) (scontrol: Restarts)")
    t.check(log.count("on SIGUSR2: the checkpoint is valid") == warnings - late
            and "DUE TO TIME LIMIT" not in log,
            "every warning during the run ended with a SIGUSR2 checkpoint (exit 3) before the "
            "time limit")
    t.check(log.count("resuming from out/requeue/checkpoints/ckpt-") == requeues,
            "every rerun resumed from the checkpoint (--restart auto), appending to the same output")
    a, b = series("out/ref/results.h5"), series("out/requeue/results.h5")
    same = np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    same_w = np.array_equal(final_w("out/ref", steps), final_w("out/requeue", steps))
    t.check(same and same_w and len(b[1]) == steps + 1,
            f"loss series ({len(b[1])} rows) and final W equal the uninterrupted run bit for bit")


def check_max_requeues(t, cluster):
    """mpirun launcher; the warning sent by hand; SNTK_MAX_REQUEUES=0: exit 3 and no requeue."""
    deck = [QUICK, "--run.output_dir=out", "--model.width=4096", "--train.steps=200000",
            "--train.log_every=100000", "--run.name=norequeue"]
    job = submit(cluster, ["--ntasks=2", "--output=logs/norequeue-%j.out", JOB, "train"] + deck,
                 env={"SNTK_LAUNCHER": "mpirun", "SNTK_MAX_REQUEUES": "0"})
    end = time.time() + 60
    while time.time() < end and not os.path.exists("out/norequeue/results.h5"):
        time.sleep(0.5)
    time.sleep(2)
    cluster.cmd(["scancel", "--batch", "--signal=USR1", job])
    info = wait_jobs(cluster, [job], 120)[job][0]
    with open(f"logs/norequeue-{job}.out") as f:
        log = f.read()
    ckdir = "out/norequeue/checkpoints"
    ck = sorted((f for f in (os.listdir(ckdir) if os.path.isdir(ckdir) else [])
                 if f.startswith("ckpt-") and f.endswith(".h5")), key=lambda f: int(f[5:-3]))
    valid = bool(ck) and run(1, ["inspect", f"out/norequeue/checkpoints/{ck[-1]}"]).code == 0
    t.check(info.get("JobState") == "FAILED" and info.get("ExitCode") == "3:0"
            and info.get("Restarts") == "0" and "not requeueing" in log and valid
            and "mpirun /" in log,
            f"mpirun, SNTK_MAX_REQUEUES=0, warned by scancel --batch --signal=USR1: "
            f"{info.get('JobState')} exit {info.get('ExitCode')}, Restarts={info.get('Restarts')}, "
            f"checkpoint {ck[-1] if ck else None} valid={valid}")


def check_sweep(t, cluster):
    """slurm/sweep.sh: one run per line, names <sweep>-<i> or the line's run.name."""
    with open("widths.txt", "w") as f:
        f.write("# a comment line, then a blank line: neither counts\n\n"
                "--model.width=64\n"
                "  # indented comment\n"
                "--model.width=96 --train.steps=30\n"
                "--model.width=128 --run.name=custom\n")
    out = helper(cluster, "sweep.sh", ["--throttle", "2", "--ntasks=1", "--time=5",
                                       "--logs", "logs", "widths.txt", QUICK,
                                       "--run.output_dir=out/sweep", "--train.steps=20"])
    job = re.search(r"array job (\d+)", out).group(1)
    shown = cluster.cmd(["scontrol", "show", "job", job]).stdout
    info = wait_jobs(cluster, [job], 300)[job]
    states = sorted(i.get("JobState") for i in info)
    runs = {name: series(f"out/sweep/{name}/results.h5") if os.path.exists(
        f"out/sweep/{name}/results.h5") else None for name in ("widths-0", "widths-1", "custom")}
    ok = all(runs.values()) and [runs[n][2] for n in ("widths-0", "widths-1", "custom")] == [64, 96, 128]
    ok = ok and [int(runs[n][0][-1]) for n in ("widths-0", "widths-1", "custom")] == [20, 30, 20]
    t.check(states == ["COMPLETED"] * 3 and ok and len(os.listdir("out/sweep")) == 3,
            f"array sweep over 3 lines (plus comments and a blank line), throttle 2: task states "
            f"{states}; runs {sorted(os.listdir('out/sweep'))} with widths and steps as their lines say")
    throttle = re.search(r"ArrayTaskThrottle=(\d+)", shown) or re.search(r"ArrayTaskId=\S*%(\d+)", shown)
    t.check(throttle is not None and throttle.group(1) == "2",
            f"the array job carries the throttle: {throttle.group(0) if throttle else 'not shown'}")


def check_scaling(t, cluster):
    """slurm/scaling.sh: strong and weak series, analysis after all of them, figure written."""
    out = helper(cluster, "scaling.sh", ["--name", "sc", "--output-dir", "out", "--ranks", "1 2",
                                         "--width", "8192", "--width-per-rank", "4096",
                                         "--time=5", QUICK, "--train.steps=60",
                                         "--train.log_every=30"])
    series_ids = re.findall(r"scaling, \d rank\(s\) on \d node\(s\): job (\d+)", out)
    ana = re.search(r"analysis: job (\d+)", out).group(1)
    dep = jobs(cluster, ana)[0].get("Dependency", "")
    info = wait_jobs(cluster, series_ids + [ana], 300)
    last_end = max(slurm_time(info[j][0]["EndTime"]) for j in series_ids)
    start = slurm_time(info[ana][0]["StartTime"])
    files = [f"out/sc/sc.{e}" for e in ("png", "pdf", "json")]
    ok = all(os.path.exists(p) and os.path.getsize(p) > 0 for p in files)
    data = json.load(open(files[2])) if ok else {}
    ps = {k: [r["P"] for r in data.get(k, [])] for k in ("strong", "weak")}
    t.check(len(series_ids) == 4 and all(info[j][0]["JobState"] == "COMPLETED" for j in series_ids)
            and all(f"afterany:{j}" in dep for j in series_ids),
            f"scaling: 4 training jobs {series_ids} COMPLETED; analysis job {ana} had Dependency={dep}")
    t.check(info[ana][0]["JobState"] == "COMPLETED" and start >= last_end,
            f"the analysis job started {start - last_end:.0f} s after the last scaling job ended")
    t.check(ok and ps == {"strong": [1, 2], "weak": [1, 2]}
            and all(r["efficiency"] > 0 for k in data for r in data[k]),
            f"it wrote {', '.join(files)} with strong and weak rows for P = 1, 2 "
            f"(efficiency {[round(r['efficiency'], 2) for k in data for r in data[k]]})")


def check_experiment(t, cluster):
    """slurm/experiment.sh width: the sweep, then the analysis figure."""
    out = helper(cluster, "experiment.sh", ["width"])
    sweep = re.search(r"sweep array job (\d+)", out).group(1)
    ana = re.search(r"analysis job (\d+)", out).group(1)
    info = wait_jobs(cluster, [sweep, ana], 400)
    with open(os.path.join(SOURCE, "experiments", "width", "sweep.txt")) as f:
        lines = [ln for ln in f if ln.strip() and not ln.strip().startswith("#")]
    runs = sorted(d for d in os.listdir("runs/width") if d.startswith("width-"))
    files = [f"runs/width/width.{e}" for e in ("png", "pdf", "json")]
    ok = all(os.path.exists(p) for p in files)
    rows = json.load(open(files[2])) if ok else []
    after = slurm_time(info[ana][0]["StartTime"]) - max(slurm_time(i["EndTime"]) for i in info[sweep])
    t.check(all(i["JobState"] == "COMPLETED" for i in info[sweep]) and len(runs) == len(lines)
            and info[ana][0]["JobState"] == "COMPLETED" and ok and len(rows) == len(lines)
            and after >= 0,
            f"slurm/experiment.sh width: {len(runs)} runs for {len(lines)} sweep lines; the analysis "
            f"started {after:.0f} s after the last task ended, {info[ana][0]['JobState']}, figure "
            f"{files[0]} ({len(rows)} widths)")


def main():
    t = Suite("slurm")
    os.makedirs("logs", exist_ok=True)
    root = tempfile.mkdtemp(prefix="sntk-slurm-")
    cluster = Cluster(root)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        cluster.start_reaper()
        cluster.start()
    except Unavailable as exc:
        cluster.stop()
        print(f"SKIP: Slurm cannot run here: {exc}")
        return 77
    except (RuntimeError, OSError, subprocess.SubprocessError, Interrupted) as exc:
        t.check(False, f"the test cluster starts: {exc}")
    try:
        if t.failures:
            raise Interrupted("no cluster")
        os.environ["SLURM_CONF"] = cluster.conf  # for the reference runs' children too
        os.environ["SNTK_BIN"] = SOFTNTK
        os.environ["SNTK_ROOT"] = SOURCE
        print(f"cluster up in {root}: node {cluster.node}", flush=True)
        for check in (check_requeue, check_max_requeues, check_sweep, check_scaling,
                      check_experiment):
            try:
                check(t, cluster)
            except (RuntimeError, OSError, KeyError, ValueError, AttributeError) as exc:
                t.check(False, f"{check.__name__}: {type(exc).__name__}: {exc}")
    except Interrupted as exc:
        t.check(False, str(exc))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        pids = {n: read_pid(p) for n, p in cluster.pids.items()}
        notes = cluster.stop()
        alive = [f"{n} {p}" for n, p in pids.items() if p and pid_alive(p)]
        strays = cluster.stray_pids()
        t.check(all(pids.values()) and not alive and not strays,
                f"daemons stopped by PID ({', '.join(f'{n} {p}' for n, p in pids.items())}); "
                f"still alive: {alive or 'none'}; left-over job processes: {strays or 'none'}"
                + (f"; notes: {notes}" if notes else ""))
        if t.failures:
            print(cluster.log_tail(lines=30))
        shutil.rmtree(root, ignore_errors=True)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
