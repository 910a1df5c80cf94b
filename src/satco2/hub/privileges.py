"""Root mode's privilege separation: the service account, its state, the reports tree, one sudo rule.

Who runs as whom (docs/hub.md, "Trust model"):

- JupyterHub, the proxy and the Dask Gateway run as root (the gateway's ``LocalBackend`` starts each
  user's scheduler and workers as that user); none of them reads files users can write.
- The dashboards and scheduler services, and the example publisher, run as the unprivileged system
  account :data:`SERVICE_ACCOUNT`, which owns only ``<state>/services`` (mode 0700).
- A scheduled run runs as its owner, started by the scheduler through the one sudo rule written
  here: the service account may run ``<python> -m satco2.runs.job`` as a member of
  ``satco2-users``, nothing else and never as root.
- The usage ledger ``<state>/usage.jsonl`` is written by the hub and the gateway (root) and
  readable by the services' group (0640, :func:`share_usage_ledger`): the dashboards service shows
  it to hub admins. Users cannot enter ``<state>`` (0710, group of the service account).
- ``<reports>`` belongs to root (0755); ``<reports>/<user>`` is made for each user by the hub
  (:func:`ensure_user_reports`, at spawn) and belongs to that user's account; ``<reports>/examples``
  belongs to the service account. So who wrote a run is the owner of the folder it is in.
"""
from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess
from pathlib import Path

from .. import SatCO2Error, io
from ..runs.reports import EXAMPLES_AUTHOR, SERVICE_ACCOUNT, USERS_GROUP

SUDOERS_FILE = Path("/etc/sudoers.d/satco2-hub")


def ensure_group(name: str = USERS_GROUP) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        subprocess.run(["groupadd", "--system", name], check=True, capture_output=True)
        return grp.getgrnam(name).gr_gid


def ensure_service_account(home: Path) -> pwd.struct_passwd:
    """The system account the services run as (no login shell, no password, own group)."""
    try:
        entry = pwd.getpwnam(SERVICE_ACCOUNT)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", str(home),
                        "--shell", "/usr/sbin/nologin", "--comment", "SatCO2 Hub services", SERVICE_ACCOUNT],
                       check=True, capture_output=True)
        entry = pwd.getpwnam(SERVICE_ACCOUNT)
    if entry.pw_dir != str(home):  # its home is this hub's service state (HOME of its processes)
        # fails while another hub's services run as the account: their HOME is set explicitly anyway
        subprocess.run(["usermod", "--home", str(home), SERVICE_ACCOUNT], check=False, capture_output=True)
        entry = pwd.getpwnam(SERVICE_ACCOUNT)
    if entry.pw_uid == 0:
        raise SatCO2Error(f"the service account {SERVICE_ACCOUNT} must not be root.")
    return entry


def _own_dir(path: Path, uid: int, gid: int, mode: int) -> None:
    """Make ``path`` a real folder (not a link) owned by ``uid:gid`` with ``mode``."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        path.mkdir(parents=True, mode=mode)
        st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise SatCO2Error(f"{path} must be a folder (it is a link or a file); remove it and start again.")
    os.chown(path, uid, gid, follow_symlinks=False)
    os.chmod(path, mode)


def prepare(state_dir: Path, service_state: Path, reports_dir: Path, job_python: str) -> pwd.struct_passwd:
    """Set up root mode before JupyterHub starts: service account and its state, the reports tree,
    the sudo rule. Returns the service account."""
    ensure_group()
    svc = ensure_service_account(service_state)
    state_dir = Path(state_dir).resolve()
    _check_reachable(state_dir, "the hub's state folder", "SATCO2_STATE_DIR")
    # the services' account (group) may pass through <state> to <state>/services; nobody else enters
    os.chown(state_dir, 0, svc.pw_gid)
    os.chmod(state_dir, 0o710)
    _own_dir(service_state, svc.pw_uid, svc.pw_gid, 0o700)
    share_usage_ledger(state_dir / "usage.jsonl", svc.pw_gid)
    for root, dirs, files in os.walk(service_state):  # all of it is the services' (no link followed)
        for name in dirs + files:
            os.chown(os.path.join(root, name), svc.pw_uid, svc.pw_gid, follow_symlinks=False)
    reports_dir = Path(reports_dir).resolve()
    _check_reachable(reports_dir, "the reports folder", "SATCO2_REPORTS_DIR")
    _own_dir(reports_dir, 0, 0, 0o755)
    _own_dir(reports_dir / EXAMPLES_AUTHOR, svc.pw_uid, svc.pw_gid, 0o755)
    write_sudo_rule(job_python)
    return svc


def share_usage_ledger(ledger: Path, gid: int) -> None:
    """Create the usage ledger (or take the existing one, never through a link) as root's, mode
    0640, group ``gid``: the hub and the gateway append to it, the services' account reads it."""
    fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o640)
    try:
        os.fchown(fd, 0, gid)
        os.fchmod(fd, 0o640)
    finally:
        os.close(fd)


def _check_reachable(path: Path, what: str, env: str) -> None:
    for parent in path.parents:
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            raise SatCO2Error(
                f"root mode: the users' and services' accounts cannot reach {what} {path} because {parent} "
                f"is not searchable by others (chmod o+x {parent}, or set {env} elsewhere).")


def ensure_user_reports(reports_dir: Path, entry: pwd.struct_passwd) -> Path:
    """``<reports>/<user>``, owned by the user's account (made at each spawn if missing)."""
    d = Path(reports_dir).resolve() / entry.pw_name
    _own_dir(d, entry.pw_uid, entry.pw_gid, 0o755)
    return d


def sudo_rule(job_python: str) -> str:
    if any(c.isspace() or c in ",:=\\\"'!" for c in job_python):
        raise SatCO2Error(f"the interpreter path {job_python!r} cannot be written into a sudo rule.")
    return (
        "# Written by `satco2 up` (SatCO2 Hub, root mode). The scheduler service's account may start\n"
        "# one command, a scheduled notebook run, as a hub user's account; never as root.\n"
        f"Defaults:{SERVICE_ACCOUNT} !requiretty, env_reset\n"
        f"{SERVICE_ACCOUNT} ALL=(%{USERS_GROUP}) NOPASSWD: {job_python} -m satco2.runs.job\n"
    )


def write_sudo_rule(job_python: str) -> None:
    """Install :func:`sudo_rule` in ``/etc/sudoers.d`` (checked with ``visudo`` first)."""
    text = sudo_rule(job_python)
    if SUDOERS_FILE.exists() and SUDOERS_FILE.read_text() == text:
        return
    if not Path("/usr/sbin/visudo").exists():
        raise SatCO2Error("root mode needs sudo (Debian package 'sudo') to start scheduled runs as their owners; "
                          "run `make env`.")
    # the temporary ``.satco2-hub.<random>.tmp`` has dots in its name: sudo ignores it
    with io.atomic_path(SUDOERS_FILE, mode=0o440) as tmp:
        tmp.write_text(text)
        check = subprocess.run(["/usr/sbin/visudo", "-cf", str(tmp)], capture_output=True, text=True)
        if check.returncode != 0:  # leaving the block with an error removes the temporary file
            raise SatCO2Error(f"the sudo rule for scheduled runs was refused by visudo: {check.stdout.strip()}")


def become_service_account(home: str):
    """A ``preexec_fn`` that drops a child process to the service account (root mode)."""
    entry = pwd.getpwnam(SERVICE_ACCOUNT)

    def drop():
        os.setgroups([])
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
        os.chdir(home)

    return drop
