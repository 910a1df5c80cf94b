"""Report folders: ``<reports_dir>/<user>/<notebook>/<run-id>/``, one tree per hub user.

A report folder holds ``notebook.ipynb`` (executed), ``parameters.json``, ``provenance.json``,
``status.json`` (``{"status": "ok" | "failed", ...}``), ``run.log``, ``report.html`` (nbconvert) and
the data products the notebook wrote into :func:`satco2.runs.output_dir`.

While a run executes it lives in ``<user>/<notebook>/.tmp-<run-id>/``; it is renamed into place when
it ends (failed or not) and sealed (no group or other write bits). The newest successful run of a
notebook by a user is found by listing that user's folder.

Trust (root mode, see docs/hub.md): ``<reports_dir>`` belongs to root and is not writable by users;
the hub creates ``<reports_dir>/<user>/`` owned by that user's system account when it starts the
user's server. So the author of a run is the name of the folder it sits in, and that name is
believed only when the folder, the notebook folder and the run folder all belong to the author's
account (:func:`expected_owner`) and none of them is a link. A run that fails the check is ignored
by every listing; ``provenance.json`` is never asked who wrote a run.
"""
from __future__ import annotations

import getpass
import grp
import json
import os
import pwd
import re
import secrets
from datetime import datetime, timezone
from pathlib import Path

from .. import SatCO2Error, config, safeio
from ..config import isolation, reports_dir

RUN_ID_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")
LATEST = "latest"
#: mode of the JSON files written into report folders and the services' registries (``satco2.io``):
#: readable by the services' account, writable only by their writer
FILE_MODE = 0o644


def new_run_id() -> str:
    """A sortable, unique run id: UTC time and 6 random hex digits (``20261123T183012Z-1a2b3c``)."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


#: author name of the example runs that ``satco2 up`` publishes (reserved: no hub user may take it)
EXAMPLES_AUTHOR = "examples"
#: system account of the services (root mode); the example runs belong to it
SERVICE_ACCOUNT = "satco2-svc"
#: system group of the hub users' accounts (root mode)
USERS_GROUP = "satco2-users"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


def current_user() -> str:
    """The hub user this process acts for: ``$JUPYTERHUB_USER`` in a hub server, else the OS user."""
    return config.env("JUPYTERHUB_USER") or getpass.getuser()


def check_user(user: str) -> str:
    if not _NAME_RE.match(str(user)):
        raise SatCO2Error(f"{user!r} is not a valid user name for a reports folder.")
    return str(user)


def expected_owner(user: str) -> int | None:
    """The uid that must own ``<reports_dir>/<user>`` for its runs to count as ``user``'s.

    Root mode (or wherever ``user`` is a hub-created system account, member of ``satco2-users``):
    that account's uid; ``examples``: the service account's. Otherwise (single-account mode, no hub):
    the owner of the reports folder itself, i.e. the one account everything runs as. None: no
    account can be the author (such runs are ignored)."""
    try:
        if user == EXAMPLES_AUTHOR:
            try:
                return pwd.getpwnam(SERVICE_ACCOUNT).pw_uid if isolation() == "root" else _root_owner()
            except KeyError:
                return _root_owner() if isolation() != "root" else None
        try:
            entry = pwd.getpwnam(user)
            gid = grp.getgrnam(USERS_GROUP).gr_gid
        except KeyError:
            entry = None
        if entry is not None and (entry.pw_gid == gid or user in grp.getgrgid(gid).gr_mem):
            return entry.pw_uid
        return None if isolation() == "root" else _root_owner()
    except OSError:
        return None


def _root_owner() -> int | None:
    try:
        return os.stat(reports_dir()).st_uid
    except OSError:
        return None


def user_reports(user: str | None = None) -> Path:
    return reports_dir() / check_user(user or current_user())


def notebook_reports(notebook: str, user: str | None = None) -> Path:
    return user_reports(user) / safeio.check_name(notebook)


def ensure_notebook_dir(notebook: str, user: str | None = None) -> Path:
    """Create ``<reports_dir>/<user>/<notebook>/`` (mode 0755: readable by every hub user, writable
    by its owner only). In root mode ``<reports_dir>/<user>`` is made by the hub for the user; a
    process that is not that user's account cannot write there."""
    user = check_user(user or current_user())
    home = user_reports(user)
    if not home.is_dir():
        try:
            home.mkdir(parents=True, mode=0o755)
        except PermissionError:
            raise SatCO2Error(f"your reports folder {home} does not exist and you may not create it; the hub "
                              f"creates it when it starts your server (log in once, or ask the hub admin).") from None
        except FileExistsError:
            pass
    d = home / safeio.check_name(notebook)
    try:
        d.mkdir(exist_ok=True, mode=0o755)
    except PermissionError:
        raise SatCO2Error(f"you may not write run reports into {home}: it is the reports folder of another "
                          f"account.") from None
    if d.is_symlink() or not d.is_dir() or d.stat().st_uid != os.geteuid():
        raise SatCO2Error(f"{d} is not a folder of yours; remove it or ask the hub admin.")
    return d


def _open_run(user: str, notebook: str, run_id: str) -> int:
    """A descriptor of a run folder that passed the trust check (see the module docstring)."""
    if not RUN_ID_RE.match(run_id):
        raise safeio.UntrustedPath(f"{run_id!r} is not a run id.")
    owner = expected_owner(check_user(user))
    if owner is None:
        raise safeio.UntrustedPath(f"{user!r} is not a hub user whose runs can be shown.")
    return safeio.open_dir(reports_dir(), [user, notebook, run_id], owner=owner)


def run_parts(report_dir) -> tuple[str, str, str]:
    """``(user, notebook, run_id)`` of a folder ``<reports_dir>/<user>/<notebook>/<run-id>``."""
    p = Path(os.path.abspath(report_dir))
    try:
        rel = p.relative_to(Path(os.path.abspath(reports_dir())))
    except ValueError:
        raise SatCO2Error(f"{report_dir} is not inside the reports folder {reports_dir()}.") from None
    if len(rel.parts) != 3:
        raise SatCO2Error(f"{report_dir} is not a run folder (<user>/<notebook>/<run-id>) of {reports_dir()}.")
    return rel.parts  # type: ignore[return-value]


def read_run_file(report_dir, name: str) -> bytes:
    """A file of a run folder in the reports tree, read without following links and only if the
    run passes the trust check (:class:`satco2.safeio.UntrustedPath` otherwise)."""
    user, nb, rid = run_parts(report_dir)
    fd = _open_run(user, nb, rid)
    try:
        return safeio.read_file(fd, name, owner=expected_owner(user))
    finally:
        os.close(fd)


def _run_json(report_dir: Path, name: str, default=None):
    """JSON of a run file: through the trust check inside the reports tree; a verified copy (the
    services' own storage, see :mod:`satco2.runs.publish`) is read directly."""
    try:
        if _in_reports(report_dir):
            return json.loads(read_run_file(report_dir, name))
        return json.loads(Path(report_dir, name).read_bytes())
    except (OSError, ValueError, SatCO2Error):
        return default


def _in_reports(report_dir) -> bool:
    try:
        Path(os.path.abspath(report_dir)).relative_to(Path(os.path.abspath(reports_dir())))
        return True
    except ValueError:
        return False


def trusted(report_dir) -> bool:
    """Whether a folder of the reports tree is a run that passes the trust check."""
    try:
        fd = _open_run(*run_parts(report_dir))
    except SatCO2Error:
        return False
    os.close(fd)
    return True


def _run_ids(user: str, notebook: str) -> list[str]:
    """Run ids of ``user``'s folder of ``notebook`` (newest first), the folders checked."""
    owner = expected_owner(user)
    if owner is None:
        return []
    try:
        fd = safeio.open_dir(reports_dir(), [user, notebook], owner=owner)
    except SatCO2Error:
        return []
    try:
        names = [e.name for e in os.scandir(fd) if RUN_ID_RE.match(e.name)]
    finally:
        os.close(fd)
    return sorted(names, reverse=True)


def latest(notebook: str, user: str | None = None) -> Path | None:
    """The report folder of ``user``'s newest successful run of ``notebook`` (default: the current
    user), or None. Only that user's own, trusted folders are considered."""
    user = check_user(user or current_user())
    for rid in _run_ids(user, notebook):
        d = reports_dir() / user / notebook / rid
        if (_run_json(d, "status.json", {}) or {}).get("status") == "ok":
            return d
    return None


def resolve(run: str | os.PathLike, user: str | None = None) -> Path:
    """The report folder named by ``run``: a path to it, ``<user>/<notebook>/<run-id>``,
    ``<notebook>/<run-id>``, ``<notebook>/latest`` or a notebook name (its latest) of ``user``
    (default: the current user), or a bare run id of that user. Only trusted runs are found."""
    s = str(run)
    user = check_user(user or current_user())
    root = reports_dir()
    p = Path(s)
    if p.is_absolute() or s.startswith("."):
        if _in_reports(p) and trusted(p) and (_run_json(p, "status.json") is not None):
            return Path(os.path.abspath(p))
        raise SatCO2Error(f"{s} is not a run folder of the reports tree {root}.")
    parts = s.strip("/").split("/")
    try:
        if len(parts) in (2, 3):
            u, nb, rid = parts if len(parts) == 3 else (user, *parts)
            if rid == LATEST:
                q = latest(nb, u)
                if q is None:
                    raise SatCO2Error(f"notebook '{nb}' has no successful run by {u} in {root}.")
                return q
            if trusted(root / u / nb / rid):
                return root / u / nb / rid
        elif len(parts) == 1:
            if RUN_ID_RE.match(s):
                for nb in _notebooks(user):
                    if s in _run_ids(user, nb):
                        return root / user / nb / s
            elif _run_ids(user, s):
                q = latest(s, user)
                if q is not None:
                    return q
                raise SatCO2Error(f"notebook '{s}' has no successful run by {user} in {root}.")
    except safeio.UntrustedPath:
        pass
    raise SatCO2Error(f"no report {s!r} of {user} in {root} (give <notebook>/<run-id>, <notebook>/latest, "
                      f"<user>/<notebook>/<run-id> or a path).")


def info(report_dir: Path) -> dict:
    """Summary of one report: user (the folder's, checked), notebook, run id, status, parameters,
    times, error."""
    report_dir = Path(report_dir)
    status = _run_json(report_dir, "status.json", {}) or {}
    prov = _run_json(report_dir, "provenance.json", {}) or {}
    params = _run_json(report_dir, "parameters.json", {}) or {}
    return {
        "user": report_dir.parent.parent.name,
        "notebook": report_dir.parent.name,
        "run_id": report_dir.name,
        "dir": str(report_dir),
        "status": str(status.get("status", "unknown")),
        "error": status.get("error"),
        "started": status.get("started"),
        "finished": status.get("finished"),
        "title": prov.get("title"),
        "parameters": params if isinstance(params, dict) else {},
        "has_html": (report_dir / "report.html").is_file() and not (report_dir / "report.html").is_symlink(),
    }


def _users() -> list[str]:
    root = reports_dir()
    try:
        return sorted(e.name for e in os.scandir(root) if _NAME_RE.match(e.name) and e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def _notebooks(user: str) -> list[str]:
    owner = expected_owner(user)
    if owner is None:
        return []
    try:
        fd = safeio.open_dir(reports_dir(), [user], owner=owner)
    except SatCO2Error:
        return []
    try:
        return sorted(e.name for e in os.scandir(fd)
                      if not e.name.startswith((".", "_")) and e.is_dir(follow_symlinks=False))
    finally:
        os.close(fd)


def list_reports(notebook: str | None = None, user: str | None = None) -> list[dict]:
    """All finished, trusted reports (newest first), of one notebook and/or one user or of all."""
    out = []
    for u in ([check_user(user)] if user else _users()):
        for nb in ([notebook] if notebook else _notebooks(u)):
            lat = latest(nb, u)
            for rid in _run_ids(u, nb):
                q = reports_dir() / u / nb / rid
                if not trusted(q):
                    continue
                rec = info(q)
                if rec["status"] == "unknown":
                    continue
                rec["latest"] = lat is not None and q == lat
                out.append(rec)
    out.sort(key=lambda r: r["run_id"], reverse=True)
    return out
