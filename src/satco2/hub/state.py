"""The hub's state directory: databases, secrets and the admin password, nothing else.

Layout of ``config.state_dir()`` (mode 0700; every secret file mode 0600)::

    jupyterhub.sqlite          hub database (users, NativeAuthenticator accounts, tokens)
    dask-gateway.sqlite        gateway database (encrypted with gateway_db_key)
    jupyterhub_cookie_secret   32 random bytes, hex
    proxy_auth_token           configurable-http-proxy API token
    gateway_db_key             Fernet key for the gateway database
    admin_password             the admin's generated password (written before the first start,
                               shown once on the terminal, never in a log)
    runtime.json               what the current start decided (ports, mode); removed at stop
    satco2-up.pid              pid of the running ``satco2 up`` (for ``satco2 down``)
    hub.log                    JupyterHub's, the proxy's and the services' log (``satco2 up``)
    publish-examples.log       the background publication of the example dashboards
    jupyterhub.pid, proxy.pid  written by JupyterHub and the proxy (made 0600 once the hub is up)
    users/<name>/              home folders in single-account mode
    clusters/                  gateway cluster working directories
    usage.jsonl                the usage ledger (satco2.usage): appended by the hub and the gateway;
                               0600, or 0640 with the services' group in root mode (the admins' page)
"""
from __future__ import annotations

import base64
import os
import secrets
import stat
from pathlib import Path

from .. import SatCO2Error, io

SECRET_FILES = ("jupyterhub_cookie_secret", "proxy_auth_token", "gateway_db_key")
#: databases created empty (a valid SQLite file) with mode 0600 before the hub starts: SQLite gives
#: its journal files the database's mode, so none of them is ever readable by others
DATABASES = ("jupyterhub.sqlite", "dask-gateway.sqlite")
#: written by JupyterHub and the proxy with the process umask, made 0600 once the hub answers
PROCESS_FILES = ("jupyterhub.pid", "proxy.pid")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 atomically (:func:`satco2.io.write_text`; the
    temporary file is 0600 too)."""
    io.write_text(path, text, mode=0o600)


def _generate(name: str) -> str:
    if name == "gateway_db_key":
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_hex(32)


def prepare(state_dir: Path) -> dict[str, str]:
    """Create ``state_dir`` (0700) and any missing secret; return ``{name: value}``.

    Existing secrets are kept (a restart keeps sessions and the gateway database readable);
    a secret file readable by others is refused rather than used.
    """
    state_dir = Path(state_dir)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SatCO2Error(f"cannot create the hub state directory {state_dir} ({e.strerror}).") from None
    os.chmod(state_dir, 0o700)
    for name in DATABASES:
        private_file(state_dir / name)
    values = {}
    for name in SECRET_FILES:
        path = state_dir / name
        if path.exists():
            check_private(path)
            values[name] = path.read_text().strip()
        else:
            values[name] = _generate(name)
            write_private(path, values[name] + "\n")
    return values


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 unless it exists; make an existing one 0600 too."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return path


def tighten(state_dir: Path) -> list[str]:
    """Make the files JupyterHub and the proxy write with the process umask (:data:`PROCESS_FILES`)
    0600 once they exist; return the names changed. (Other files are created 0600 by this package;
    tests/hub/test_login.py checks every file of a running hub's state directory.)"""
    changed = []
    for name in PROCESS_FILES:
        path = Path(state_dir) / name
        try:
            mode = stat.S_IMODE(path.lstat().st_mode)
        except FileNotFoundError:
            continue
        if path.is_file() and not path.is_symlink() and mode & 0o077:
            os.chmod(path, 0o600)
            changed.append(name)
    return changed


def check_private(path: Path) -> None:
    """Refuse a secret file that group or others may read."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SatCO2Error(
            f"the secret file {path} has mode {mode:o}; it must be 0600 (run: chmod 600 {path})."
        )


def new_password() -> str:
    """A generated password: 20 URL-safe characters (about 120 bits)."""
    return secrets.token_urlsafe(15)
