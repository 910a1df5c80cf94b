"""Schedules of notebook runs, kept in ``<state_dir>/scheduler/schedules.json`` and fired by the
scheduler service (:mod:`satco2.services.scheduler`), independent of any user's server.

A schedule::

    {"id": "a1b2c3d4", "notebook": "example", "params": {...}, "every": "daily", "owner": "alice",
     "publish": "example" | null, "created", "next_run", "last_run", "last_status", "last_report",
     "runs": 0}

``every`` is a key of :data:`FREQUENCIES` (``hourly``, ``daily``, ``monthly``) or, for tests and
demos, an interval in seconds written ``"<N>s"``. ``publish`` names a follow-latest dashboard that
each successful run updates (created on the first success). Parameters are validated when the
schedule is added, and again by each run.
"""
from __future__ import annotations

import getpass
import os
import re
import secrets
from datetime import datetime, timedelta, timezone

from .. import SatCO2Error
from ..config import state_dir
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
    return state_dir() / "scheduler" / "schedules.json"


def _locked():
    return reports.locked_json(schedules_file(), {"schedules": {}})


def _now() -> datetime:
    return datetime.now(timezone.utc)


def add(notebook: str, params: dict | None = None, every: str = "daily", *, owner: str | None = None,
        publish: str | None = None, start: datetime | None = None) -> dict:
    """Add a schedule; the first run fires at ``start`` (default: one period from now)."""
    from .execute import notebook_path

    every = check_every(every)
    nb = notebook_path(notebook)
    values = _params.validate(nb, params or {}, strict=True)
    owner = owner or os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
    if publish is not None:
        from .publish import SLUG_RE, check_name_free

        if not SLUG_RE.match(publish):
            raise SatCO2Error(f"dashboard name {publish!r} must be lower-case letters, digits, '-' or '_'.")
        check_name_free(publish, owner)
    now = _now()
    s = {
        "id": secrets.token_hex(4),
        "notebook": nb.stem,
        "notebook_path": str(nb),
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
        data["schedules"][s["id"]] = s
    return s


def list_schedules(owner: str | None = None) -> list[dict]:
    data = reports.read_json(schedules_file(), None) or {"schedules": {}}
    out = [s for s in data["schedules"].values() if owner is None or s["owner"] == owner]
    return sorted(out, key=lambda s: s["created"])


def get(schedule_id: str) -> dict:
    data = reports.read_json(schedules_file(), None) or {"schedules": {}}
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
