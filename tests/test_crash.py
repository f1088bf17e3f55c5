"""Kill -9 at random moments, restart at once, and compare with an uninterrupted run.

For `softntk train` and `softntk score`, both with NTK snapshots and saved Gram matrices, two modes:
- launcher: SIGKILL to mpirun only. Its ranks live on for about a second and keep writing (the
  restart must wait for them: one writer per run directory);
- all: SIGKILL to mpirun and every rank at the same moment (results.h5 may be torn mid-flush: the
  restart must repair it from the checkpoint's series).
A kill moment is a random step (uniform between the newest checkpoint and the end: the run is
killed up to 0.3 s after its progress line reaches that step, so kills land wherever the load puts
the run's pace) or a fault point at a random step: inside the results flush (`results-flush`,
between the columns of a flush, those written so far on disk; `results-extend`, a dataset's new
extent on disk but not its rows: the torn files a kill inside H5Fclose leaves), the checkpoint
write, the rename, or a step; in launcher mode the fault point kills the launcher (`:launcher`)
and the ranks carry on.
After every kill the same command is started again at once, until a run ends by itself. In 40 % of
the stepped kills the restart is begun before the kill (as a scheduler's requeue may: the
old run is killed 0.3 to 1.5 s after the restart logs that it resumes, or after at most 2 s), so the
killed run certainly writes while the restart is under way; on a loaded machine a restart started
after the kill is often slower than the ranks' second of afterlife, and the race would rarely show.
A restart begun while the old run still had its launcher is refused (exit 2, naming it), rightly.
When a run has ended by itself, every series of results.h5 must equal the uninterrupted run's row
for row, bit for bit (wall_time, which measures time, only in length), the /score best step too,
every Gram matrix kept must equal the uninterrupted run's, the final W must be bitwise equal, and
`softntk inspect` must accept the results file. At least KILLS moments per command and mode (4 x KILLS in all).

A run that prints no progress line for STALL seconds while it should is a hang: the test prints its
ranks' stacks (gdb where installed, else their wait channels) and its log's tail, and fails.

SOFTNTK_CRASH_SEED fixes the random choices (the kill timing still depends on the machine);
SOFTNTK_CRASH_KILLS changes KILLS."""
import glob
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clitest import SOFTNTK, Suite, run  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

t = Suite("crash")
SEED = int(os.environ.get("SOFTNTK_CRASH_SEED", "13"))
KILLS = int(os.environ.get("SOFTNTK_CRASH_KILLS", "26"))
rng = random.Random(SEED)
print(f"seed {SEED}, at least {KILLS} kill moments per command and mode", flush=True)

COMMON = ["--run.output_dir=out", "--checkpoint.every_steps=60", "--checkpoint.keep=3",
          "--ntk.every=40", "--ntk.save_gram=true"]
DECKS = {
    "train": ["train", "--data.n=32", "--data.d=8", "--model.width=1024", "--model.init=random",
              "--train.eta=4e-5", "--train.steps=300", "--train.log_every=7"] + COMMON,
    "score": ["score", "--model.width=64", "--train.steps=300", "--train.eta=5e-5",
              "--train.log_every=7", "--diffusion.samples=0", "--diffusion.samples_train=32",
              "--diffusion.eval_every=10", "--diffusion.eval_points=256", "--diffusion.t0=0.01",
              "--diffusion.T=2"] + COMMON,
}
STEPS = {"train": 300, "score": 300}
STALL = 60  # seconds without a progress line: a hang (a 300-step run takes ~1 s alone, ~10 s loaded)
POINTS = ["results-flush", "results-extend", "ckpt-write", "ckpt-rename", "step"]


def children(pid):
    """Pids of the processes whose parent is pid (the ranks of an mpirun)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


LEFTOVERS = []  # rank pids that outlived their killed launcher


def said(stderr):
    """softntk's own error and warning lines of a run (the launcher's banner left out)."""
    lines = [ln for ln in stderr.splitlines() if ln.startswith("softntk:")]
    return " | ".join(lines)[-400:] if lines else stderr[-200:]


def launch(cmd, name, fault=None):
    env = dict(os.environ)
    if fault:
        env["SOFTNTK_FAULT"] = fault
    return subprocess.Popen(["mpirun", "-np", "2", SOFTNTK] + DECKS[cmd] + [f"--run.name={name}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def newest_checkpoint(name):
    steps = [int(os.path.basename(p)[5:-3]) for p in glob.glob(f"out/{name}/checkpoints/ckpt-*.h5")]
    return max(steps) if steps else 0


def kill(p, ranks, mode):
    """SIGKILL to the launcher, and in mode all to its ranks at the same moment."""
    for pid in ranks if mode == "all" else []:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    p.stderr.read()
    if mode == "launcher":
        LEFTOVERS.extend(ranks)


def until_resuming(q, log, size, longest):
    """Wait until the restart q logs that it resumes (it has read its checkpoint and is bringing
    results.h5 back to it), or `longest` seconds (a restart waiting for the lock logs nothing)."""
    t_end = time.time() + longest
    while time.time() < t_end and q.poll() is None:
        try:
            with open(log) as f:
                f.seek(size)
                if "resuming from" in f.read():
                    return True
        except OSError:
            pass
        time.sleep(0.01)
    return False


def progress(log, size):
    """Steps of the progress lines appended to log since byte `size`."""
    try:
        with open(log) as f:
            f.seek(size)
            return [int(m.group(1)) for m in re.finditer(r"^ +(\d+) +[-+.0-9e]+ ", f.read(), re.M)]
    except OSError:
        return []


def stacks(p, name, why):
    """A run that stopped making progress: its ranks' stacks (gdb, where installed; the kernel's
    wait channel otherwise) and the tail of its log, printed so that a hang explains itself."""
    out = [f"  STALLED {name}: {why}"]
    for pid in children(p.pid):
        try:
            with open(f"/proc/{pid}/wchan") as f:
                out.append(f"    rank pid {pid}: wait channel {f.read().strip() or '-'}")
        except OSError:
            continue
        if shutil.which("gdb"):
            g = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt 25"],
                               capture_output=True, text=True, timeout=60)
            out += ["      " + ln for ln in g.stdout.splitlines() if ln.startswith(("#", "Thread"))]
    try:
        with open(f"out/{name}/log.txt") as f:
            out += ["    log: " + ln for ln in f.read().splitlines()[-25:]]
    except OSError:
        pass
    print("\n".join(out), flush=True)


def kill_moment(cmd, name, mode, running):
    """One launch (or the restart already under way, `running`) killed at a random moment.
    Returns (killed, exit code, the kill moment or, when the run ended by itself, the tail of its
    error output, the restart begun before the kill or None)."""
    fault = None
    if running is None and rng.random() < 0.3:
        point, start = rng.choice(POINTS), newest_checkpoint(name)
        grid = 60 if point.startswith("ckpt") else 7 if point.startswith("results") else 1
        steps = [s for s in range(start, STEPS[cmd]) if s % grid == 0 and s > 0]
        if steps:
            fault = f"{point}@{rng.choice(steps[:8])}" + (":launcher" if mode == "launcher" else "")
    if fault:
        p, ranks, t_end = launch(cmd, name, fault), [], time.time() + 120
        while p.poll() is None and time.time() < t_end:
            ranks = children(p.pid) or ranks
            time.sleep(0.02)
        if p.poll() is None:
            p.kill()
        p.wait()
        err = p.stderr.read()  # a rank's own message is lost when it killed mpirun
        killed = "fault injected" in err or p.returncode == -signal.SIGKILL
        if killed and mode == "launcher":
            LEFTOVERS.extend(ranks)
        return killed, p.returncode, fault if killed else said(err), None
    log = f"out/{name}/log.txt"
    size = os.path.getsize(log) if os.path.exists(log) else 0
    start = newest_checkpoint(name)
    # past the final checkpoint only the last row is left: the run is let finish
    target = rng.randrange(start, STEPS[cmd]) if start < STEPS[cmd] else STEPS[cmd] + 1
    p = running or launch(cmd, name)
    ranks, seen, extra = [], -1, rng.uniform(0.0, 0.3)
    t_end, stalled = time.time() + STALL, False
    while p.poll() is None and time.time() < t_end and seen < target:
        ranks = children(p.pid) or ranks
        now = max([seen] + progress(log, size))
        if now > seen:  # the window runs from the last progress line
            seen, t_end = now, time.time() + STALL
        time.sleep(0.01)
    if p.poll() is None and seen < target:
        stacks(p, name, f"no progress line for {STALL} s after step {seen}")
        stalled = True
    time.sleep(extra)
    if p.poll() is not None:
        return False, p.returncode, said(p.stderr.read()), None
    ranks = children(p.pid) or ranks
    where = f"SIGKILL at step {seen}+{extra:.2f} s" + (", after a stall (a hang)" if stalled else "")
    if rng.random() < 0.4:  # the restart begins before the kill, as a scheduler's requeue may
        size = os.path.getsize(log) if os.path.exists(log) else 0
        q = launch(cmd, name)
        if until_resuming(q, log, size, rng.uniform(0.5, 2.0)):
            time.sleep(rng.uniform(0.3, 1.5))  # both run: the restart writes, so does the old run
        kill(p, ranks, mode)
        return True, -9, f"{where}, the restart already under way", q
    kill(p, ranks, mode)
    return True, -9, where, None


def series(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                if obj.maxshape and obj.maxshape[0] is None:
                    out[name] = obj[...]
                elif "gram_" in name:
                    out[name] = obj[...]
        f.visititems(visit)
        best = dict(f["score"].attrs) if "score" in f else {}
    return out, {k: best[k] for k in ("best_step", "best_error") if k in best}


def compare(ref, name, cmd):
    """Problems of run `name` against the uninterrupted run `ref` (empty list: equal)."""
    (a, abest), (b, bbest) = series(f"out/{ref}/results.h5"), series(f"out/{name}/results.h5")
    bad, missing_grams = [], 0
    for k in sorted(set(a) | set(b)):
        if "gram_" in k:
            if k not in b:
                missing_grams += 1
            elif k not in a or a[k].tobytes() != b[k].tobytes():
                bad.append(f"{k} differs from the uninterrupted run's")
            continue
        if k not in a or k not in b:
            bad.append(f"{k} only in {'the reference' if k in a else 'the resumed run'}")
        elif k.endswith("wall_time"):
            if a[k].shape != b[k].shape:
                bad.append(f"{k}: {b[k].shape[0]} rows, {a[k].shape[0]} expected")
        elif a[k].shape != b[k].shape or a[k].tobytes() != b[k].tobytes():
            steps = b.get(k.rsplit("/", 1)[0] + "/step")
            bad.append(f"{k}: {b[k].shape[0]} rows, {a[k].shape[0]} expected; steps "
                       f"{steps[:40].tolist() if steps is not None else '?'}")
    if abest != bbest:
        bad.append(f"/score best {bbest}, {abest} expected")
    with h5py.File(f"out/{ref}/checkpoints/ckpt-{STEPS[cmd]}.h5", "r") as f:
        wa = f["W"][...]
    try:
        with h5py.File(f"out/{name}/checkpoints/ckpt-{STEPS[cmd]}.h5", "r") as f:
            if not np.array_equal(wa, f["W"][...]):
                bad.append("final W differs")
    except OSError as e:
        bad.append(f"final checkpoint unreadable: {e}")
    return bad, missing_grams


total = {}
for cmd in ("train", "score"):
    t0 = time.time()
    r = run(2, DECKS[cmd] + ["--run.name=ref-" + cmd], timeout=300)
    if not t.check(r.code == 0, f"{cmd}: uninterrupted reference run ({time.time() - t0:.1f} s) "
                                f"{r.stderr[-300:]}"):
        continue
    for mode in ("launcher", "all"):
        kills, sequences, bad_sequences, grams_dropped, refusals, repairs = 0, 0, 0, 0, 0, 0
        while kills < KILLS:
            name = f"{cmd}-{mode}-{sequences}"
            sequences += 1
            what, finished, running, refused = [], False, None, 0
            for cycle in range(60):
                if kills >= KILLS and running is None:  # enough: the last restart runs to the end
                    break
                overlap = running is not None
                killed, code, how, running = kill_moment(cmd, name, mode, running)
                if killed:
                    kills += 1
                    what.append(how)
                elif code == 0:
                    finished = True
                    break
                elif overlap and code == 2 and "is in use by softntk" in how:
                    refused += 1  # begun while the run it restarts was alive: refused, rightly
                else:
                    what.append(f"a run exited {code} unkilled: {how}")
            problems = [w for w in what if "unkilled" in w or "a hang" in w]
            if not finished:
                q = launch(cmd, name)
                try:
                    q.wait(timeout=4 * STALL)
                except subprocess.TimeoutExpired:
                    stacks(q, name, f"the last restart still runs after {4 * STALL} s")
                    q.kill()
                    q.wait()
                err = q.stderr.read()
                if q.returncode != 0:
                    problems.append(f"the last restart exits {q.returncode}: {said(err)}")
            refusals += refused
            more, missing = compare(f"ref-{cmd}", name, cmd)
            problems += more
            insp = run(1, ["inspect", f"out/{name}/results.h5"])
            if insp.code != 0:
                problems.append(f"inspect exits {insp.code}: "
                                f"{[ln for ln in insp.stdout.splitlines() if 'FAIL' in ln][:3]}")
            grams_dropped += missing
            try:
                with open(f"out/{name}/log.txt") as f:
                    text = f.read()
                repairs += text.count("does not match the checkpoint") + text.count("cannot be used")
            except OSError:
                pass
            if problems:
                bad_sequences += 1
                print(f"  {name}: {len(what)} kills ({'; '.join(what)})\n    " +
                      "\n    ".join(problems[:6]), flush=True)
        total[(cmd, mode)] = kills
        t.check(bad_sequences == 0 and kills >= KILLS,
                f"{cmd}, {mode}: {kills} kill moments in {sequences} sequences, each resumed at "
                f"once ({refusals} restarts begun while the killed run was alive refused, "
                f"{repairs} results files repaired): "
                f"{sequences - bad_sequences} of {sequences} end with every series, the best step, "
                f"the Gram matrices kept ({grams_dropped} dropped as torn) and W equal to the "
                f"uninterrupted run")

# the ranks of killed launchers must all have ended (by themselves; ours to remove otherwise)
deadline = time.time() + 30
while any(alive(p) for p in LEFTOVERS) and time.time() < deadline:
    time.sleep(0.2)
left = [p for p in LEFTOVERS if alive(p)]
for p in left:
    os.kill(p, signal.SIGKILL)
t.check(not left, f"every rank of a killed launcher ended by itself ({len(LEFTOVERS)} seen, "
                  f"{len(left)} left)")
print(f"kill moments: {total}, {sum(total.values())} in all")
sys.exit(t.finish())
