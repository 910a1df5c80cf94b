"""Small named snippets that ``hub-config/jupyterhub_config.py`` plugs into JupyterHub.

- :func:`ensure_system_user` - root mode: one system user per hub user, created at first spawn
- :func:`single_account_banner` - the warning shown on every hub page in single-account mode
- :func:`copy_notebooks` - a new user finds the analysis notebooks in ``~/notebooks``
- :func:`server_usage` - the hub records each user server's start and stop in the usage ledger
"""
from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

from .. import SatCO2Error, config, io, usage
from ..runs.reports import SERVICE_ACCOUNT  # noqa: F401 - the services' account (jupyterhub_config)

#: system group of the accounts this hub created; an existing account outside it is never used
GROUP = "satco2-users"
#: names a hub user may have: those a system account can have (:func:`ensure_system_user`); the
#: login's sign-up (:mod:`satco2.hub.auth`) checks the same rule
USERNAME = re.compile(r"^[a-z][a-z0-9_-]{0,30}$")

SINGLE_ACCOUNT_BANNER = (
    "Single-account mode: this hub was started by an ordinary (non-root) user, so every hub user's "
    "server and Dask cluster runs as that same operating-system account and users can read each "
    "other's files. Start the hub as root for per-user isolation."
)


def single_account_banner() -> str:
    return SINGLE_ACCOUNT_BANNER


def _ensure_group() -> None:
    try:
        grp.getgrnam(GROUP)
    except KeyError:
        subprocess.run(["groupadd", "--system", GROUP], check=True, capture_output=True)


def ensure_system_user(username: str) -> pwd.struct_passwd:
    """Create system user ``username`` (home 0700, group ``satco2-users``) unless it exists.

    An existing account is used only if it belongs to ``satco2-users`` (created by this hub), so a
    hub user named like a system account (``root``, ``daemon``, ``www-data``) never gets it.
    """
    if not USERNAME.match(username):
        raise SatCO2Error(f"hub user name {username!r} cannot be a system user name (a-z, 0-9, _ and -).")
    _ensure_group()
    try:
        entry = pwd.getpwnam(username)
    except KeyError:
        entry = None
    if entry is not None:
        members = grp.getgrnam(GROUP).gr_mem
        if username not in members and entry.pw_gid != grp.getgrnam(GROUP).gr_gid:
            raise SatCO2Error(
                f"system account {username!r} exists and was not created by SatCO2 Hub, so the hub "
                "will not run a server as it."
            )
        return entry
    subprocess.run(
        ["useradd", "--create-home", "--shell", "/bin/bash", "--gid", GROUP,
         "--comment", "SatCO2 Hub user", username],
        check=True, capture_output=True,
    )
    entry = pwd.getpwnam(username)
    os.chmod(entry.pw_dir, 0o700)
    return entry


def copy_notebooks(home: Path, uid: int | None = None, gid: int | None = None) -> Path | None:
    """Copy the analysis notebooks and their parameter schemas into ``<home>/notebooks`` once.

    Nothing happens when that folder exists already, so a user's edits are never overwritten.
    """
    dest = Path(home) / "notebooks"
    if dest.exists():
        return None
    src = config.REPO_ROOT / "notebooks"
    try:
        # a new folder with a random name (never one a user could have prepared), renamed in only
        # if ``notebooks`` is still absent
        with io.atomic_dir(dest, replace=False) as tmp:
            for f in sorted(src.glob("*.ipynb")) + sorted(src.glob("*.params.yaml")):
                shutil.copy2(f, tmp / f.name)
            if uid is not None:
                for f in [tmp, *tmp.iterdir()]:
                    os.chown(f, uid, gid)
    except FileExistsError:
        return None
    return dest


def pre_spawn_root(spawner) -> None:
    """``Spawner.pre_spawn_hook`` in root mode: make sure the user's system account exists, holds
    the analysis notebooks, and owns its reports folder ``<reports>/<user>``."""
    from . import privileges

    entry = ensure_system_user(spawner.user.name)
    copy_notebooks(Path(entry.pw_dir), entry.pw_uid, entry.pw_gid)
    privileges.ensure_user_reports(config.reports_dir(), entry)


def pre_spawn_single(spawner) -> None:
    """``Spawner.pre_spawn_hook`` in single-account mode: the user's folder holds the notebooks."""
    home = Path(spawner.home_dir_template.format(username=spawner.user.name))
    home.mkdir(parents=True, exist_ok=True)
    copy_notebooks(home)


def server_usage(ledger: str | os.PathLike, settings: dict, pre_spawn=None):
    """``(pre_spawn_hook, post_stop_hook)`` that record a user server in the usage ledger.

    The hub, not the user's server, writes the record (``satco2.usage``): a ``start`` when the
    server is requested (after ``pre_spawn``, the mode's own hook, has run) and a ``stop`` from
    ``post_stop_hook``, which JupyterHub runs for every stop (the user, the idle culler, a server
    that died, the hub's shutdown, a server that died while the hub was down). A server is charged
    the size the hub gives each server, ``usage.server_cores`` and ``usage.server_memory_gib``:
    the same unit as a gateway cluster (cores held times wall time), which the quotas compare.
    A ledger that cannot be written is logged and never stops a server.
    """
    u = settings.get("usage") or {}
    cores, memory = float(u.get("server_cores", 1)), float(u.get("server_memory_gib", 0))

    def _record(spawner, ev, **size):
        try:
            usage.record(ledger, ev, "server", spawner.user.name,
                         usage.server_id(spawner.user.name, spawner.name or ""), **size)
        except OSError as e:
            spawner.log.warning("usage ledger %s: %s", ledger, e)

    def pre_spawn_hook(spawner):
        if pre_spawn is not None:
            pre_spawn(spawner)
        _record(spawner, "start", cores=cores, memory_gib=memory)

    def post_stop_hook(spawner):
        _record(spawner, "stop")

    return pre_spawn_hook, post_stop_hook
