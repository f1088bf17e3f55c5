"""Helpers for the command-line tests: run softntk under mpirun with a timeout (a hang is a failure),
count checks, read HDF5 attributes."""
import os
import shutil
import subprocess
import sys

SOFTNTK = os.environ.get("SOFTNTK", "softntk")
SOURCE = os.environ.get("SOFTNTK_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), ".."))


class Result:
    def __init__(self, code, stdout, stderr):
        self.code, self.stdout, self.stderr = code, stdout, stderr


def run(np_, args, timeout=120, env=None):
    """Run `mpirun -np np_ softntk args`; a run that exceeds the timeout is killed and reported as
    exit code -999 (a hang)."""
    cmd = ["mpirun", "-np", str(np_), SOFTNTK] + list(args)
    e = dict(os.environ)
    if env:
        e.update(env)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e)
        return Result(p.returncode, p.stdout, p.stderr)
    except subprocess.TimeoutExpired as exc:
        return Result(-999, exc.stdout or "", f"TIMEOUT after {timeout}s: {' '.join(cmd)}")


def h5attrs(path):
    import h5py
    out = {}
    with h5py.File(path, "r") as f:
        for k, v in f.attrs.items():
            out[k] = v.decode() if isinstance(v, bytes) else (v.item() if hasattr(v, "item") else v)
    return out


class Suite:
    """Counts checks; works in a fresh directory <name>.work below the current one."""

    def __init__(self, name):
        self.name, self.failures, self.checks = name, 0, 0
        work = os.path.abspath(f"{name}.work")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        os.chdir(work)

    def check(self, ok, message):
        self.checks += 1
        if ok:
            print(f"ok   {message}", flush=True)
        else:
            self.failures += 1
            print(f"FAIL {message}", flush=True)
        return ok

    def finish(self):
        print(f"{self.checks} checks, {self.failures} failures")
        return 1 if self.failures else 0
