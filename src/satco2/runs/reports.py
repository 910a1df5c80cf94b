"""Report folders: ``<reports_dir>/<notebook>/<run-id>/`` and the ``latest`` pointer.

A report folder holds ``notebook.ipynb`` (executed), ``parameters.json``, ``provenance.json``,
``status.json`` (``{"status": "ok" | "failed", ...}``), ``run.log``, ``report.html`` (nbconvert), the
data products the notebook wrote into :func:`satco2.runs.output_dir`, and after publishing
``dashboard.html`` (the offline snapshot).

While a run executes it lives in ``<notebook>/.tmp-<run-id>/``; it is renamed into place when it ends
(failed or not). ``<notebook>/latest`` names the newest successful run: the run folder with the
greatest run id (run ids sort by start time) whose ``status.json`` says ``ok``. It is found by
listing, not kept in a pointer file, so that nothing in a shared (sticky, root mode) reports folder
has to be replaced by another user than its owner.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from .. import SatCO2Error
from ..config import reports_dir

RUN_ID_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")
LATEST = "latest"


def new_run_id() -> str:
    """A sortable, unique run id: UTC time and 6 random hex digits (``20261123T183012Z-1a2b3c``)."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def notebook_reports(notebook: str) -> Path:
    return reports_dir() / notebook


def ensure_notebook_dir(notebook: str) -> Path:
    """Create ``<reports_dir>/<notebook>/``; in a shared reports folder (setgid, root mode: see
    :func:`satco2.hub.hooks.share_reports_dir`) make it group-writable too, so every user's runs
    of that notebook land in it, and sticky, so that nobody but a run's owner (and root) can
    remove or rename it."""
    d = notebook_reports(notebook)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise SatCO2Error(f"you may not write run reports into {d.parent} (ask the hub admin; in root mode "
                          f"the hub shares that folder with the satco2-users group).") from None
    share_like_parent(d)
    return d


def share_like_parent(d: Path) -> None:
    """If ``d``'s parent is a shared folder (setgid, root mode) and ``d`` is ours, make ``d``
    shared too: group-writable and sticky (3775), so every user adds to it and none removes or
    renames another's entries."""
    if d.parent.stat().st_mode & 0o2000 and d.stat().st_uid == os.geteuid():
        os.chmod(d, 0o3775)


def write_json(path: Path, data) -> None:
    """Write JSON atomically (temporary file in the same folder, fsync, ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, default=str)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_json(path: Path, default=None):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return default


@contextlib.contextmanager
def locked_json(path: Path, empty):
    """Read-modify-write a JSON file under an exclusive lock (``<path>.lock``, ``fcntl.flock``):
    yields the parsed content (``empty`` when missing), written back atomically on normal exit."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            data = read_json(path, None) or empty
            yield data
            write_json(path, data)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def latest(notebook: str, user: str | None = None) -> Path | None:
    """The report folder of the newest successful run of ``notebook`` (by run id), or None; with
    ``user``, the newest successful run of that hub user (``provenance.json``)."""
    d = notebook_reports(notebook)
    try:
        names = sorted((q.name for q in d.iterdir() if RUN_ID_RE.match(q.name)), reverse=True)
    except FileNotFoundError:
        return None
    for rid in names:
        if (read_json(d / rid / "status.json", {}) or {}).get("status") != "ok":
            continue
        if user is None or (read_json(d / rid / "provenance.json", {}) or {}).get("user") == user:
            return d / rid
    return None


def resolve(run: str | os.PathLike) -> Path:
    """The report folder named by ``run``: a path to it, ``<notebook>/<run-id>``,
    ``<notebook>/latest``, a notebook name (its latest), or a bare run id."""
    s = str(run)
    p = Path(s)
    if p.is_dir() and (p / "status.json").exists():
        return p.resolve()
    root = reports_dir()
    parts = s.strip("/").split("/")
    if len(parts) == 2:
        nb, rid = parts
        if rid == LATEST:
            q = latest(nb)
            if q is None:
                raise SatCO2Error(f"notebook '{nb}' has no successful run in {root}.")
            return q
        q = root / nb / rid
        if (q / "status.json").exists():
            return q
    elif len(parts) == 1:
        if RUN_ID_RE.match(s):
            hits = [q for q in root.glob(f"*/{s}") if (q / "status.json").exists()]
            if len(hits) == 1:
                return hits[0]
        elif (root / s).is_dir():
            q = latest(s)
            if q is not None:
                return q
            raise SatCO2Error(f"notebook '{s}' has no successful run in {root}.")
    raise SatCO2Error(f"no report {s!r} in {root} (give <notebook>/<run-id>, <notebook>/latest or a path).")


def info(report_dir: Path) -> dict:
    """Summary of one report: notebook, run id, status, parameters, user, times, error."""
    report_dir = Path(report_dir)
    status = read_json(report_dir / "status.json", {}) or {}
    prov = read_json(report_dir / "provenance.json", {}) or {}
    return {
        "notebook": report_dir.parent.name,
        "run_id": report_dir.name,
        "dir": str(report_dir),
        "status": status.get("status", "unknown"),
        "error": status.get("error"),
        "started": status.get("started"),
        "finished": status.get("finished"),
        "user": prov.get("user"),
        "title": prov.get("title"),
        "parameters": read_json(report_dir / "parameters.json", {}),
        "has_html": (report_dir / "report.html").exists(),
        "has_snapshot": (report_dir / "dashboard.html").exists(),
    }


def list_reports(notebook: str | None = None) -> list[dict]:
    """All finished reports (newest first), of one notebook or of all."""
    root = reports_dir()
    if not root.is_dir():
        return []
    nbs = [notebook] if notebook else sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    out = []
    for nb in nbs:
        d = root / nb
        if not d.is_dir():
            continue
        lat = latest(nb)
        for q in d.iterdir():
            if q.is_dir() and RUN_ID_RE.match(q.name) and (q / "status.json").exists():
                rec = info(q)
                rec["latest"] = lat is not None and q.name == lat.name
                out.append(rec)
    out.sort(key=lambda r: r["run_id"], reverse=True)
    return out
