#!/usr/bin/python3
"""A throw-away single-node Slurm cluster on localhost, for the `slurm` test suite.

Why: the batch scripts in slurm/ are only trustworthy if they have run under a real slurmctld and
slurmd (signals, requeue, arrays, dependencies), and CI machines have no cluster. This module
installs slurm-wlm and munge when they are missing (root only), starts munged, slurmctld and slurmd
with every file (configuration, sockets, PID files, logs, state, spool) inside one temporary
directory, and stops them again BY THEIR PIDS, never by name. The facts it relies on are in
../shared/notes/slurm-single-node.md.

Clean-up is guaranteed three ways: `Cluster.stop()` (called from a `finally`), a reaper process in its
own session that runs the same clean-up when the test process disappears (Meson kills a timed-out
test's process group with SIGKILL half a second after SIGTERM, too soon for a `finally`), and
`stop()` being idempotent. The clean-up cancels the cluster's jobs, stops slurmd, slurmctld and
munged by the PIDs in their PID files, then ends any process still carrying this cluster's
SLURM_CONF path in its environment (left-over job steps), again by PID.

Command line (for debugging by hand):
  slurmcluster.py start DIR [CPUS]  start a cluster in DIR (prints `export SLURM_CONF=...`)
  slurmcluster.py stop DIR          stop it
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time

SBIN = "/usr/sbin"
PACKAGES = ["slurm-wlm", "munge"]
NEEDED = [f"{SBIN}/munged", f"{SBIN}/slurmctld", f"{SBIN}/slurmd", "/usr/bin/sbatch",
          "/usr/bin/scontrol", "/usr/bin/munge"]


class Unavailable(Exception):
    """Slurm cannot run on this machine (the reason is the message): the suite skips."""


def ensure_packages():
    """Install slurm-wlm and munge with apt-get if a program is missing. Raises Unavailable when that
    is impossible (not root, no apt-get, the install fails)."""
    missing = [p for p in NEEDED if not os.path.exists(p)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise Unavailable(f"{', '.join(missing)} missing and not root: cannot apt-get install "
                          f"{' '.join(PACKAGES)}")
    if not shutil.which("apt-get"):
        raise Unavailable(f"{', '.join(missing)} missing and no apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print(f"installing {' '.join(PACKAGES)} (missing: {', '.join(missing)})", flush=True)
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + PACKAGES
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            raise Unavailable(f"apt-get install {' '.join(PACKAGES)} failed: {p.stderr[-400:]}")
    missing = [p for p in NEEDED if not os.path.exists(p)]
    if missing:
        raise Unavailable(f"still missing after the install: {', '.join(missing)}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_line():
    """NodeName=... line from `slurmd -C`, with 90% of RealMemory (else the node drains as "Low
    RealMemory") and the loopback address."""
    out = subprocess.run([f"{SBIN}/slurmd", "-C"], capture_output=True, text=True).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("NodeName=")), None)
    if line is None:
        raise Unavailable(f"slurmd -C printed no node line: {out[-300:]}")
    fields = dict(f.split("=", 1) for f in line.split())
    fields["RealMemory"] = str(int(int(fields.get("RealMemory", "1000")) * 0.9))
    keep = ["NodeName", "CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore",
            "RealMemory"]
    return fields["NodeName"], " ".join(f"{k}={fields[k]}" for k in keep if k in fields)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is as good as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_pid(pid, what, grace=10.0):
    """SIGTERM, wait up to `grace` s, then SIGKILL. Returns a note when SIGKILL was needed."""
    if not pid or not pid_alive(pid):
        return None
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return None
    end = time.time() + grace
    while time.time() < end:
        if not pid_alive(pid):
            return None
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return None
    return f"{what} (pid {pid}) ignored SIGTERM for {grace:.0f} s: killed"


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class Cluster:
    """munged + slurmctld + slurmd with all their files in `root` (created if needed)."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.conf = os.path.join(self.root, "slurm.conf")
        self.munge_dir = os.path.join(self.root, "munge")
        self.socket = os.path.join(self.munge_dir, "munge.socket")
        self.pids = {"slurmd": os.path.join(self.root, "slurmd.pid"),
                     "slurmctld": os.path.join(self.root, "slurmctld.pid"),
                     "munged": os.path.join(self.munge_dir, "munged.pid")}
        self.env = dict(os.environ, SLURM_CONF=self.conf)
        self.node = None
        self.reaper = None

    # --- start -----------------------------------------------------------------------------------
    def start(self, cpus=None):
        """Start the three daemons and wait until the node is idle. `cpus` makes the node advertise
        that many CPUs (SlurmdParameters=config_overrides). Raises Unavailable or RuntimeError."""
        if os.geteuid() != 0:
            raise Unavailable("the test cluster runs its daemons as root (SlurmUser=root)")
        ensure_packages()
        os.makedirs(self.root, exist_ok=True)
        os.chmod(self.root, 0o755)
        self._start_munged()
        self._write_conf(cpus)
        self._run_daemon(["/usr/sbin/slurmctld", "-c"], "slurmctld")
        self._wait(lambda: "UP" in self.cmd(["scontrol", "ping"]).stdout, 20, "slurmctld answering ping")
        self._run_daemon(["/usr/sbin/slurmd", "-N", self.node], "slurmd")
        self._wait(lambda: self.cmd(["sinfo", "-h", "-o", "%t"]).stdout.strip() == "idle", 30,
                   "the node idle")

    def _start_munged(self):
        try:
            munge = pwd.getpwnam("munge")
        except KeyError as exc:
            raise Unavailable("no user munge (package munge not installed?)") from exc
        os.makedirs(self.munge_dir, exist_ok=True)
        os.chown(self.munge_dir, munge.pw_uid, munge.pw_gid)
        os.chmod(self.munge_dir, 0o755)  # munged: the socket directory must be searchable by all
        key = "/etc/munge/munge.key"
        if not os.path.exists(key):
            key = os.path.join(self.munge_dir, "munge.key")
            with open(key, "wb") as f:
                f.write(os.urandom(1024))
            os.chown(key, munge.pw_uid, munge.pw_gid)
            os.chmod(key, 0o600)
        self._run_daemon(["runuser", "-u", "munge", "--", f"{SBIN}/munged", f"--socket={self.socket}",
                          f"--pid-file={self.pids['munged']}", f"--key-file={key}",
                          f"--log-file={self.munge_dir}/munged.log",
                          f"--seed-file={self.munge_dir}/munged.seed"], "munged")
        cred = subprocess.run(["munge", "-S", self.socket, "-n"], capture_output=True)
        ok = cred.returncode == 0 and subprocess.run(
            ["unmunge", "-S", self.socket], input=cred.stdout, capture_output=True).returncode == 0
        if not ok:
            raise RuntimeError(f"munge -n | unmunge fails: {cred.stderr.decode()[-300:]}")

    def _write_conf(self, cpus):
        self.node, node = node_line()
        if cpus:
            over = {"CPUs": cpus, "Boards": 1, "SocketsPerBoard": 1, "CoresPerSocket": cpus,
                    "ThreadsPerCore": 1}
            node = " ".join(f"{f.split('=')[0]}={over[f.split('=')[0]]}" if f.split("=")[0] in over
                            else f for f in node.split())
        r = self.root
        for d in ("state", "spool"):
            os.makedirs(os.path.join(r, d), exist_ok=True)
        conf = f"""# written by tests/slurmcluster.py: a single-node test cluster (see slurm-single-node.md)
ClusterName=sntktest
SlurmctldHost=localhost
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={self.socket},cred_expire=10
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={self.pids['slurmctld']}
SlurmdPidFile={self.pids['slurmd']}
SlurmctldLogFile={r}/slurmctld.log
SlurmdLogFile={r}/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={r}/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
SchedulerParameters=batch_sched_delay=0,sched_interval=2,bf_interval=2
DependencyParameters=kill_invalid_depend
KillWait=5
MinJobAge=600
ReturnToService=2
MailProg=/bin/true
SlurmdParameters=config_overrides
{node} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
        with open(self.conf, "w") as f:
            f.write(conf)

    def _run_daemon(self, argv, name):
        p = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"{name} did not start (exit {p.returncode}): {p.stderr[-500:]}"
                               f"{self.log_tail(name)}")
        self._wait(lambda: read_pid(self.pids[name]) and pid_alive(read_pid(self.pids[name])), 10,
                   f"{name} PID file")

    def _wait(self, cond, timeout, what):
        end = time.time() + timeout
        while time.time() < end:
            if cond():
                return
            time.sleep(0.2)
        raise RuntimeError(f"timed out after {timeout} s waiting for {what}{self.log_tail()}")

    def log_tail(self, which=None, lines=15):
        out = ""
        for name in ([which] if which else ["slurmctld", "slurmd"]):
            path = os.path.join(self.root, f"{name}.log")
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out += f"\n--- {path} (tail) ---\n" + "".join(f.readlines()[-lines:])
        return out

    # --- use ---------------------------------------------------------------------------------------
    def cmd(self, argv, **kw):
        """Run a Slurm client command against this cluster (never raises on a non-zero exit)."""
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("timeout", 60)
        return subprocess.run(argv, env=dict(self.env, **kw.pop("env", {})), **kw)

    def start_reaper(self):
        """A process in its own session that stops the cluster if this process dies first."""
        self.reaper = subprocess.Popen([sys.executable, os.path.abspath(__file__), "reap", self.root,
                                        str(os.getpid())], start_new_session=True,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, env=self.env)

    # --- stop --------------------------------------------------------------------------------------
    def stop(self):
        """Cancel every job, stop slurmd, slurmctld, munged by their PIDs, end what is left of the
        jobs (processes carrying this SLURM_CONF) by PID. Idempotent. Returns notes about anything
        that needed force."""
        notes = []
        ctld = read_pid(self.pids["slurmctld"])
        if ctld and pid_alive(ctld):
            self.cmd(["scancel", "--full", "--quiet", "--user=root"], timeout=20)
            end = time.time() + 15
            while time.time() < end and self.cmd(["squeue", "-h", "-o", "%i"], timeout=20).stdout.strip():
                time.sleep(0.5)
        for name in ("slurmd", "slurmctld", "munged"):
            note = stop_pid(read_pid(self.pids[name]), name)
            if note:
                notes.append(note)
        for pid in self.stray_pids():
            notes.append(f"left-over process {pid} ({self.comm(pid)}) killed")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.reaper is not None and self.reaper.poll() is None:
            self.reaper.kill()
            self.reaper.wait()
        return notes

    def stray_pids(self):
        """PIDs (other than this process and the reaper) whose environment holds this SLURM_CONF."""
        mark = f"SLURM_CONF={self.conf}".encode()
        mine = {os.getpid(), self.reaper.pid if self.reaper else -1}
        found = []
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) in mine:
                continue
            try:
                with open(f"/proc/{d}/environ", "rb") as f:
                    env = f.read().split(b"\0")
            except OSError:
                continue
            if mark in env and pid_alive(int(d)):
                found.append(int(d))
        return found

    @staticmethod
    def comm(pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:80]
        except OSError:
            return "?"


def main(argv):
    if len(argv) in (3, 4) and argv[1] == "start":
        c = Cluster(argv[2])
        try:
            c.start(cpus=int(argv[3]) if len(argv) == 4 else None)
        except Exception:
            c.stop()
            raise
        print(f"export SLURM_CONF={c.conf}")
        return 0
    if len(argv) == 3 and argv[1] == "stop":
        for note in Cluster(argv[2]).stop():
            print(note)
        return 0
    if len(argv) == 4 and argv[1] == "reap":  # internal: see Cluster.start_reaper
        parent = int(argv[3])
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # outlive the test's process group
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while pid_alive(parent):
            time.sleep(1)
        Cluster(argv[2]).stop()
        return 0
    print(__doc__.strip().split("Command line")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
