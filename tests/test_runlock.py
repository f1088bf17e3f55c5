"""One writer per run directory (softntk.lock, see include/softntk/runlock.h):
- a second `softntk train` in the directory of a running one exits 2 within 5 s (mpirun's start
  included), before writing anything, with one message naming the holder (command, pid, host,
  start time, config hash); ntk, score, sample and bench are refused the same way; the first run
  carries on undisturbed;
- two identical runs started 0.3 s apart (an array job without the task id in its name): one
  refuses, the other ends bit-identical to an uninterrupted run;
- the same with the lock-file mode (run.lock = file), whose heartbeat advances while the run lives;
- a lock left by a holder killed with SIGKILL is taken over with a message (both modes), and no
  lock file stays behind after a run;
- a holder whose launcher is gone (a leftover of a killed run) running the same trajectory (here
  with another run.lock_wait) is waited for: the restart proceeds once it ends, or refuses after run.lock_wait seconds naming its pid;
- mpirun killed with SIGKILL (its ranks live on) and the same command started again at once
  resumes and ends bit-identical to an uninterrupted run;
- a lock file of a process on another host (file mode) is honoured while its heartbeat moves, and
  taken over once it has stood still for 20 s."""
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import SOFTNTK, Suite, run  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

t = Suite("runlock")
DECK = ["--run.output_dir=out", "--data.n=24", "--data.d=8", "--model.width=2048",
        "--model.init=random", "--train.eta=2e-5", "--train.log_every=500",
        "--checkpoint.every_steps=250", "--data.store=false"]
LONG = DECK + ["--train.steps=4000"]  # a few seconds on two ranks


def series(name):
    with h5py.File(f"out/{name}/results.h5", "r") as f:
        return f["train/step"][...], f["train/loss"][...]


def final_w(name, step):
    with h5py.File(f"out/{name}/checkpoints/ckpt-{step}.h5", "r") as f:
        return f["W"][...]


def same_as(ref, name, step):
    (sa, la), (sb, lb) = series(ref), series(name)
    return (np.array_equal(sa, sb) and la.tobytes() == lb.tobytes()
            and np.array_equal(final_w(ref, step), final_w(name, step)))


def start(args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.Popen(["mpirun", "-np", "2", SOFTNTK] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=e)


def wait_lock(name, timeout=60):
    """The holder's text once its lock file names a process (the run has begun)."""
    path, t_end = f"out/{name}/softntk.lock", time.time() + timeout
    while time.time() < t_end:
        try:
            text = open(path).read()
            if text.endswith("end\n"):
                return dict(ln.split(" ", 1) for ln in text.splitlines()[:-1] if " " in ln)
        except OSError:
            pass
        time.sleep(0.02)
    return {}


def error_lines(stderr):
    return [ln for ln in stderr.splitlines() if ln.startswith("softntk: error:")]


r = run(2, ["train", "--run.name=ref"] + LONG)
t.check(r.code == 0, f"uninterrupted reference run {r.stderr[-200:]}")

# --- how long a 2-rank command takes to start and refuse bad input here, under the same load
# (mpirun, MPI_Init, the deck): the refusals below are timed against it (a sanitizer build starts
# in ~4-6 s, a plain one in ~1 s), so "at once" means within 5 s of what any refusal costs -------
def startup(cmd="train", reps=1):
    took = []
    for _ in range(reps):
        t0 = time.time()
        r = run(2, [cmd, "--run.name=startup", "--run.no_such_key=1"] + DECK)
        took.append(time.time() - t0)
        assert r.code == 2, r.stderr[-300:]
    return sorted(took)[reps // 2]


print(f"a 2-rank refusal for bad input takes {startup(reps=3):.2f} s here (median of 3)")

# --- a second writer is refused at once, for every command that writes a run directory ----------
BUSY = DECK + ["--train.steps=400000"]  # stopped with SIGUSR2 once the checks are done
for mode in ("flock", "file"):
    name = f"busy-{mode}"
    first = start(["train", f"--run.name={name}", f"--run.lock={mode}"] + BUSY)
    holder = wait_lock(name)
    t.check(holder.get("mode") == mode and holder.get("command") == "train",
            f"{mode}: the lock file names its holder: pid {holder.get('pid')} on "
            f"{holder.get('host')}, started {holder.get('started')}")
    if mode == "file":
        b0 = int(holder.get("beat", "0"))
        time.sleep(2.5)
        b1 = int(wait_lock(name).get("beat", "0"))
        t.check(b1 > b0, f"file: the holder's heartbeat advances ({b0} -> {b1} in 2.5 s)")
    for cmd in ("train", "ntk", "score", "sample", "bench"):
        base = startup(cmd)  # while the holder runs
        t0 = time.time()
        r = run(2, [cmd, f"--run.name={name}", f"--run.lock={mode}"] + BUSY)
        took = time.time() - t0
        lines = error_lines(r.stderr)
        names = lines and all(holder.get(k, "?") in lines[0]
                              for k in ("pid", "host", "started", "config_hash"))
        t.check(r.code == 2 and len(lines) == 1 and names and "softntk train" in lines[0]
                and took < base + 5,
                f"{mode}: a second `{cmd}` exits {r.code} after {took:.2f} s (< {base:.1f} + 5, "
                f"mpirun included) naming the holder: {lines[0][:150] if lines else r.stderr[-200:]}")
    first.send_signal(signal.SIGUSR2)
    out, err = first.communicate(timeout=300)
    code = subprocess.run([SOFTNTK, "inspect", f"out/{name}/results.h5"],
                          capture_output=True, text=True).returncode
    t.check(first.returncode == 3 and code == 0 and not os.path.exists(f"out/{name}/softntk.lock"),
            f"{mode}: the first run, undisturbed, stops on SIGUSR2 (exit {first.returncode}) with "
            f"results that inspect accepts (exit {code}) and removes its lock file")

# --- two identical runs 0.3 s apart -------------------------------------------------------------
a = start(["train", "--run.name=twin"] + LONG)
time.sleep(0.3)
b = start(["train", "--run.name=twin"] + LONG)
outs = [p.communicate(timeout=300) for p in (a, b)]
codes = sorted([a.returncode, b.returncode])
refused = [e for (o, e), p in zip(outs, (a, b)) if p.returncode == 2]
t.check(codes == [0, 2] and refused and "in use by softntk train" in refused[0]
        and same_as("ref", "twin", 4000),
        f"two runs 0.3 s apart: exits {codes}; the later is refused, the other ends "
        f"bit-identical to the uninterrupted run")

# --- a holder killed with SIGKILL leaves a lock that is taken over ------------------------------
for mode in ("flock", "file"):
    name = f"stale-{mode}"
    p = subprocess.Popen([SOFTNTK, "train", f"--run.name={name}", f"--run.lock={mode}"] + LONG,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    holder = wait_lock(name)
    p.send_signal(signal.SIGKILL)
    p.wait()
    left = os.path.exists(f"out/{name}/softntk.lock")
    r = run(2, ["train", f"--run.name={name}", f"--run.lock={mode}"] + LONG)
    t.check(left and r.code == 0 and "took over the lock" in r.stderr
            and f"pid {holder.get('pid')}" in r.stderr and "gone" in r.stderr
            and same_as("ref", name, 4000),
            f"{mode}: a lock left by a killed holder is taken over with a message and the run "
            f"resumes bit-identical (exit {r.code}): "
            f"{[ln for ln in r.stderr.splitlines() if 'took over' in ln][:1]}")

# --- a leftover of a killed run (its launcher gone) is waited for --------------------------------
for wait, kill_after in ((30, 2.0), (2, None)):
    name = f"leftover-{wait}"
    LEFT = DECK + ["--checkpoint.every_steps=500", "--train.steps=10000000"]  # killed by the test
    # a singleton run whose parent shell exits once the run holds the lock: it lives on without
    # its launcher
    sh = subprocess.Popen(["sh", "-c", f"'{SOFTNTK}' train --run.name={name} " + " ".join(LEFT)
                           + " >/dev/null 2>&1 & echo $!; read x"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True)
    orphan = int(sh.stdout.readline())
    wait_lock(name)
    sh.communicate("go\n", timeout=30)  # the shell exits: its child's launcher is gone
    holder = wait_lock(name)
    killer = None
    while kill_after and not os.path.exists(f"out/{name}/checkpoints/ckpt-500.h5"):
        time.sleep(0.05)
    if kill_after:
        killer = threading.Timer(kill_after, lambda: os.kill(orphan, signal.SIGKILL))
        killer.start()
    base = 0.0 if kill_after else startup()  # while the leftover runs
    t0 = time.time()
    # the same trajectory; a restart that ends at the checkpoint it resumes from (train.steps = 1)
    r = run(2, ["train", f"--run.name={name}", f"--run.lock_wait={wait}"] + LEFT
            + (["--train.steps=1"] if kill_after else []), timeout=300)
    took = time.time() - t0
    if killer:
        killer.join()
        t.check(holder.get("pid") == str(orphan) and r.code == 0 and "waiting up to 30 s" in r.stdout
                and f"pid {orphan}" in r.stdout and took >= kill_after and "resuming from" in r.stdout,
                f"the restart waits for a leftover of the same deck whose launcher is gone "
                f"(pid {orphan}), and once it is killed {kill_after:.0f} s later resumes from its "
                f"checkpoint (exit {r.code}, {took:.1f} s)")
    else:
        lines = error_lines(r.stderr)
        t.check(r.code == 2 and lines and f"kill -9 {orphan}" in lines[0] and took < base + 2 + 5,
                f"with run.lock_wait = 2 a leftover still alive is refused after {took:.1f} s "
                f"(< {base:.1f} + 2 + 5) with advice: {lines[0][:160] if lines else r.stderr[-200:]}")
        os.kill(orphan, signal.SIGKILL)

# --- mpirun killed, its ranks alive, the same command at once -----------------------------------
p = start(["train", "--run.name=relaunch"] + LONG, env={"SOFTNTK_FAULT": "step@1600:launcher"})
p.communicate(timeout=120)
r = run(2, ["train", "--run.name=relaunch"] + LONG)
t.check(r.code == 0 and "resuming from" in r.stdout and same_as("ref", "relaunch", 4000),
        f"mpirun killed at step 1600 while its ranks live on, restarted at once: resumes (exit "
        f"{r.code}; {'waited for the leftover' if 'waiting up to' in r.stdout else 'took over'}) "
        f"and ends bit-identical to the uninterrupted run")

# --- a lock of another host (file mode): honoured while its heartbeat moves ----------------------
os.makedirs("out/remote", exist_ok=True)
TEXT = ("softntk-lock 1\nbeat {beat:020d}\ncommand train\nhost far-away-node\npid 4242\n"
        "pid_start 1\nppid 4241\nppid_start 1\nstarted 2026-01-01T00:00:00Z\n"
        "config_hash 0123456789abcdef\nmode file\nranks far-away-node:4242:1\nend\n")
stop = threading.Event()


def beat():
    n = 0
    while not stop.is_set():
        with open("out/remote/softntk.lock", "w") as f:
            f.write(TEXT.format(beat=n))
        n += 1
        stop.wait(1.0)


thread = threading.Thread(target=beat)
thread.start()
time.sleep(0.2)
base = startup()
t0 = time.time()
r = run(2, ["train", "--run.name=remote", "--run.lock=file"] + DECK + ["--train.steps=100"])
took = time.time() - t0
stop.set()
thread.join()
lines = error_lines(r.stderr)
t.check(r.code == 2 and took < base + 5 and lines and "far-away-node" in lines[0],
        f"a live lock of another host (heartbeat every second) is refused after {took:.1f} s "
        f"(< {base:.1f} + 5): "
        f"{lines[0][:120] if lines else r.stderr[-200:]}")
t0 = time.time()
r = run(2, ["train", "--run.name=remote", "--run.lock=file", "--run.lock_wait=0"] + DECK
        + ["--train.steps=100"])
took = time.time() - t0
t.check(r.code == 0 and took >= 20 and "took over the lock" in r.stderr,
        f"a lock of another host whose heartbeat stood still is taken over after {took:.1f} s "
        f"(>= 20) with a message (exit {r.code})")

# --- failed commands leave nothing behind ---------------------------------------------------------
r = run(2, ["sample", "--run.name=nothing-here"] + DECK)
t.check(r.code == 2 and not os.path.exists("out/nothing-here"),
        f"a command refused for bad input (sample without a checkpoint, exit {r.code}) leaves no "
        f"run directory behind")
sys.exit(t.finish())
