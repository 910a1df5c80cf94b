"""Schedules of notebook runs, kept in ``<state_dir>/scheduler/schedules.json`` and fired by the
scheduler service (:mod:`satco2.services.scheduler`), independent of any user's server.

A schedule::

    {"id": "a1b2c3d4", "notebook": "example", "params": {...}, "every": "daily", "owner": "alice",
     "publish": "example" | null, "created", "next_run", "last_run", "last_status", "last_report",
     "runs": 0}

``every`` is a key of :data:`FREQUENCIES` (``hourly``, ``daily``, ``monthly``) or an interval in
seconds written ``"<N>s"``, at least ``scheduler.min_interval_seconds`` of the hub settings; a user
holds at most ``scheduler.max_schedules_per_user`` schedules. ``publish`` names a follow-latest
dashboard that each successful run updates (created on the first success).

``notebook`` is a notebook of the hub (a name in ``notebooks/``), validated when the schedule is
added, or a path in the owner's home written ``~/...``: the scheduler service never opens it; the
run, executed as the owner's own account, finds and validates it (see
:mod:`satco2.services.scheduler`).
"""
from __future__ import annotations

import getpass
import re
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .. import SatCO2Error, config, io
from ..config import service_state_dir
from . import params as _params
from . import reports

_INTERVAL = re.compile(r"^(\d+)s$")


def _add_month(t: datetime) -> datetime:
    import calendar

    y, m = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
    return t.replace(year=y, month=m, day=min(t.day, calendar.monthrange(y, m)[1]))


FREQUENCIES = {
    "hourly": lambda t: t + timedelta(hours=1),
    "daily": lambda t: t + timedelta(days=1),
    "monthly": _add_month,
}


def check_every(every: str) -> str:
    every = str(every).strip().lower()
    if every in FREQUENCIES:
        return every
    m = _INTERVAL.match(every)
    if m and int(m[1]) >= 1:
        return every
    raise SatCO2Error(f"schedule frequency {every!r} must be one of {', '.join(FREQUENCIES)} or an interval like '60s'.")


def next_after(every: str, t: datetime) -> datetime:
    """The first firing time after ``t`` for frequency ``every``."""
    m = _INTERVAL.match(every)
    if m:
        return t + timedelta(seconds=int(m[1]))
    return FREQUENCIES[every](t)


def schedules_file():
    return service_state_dir() / "scheduler" / "schedules.json"


def limits() -> dict:
    """``{"max_schedules_per_user", "min_interval_seconds"}``: the ``scheduler`` section of the hub
    settings (settings ``scheduler-max-per-user``, ``scheduler-min-interval``: as the hub handed
    them to its scheduler service, else as the settings file says)."""
    return {"max_schedules_per_user": config.get("scheduler-max-per-user"),
            "min_interval_seconds": config.get("scheduler-min-interval")}


def interval_seconds(every: str) -> float:
    """Length of one period of ``every`` in seconds (a month counts 28 days)."""
    m = _INTERVAL.match(every)
    if m:
        return float(m[1])
    return {"hourly": 3600.0, "daily": 86400.0, "monthly": 28 * 86400.0}[every]


NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,99}(\.ipynb)?$")


def home_notebook(notebook: str) -> bool:
    """Whether ``notebook`` names a file in the owner's home (``~/...``), resolved by the run."""
    return str(notebook).startswith("~/") and ".." not in Path(str(notebook)).parts


def _locked():
    return io.update_json(schedules_file(), {"schedules": {}}, mode=reports.FILE_MODE)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def add(notebook: str, params: dict | None = None, every: str = "daily", *, owner: str | None = None,
        publish: str | None = None, start: datetime | None = None) -> dict:
    """Add a schedule; the first run fires at ``start`` (default: one period from now)."""
    from .execute import notebook_path

    every = check_every(every)
    lim = limits()
    if interval_seconds(every) < lim["min_interval_seconds"]:
        raise SatCO2Error(f"schedule frequency {every!r} is shorter than this hub's minimum of "
                          f"{lim['min_interval_seconds']} s.")
    if params is not None and not isinstance(params, dict):
        raise SatCO2Error("schedule parameters must be a mapping of names to values.")
    owner = owner or config.env("JUPYTERHUB_USER") or getpass.getuser()
    if home_notebook(notebook):  # the owner's own file: validated by the run, as the owner
        nb_name, nb_path, values = Path(notebook).stem, str(notebook), dict(params or {})
    else:
        nb = notebook_path(notebook)
        nb_name, nb_path = nb.stem, str(nb)
        values = _params.validate(nb, params or {}, strict=True)
    if publish is not None:
        from .publish import SLUG_RE, check_name_free

        if not SLUG_RE.match(publish):
            raise SatCO2Error(f"dashboard name {publish!r} must be lower-case letters, digits, '-' or '_'.")
        check_name_free(publish, owner)
    now = _now()
    s = {
        "id": secrets.token_hex(4),
        "notebook": nb_name,
        "notebook_path": nb_path,
        "params": values,
        "every": every,
        "owner": owner,
        "publish": publish,
        "created": now.isoformat(),
        "next_run": (start or next_after(every, now)).isoformat(),
        "last_run": None,
        "last_status": None,
        "last_report": None,
        "runs": 0,
    }
    with _locked() as data:
        mine = sum(1 for x in data["schedules"].values() if x["owner"] == owner)
        if mine >= lim["max_schedules_per_user"]:
            raise SatCO2Error(f"{owner} has {mine} schedules, this hub's maximum per user; remove one first.")
        data["schedules"][s["id"]] = s
    return s


def list_schedules(owner: str | None = None) -> list[dict]:
    data = io.read_json(schedules_file(), None) or {"schedules": {}}
    out = [s for s in data["schedules"].values() if owner is None or s["owner"] == owner]
    return sorted(out, key=lambda s: s["created"])


def get(schedule_id: str) -> dict:
    data = io.read_json(schedules_file(), None) or {"schedules": {}}
    if schedule_id not in data["schedules"]:
        raise SatCO2Error(f"no schedule {schedule_id!r}.")
    return data["schedules"][schedule_id]


def remove(schedule_id: str, owner: str | None = None) -> None:
    """Remove a schedule (only its owner's, when ``owner`` is given)."""
    with _locked() as data:
        s = data["schedules"].get(schedule_id)
        if s is None:
            raise SatCO2Error(f"no schedule {schedule_id!r}.")
        if owner is not None and s["owner"] != owner:
            raise SatCO2Error(f"schedule {schedule_id} belongs to {s['owner']}, not {owner}.")
        del data["schedules"][schedule_id]


def claim_due(now: datetime | None = None) -> list[dict]:
    """Schedules due at ``now``; their ``next_run`` moves to the first time after ``now`` (missed
    periods are skipped, not replayed). Called by the scheduler service once per tick."""
    now = now or _now()
    due = []
    with _locked() as data:
        for s in data["schedules"].values():
            nxt = datetime.fromisoformat(s["next_run"])
            if nxt <= now:
                while nxt <= now:
                    nxt = next_after(s["every"], nxt)
                s["next_run"] = nxt.isoformat()
                due.append(dict(s))
    return due


def record_result(schedule_id: str, report: "reports.Path | None", status: str) -> None:
    with _locked() as data:
        s = data["schedules"].get(schedule_id)
        if s is None:  # removed while running
            return
        s["last_run"] = _now().isoformat()
        s["last_status"] = status
        s["last_report"] = str(report) if report else None
        s["runs"] = int(s.get("runs", 0)) + 1
