"""A real single-node Slurm cluster for tests: :func:`temp_slurm` (munged + slurmctld + slurmd).

Stable API::

    from satco2.testing.slurm import temp_slurm

    with temp_slurm(cpus=8, memory_mib=8192) as slurm:
        slurm.bin_dir          # sbatch/squeue/scancel/sinfo/scontrol wrappers bound to this cluster
        slurm.partition        # the one partition ("satco2")
        slurm.run("squeue", "-h")            # a command of this cluster (CompletedProcess, text)
        slurm.jobs()           # [{"id", "user", "state", "name"}] of queued/running jobs
        slurm.completed()      # finished jobs from the job-completion log ({"id", "user", ...})

Everything lives in a fresh folder ``/tmp/satco2-slurm-XXXX`` (mode 0755: the cluster's users need
to reach the munge socket and the wrapper commands): the munge key and socket, ``slurm.conf``,
state, spool and logs. The daemons run in the foreground as children of this process on loopback
(free ports), ``SlurmUser=root``, with ``proctrack/linuxproc`` and no cgroups (containers have
none). The node advertises ``cpus`` and ``memory_mib`` whatever the hardware holds
(``SlurmdParameters=config_overrides``): tests size jobs, Slurm does the bookkeeping; nothing
limits what a job really uses.

Teardown, also when the body raised: cancel every job, wait (bounded) until the queue is empty,
stop slurmd, slurmctld and munged (SIGTERM, then SIGKILL), kill by pid any process left whose
environment or command line names this cluster's folder (job steps of cancelled jobs), and remove
the folder. The system's own Slurm configuration (``/etc/slurm``) is never read or written.
Needs root and the Debian packages ``slurmctld``, ``slurmd``, ``slurm-client`` and ``munge``.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .. import SatCO2Error, config
from ..hub.launcher import free_port
from . import gateway_process

DAEMONS = {"munged": "munge", "slurmctld": "slurmctld", "slurmd": "slurmd"}
CLIENTS = ("sbatch", "squeue", "scancel", "sinfo", "scontrol", "srun")
NODE = "satco2-node"


def available() -> str | None:
    """``None`` when a temporary Slurm can start here, else one sentence saying what is missing."""
    if os.geteuid() != 0:
        return "a test Slurm cluster needs root (slurmd starts jobs as their users)."
    missing = [name for name in (*DAEMONS, *CLIENTS) if not shutil.which(name, path=_SBIN_PATH)]
    if missing:
        return (f"the Slurm/munge commands {', '.join(missing)} are missing (Debian packages slurmctld, "
                f"slurmd, slurm-client, munge in environment/debian-packages.txt).")
    return None


_SBIN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def _which(name: str) -> str:
    path = shutil.which(name, path=_SBIN_PATH)
    if not path:
        raise SatCO2Error(available() or f"the command {name} is missing.")
    return path


SLURM_CONF = """\
# Written by satco2.testing.slurm: a single-node test cluster on loopback.
ClusterName=satco2test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge/munge.socket
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={root}/log/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=30
SlurmctldTimeout=30
SlurmdTimeout=60
MessageTimeout=20
NodeName={node} NodeHostname={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mib} State=UNKNOWN
PartitionName={partition} Nodes={node} Default=YES MaxTime={max_time} State=UP
"""


class TempSlurm:
    """Handle on a running test cluster (see the module docstring)."""

    def __init__(self, root: Path, partition: str):
        self.root = root
        self.partition = partition
        self.conf = root / "etc" / "slurm.conf"
        self.bin_dir = root / "bin"
        self.procs: dict[str, subprocess.Popen] = {}

    def env(self) -> dict:
        return {"PATH": f"{self.bin_dir}:{_SBIN_PATH}", "SLURM_CONF": str(self.conf)}

    def run(self, cmd: str, *args: str, timeout: float = 30, check: bool = True, user: str | None = None):
        """Run a Slurm client command of this cluster (as ``user`` through ``runuser`` if given)."""
        argv = [str(self.bin_dir / cmd), *args]
        if user:
            argv = ["runuser", "-u", user, "--", *argv]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=self.env())
        if check and p.returncode:
            raise SatCO2Error(f"{cmd} {' '.join(args)} failed with status {p.returncode}: {p.stderr.strip()[:300]}")
        return p

    def jobs(self) -> list[dict]:
        """Jobs in the queue (pending, running, completing)."""
        out = self.run("squeue", "-h", "-o", "%i|%u|%t|%j|%C|%m").stdout
        keys = ("id", "user", "state", "name", "cpus", "memory")
        return [dict(zip(keys, line.split("|"))) for line in out.splitlines() if line.strip()]

    def completed(self) -> list[dict]:
        """Finished jobs from the job-completion log (``JobId=.. UserId=name(uid) ..`` lines)."""
        log = self.root / "log" / "jobcomp.log"
        out = []
        if log.exists():
            for line in log.read_text().splitlines():
                fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
                if "JobId" in fields:
                    out.append({"id": fields["JobId"], "user": fields.get("UserId", "").split("(")[0],
                                "state": fields.get("JobState", ""), "name": fields.get("Name", ""),
                                "cpus": fields.get("ProcCnt", "")})
        return out

    def node_state(self) -> str:
        p = self.run("sinfo", "-h", "-N", "-o", "%T", check=False)
        return p.stdout.strip() if p.returncode == 0 else ""

    def log(self, name: str = "slurmctld") -> str:
        path = self.root / "log" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- lifecycle ----------------------------------------------------------------------------------
    def _start(self, name: str, argv: list[str]) -> None:
        out = open(self.root / "log" / f"{name}.out", "wb")
        self.procs[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=self.env(),
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()

    def _wait(self, what: str, ok, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    tail = (self.root / "log" / f"{name}.out").read_text(errors="replace")[-600:]
                    raise SatCO2Error(f"{name} of the test Slurm exited with status {p.returncode} "
                                      f"while waiting for {what}: {tail.strip() or self.log(name)[-600:]}")
            if ok():
                return
            time.sleep(0.3)
        raise SatCO2Error(f"the test Slurm did not reach '{what}' within {timeout:.0f} s: "
                          f"{self.log('slurmctld')[-600:]} {self.log('slurmd')[-400:]}")

    def start(self, timeout: float = 60) -> None:
        root = self.root
        self._start("munged", [_which("munged"), "--foreground", "--force",
                               f"--key-file={root}/munge/munge.key", f"--socket={root}/munge/munge.socket",
                               f"--pid-file={root}/run/munged.pid", f"--log-file={root}/log/munged.log",
                               f"--seed-file={root}/munge/munged.seed", "--num-threads=2"])
        self._wait("munge socket", lambda: (root / "munge" / "munge.socket").exists(), timeout)
        self._start("slurmctld", [_which("slurmctld"), "-D", "-c", "-i", "-f", str(self.conf)])
        self._wait("slurmctld answers", lambda: self.run("scontrol", "ping", check=False).returncode == 0,
                   timeout)
        self._start("slurmd", [_which("slurmd"), "-D", "-f", str(self.conf), "-N", NODE])
        self._wait("node idle", lambda: self.node_state().startswith("idle"), timeout)

    def cancel_all(self, timeout: float = 30) -> None:
        """Cancel every job and wait (bounded) until the queue is empty."""
        with contextlib.suppress(Exception):
            ids = [j["id"] for j in self.jobs()]
            if ids:
                self.run("scancel", *ids, check=False)
            deadline = time.monotonic() + timeout
            while self.jobs() and time.monotonic() < deadline:
                time.sleep(0.5)

    def stop(self) -> None:
        self.cancel_all()
        for name in ("slurmd", "slurmctld", "munged"):
            p = self.procs.get(name)
            if p is None or p.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        for pid in _processes_naming(str(self.root)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _processes_naming(text: str) -> list[int]:
    """Pids of processes (not this one) whose command line or environment contains ``text``."""
    found, me = [], os.getpid()
    needle = text.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        for part in ("cmdline", "environ"):
            try:
                if needle in Path(f"/proc/{entry}/{part}").read_bytes():
                    found.append(int(entry))
                    break
            except OSError:
                continue
    return found


def _write_key(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(1024))


def _wrappers(slurm: TempSlurm) -> None:
    for name in CLIENTS:
        path = slurm.bin_dir / name
        path.write_text(f'#!/bin/sh\nSLURM_CONF={slurm.conf} exec {_which(name)} "$@"\n')
        path.chmod(0o755)


@contextlib.contextmanager
def temp_slurm(cpus: int = 8, memory_mib: int = 8192, partition: str = "satco2",
               max_time: str = "2:00:00", timeout: float = 60):
    """Start a single-node Slurm on loopback; yield a :class:`TempSlurm`; stop it and clean up.

    ``cpus``/``memory_mib`` are what the node advertises (not what the machine has);
    ``max_time`` is the partition's time limit (``MaxTime``).
    """
    reason = available()
    if reason:
        raise SatCO2Error(reason)
    root = Path(tempfile.mkdtemp(prefix="satco2-slurm-", dir="/tmp"))
    root.chmod(0o755)
    slurm = TempSlurm(root, partition)
    try:
        for sub, mode in [("munge", 0o755), ("etc", 0o755), ("bin", 0o755), ("state", 0o700),
                          ("spool", 0o755), ("run", 0o755), ("log", 0o755)]:
            (root / sub).mkdir(mode=mode)
            (root / sub).chmod(mode)
        _write_key(root / "munge" / "munge.key")
        slurm.conf.write_text(SLURM_CONF.format(
            root=root, host=socket.gethostname(), node=NODE, ctld_port=free_port(), slurmd_port=free_port(),
            cpus=cpus, memory_mib=memory_mib, partition=partition, max_time=max_time))
        _wrappers(slurm)
        slurm.start(timeout)
        yield slurm
    finally:
        try:
            slurm.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


GATEWAY_CONFIG = """\
# Written by satco2.testing.slurm.temp_gateway: a standalone Dask Gateway on the test Slurm.
import json, os
from satco2.hub import gateway, settings, slurm
S = settings.load(overrides=json.loads(os.environ["SATCO2_TEST_OVERRIDES"]))
G = S["gateway"]
c = get_config()
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
c.SimpleAuthenticator.password = os.environ["SATCO2_TEST_PASSWORD"]
c.DaskGateway.address = "127.0.0.1:0"
c.Proxy.address = "127.0.0.1:{http_port}"
c.Proxy.tcp_address = "127.0.0.1:{tcp_port}"
c.DaskGateway.backend_class = gateway.backend_class(S, True)
c.DBBackendBase.stop_clusters_on_shutdown = True
c.Backend.cluster_options = gateway.cluster_options(S)
c.Backend.satco2_usage = {{"ledger": "{ledger}", "settings": S}}
c.ClusterConfig.scheduler_memory = int(G.get("scheduler_memory_gib", 1.0) * gateway.GiB)
c.ClusterConfig.idle_timeout = float(G["idle_timeout"])
c.ClusterConfig.cluster_max_workers = G["limits"]["default"]["cluster_max_workers"]
c.ClusterConfig.cluster_max_cores = G["limits"]["default"]["cluster_max_cores"]
c.ClusterConfig.cluster_max_memory = int(G["limits"]["default"]["cluster_max_memory_gib"] * gateway.GiB)
slurm.configure(c, S, python="{python}")
"""


@contextlib.contextmanager
def temp_gateway(slurm: TempSlurm, workdir, overrides: dict, python: str, password: str = "gateway-test-pw",
                 timeout: float = 60):
    """A standalone ``dask-gateway-server`` (root) with the settings' Slurm backend on ``slurm``.

    Yields ``(address, proxy_address, ledger_path)``; users log in with HTTP basic auth and ``password``.
    ``python`` runs schedulers and workers (it must be runnable by the users).
    """
    import json

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    http_port, tcp_port = free_port(), free_port()
    ledger = workdir / "usage.jsonl"
    conf = workdir / "dask_gateway_config.py"
    conf.write_text(GATEWAY_CONFIG.format(http_port=http_port, tcp_port=tcp_port, ledger=ledger, python=python))
    env = {**config.environ(), "SATCO2_TEST_OVERRIDES": json.dumps(overrides), "SATCO2_TEST_PASSWORD": password}
    try:
        with gateway_process(conf, http_port, env, timeout) as address:
            yield address, f"gateway://127.0.0.1:{tcp_port}", ledger
    finally:
        slurm.cancel_all()
