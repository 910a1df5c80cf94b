"""Per-user usage: core-hours and memory-hours of user servers and gateway clusters, and quotas.

The record is written by the hub side only — the Dask Gateway process (root in root mode, the
gateway's service account on HPC) and the hub's spawner hooks — never by user code: an
append-only ledger ``<state>/usage.jsonl`` (mode 0600; in root mode 0640 with the services' group,
so the dashboards service can show it to hub admins), one JSON object per line::

    {"t": 1764700000.0, "ev": "start", "kind": "worker", "user": "alice",
     "id": "<cluster>/<worker>", "cores": 1, "memory_gib": 1.0}
    {"t": ..., "ev": "stop", "kind": "worker", "user": "alice", "id": "<cluster>/<worker>"}
    {"t": ..., "ev": "start", "kind": "server", "user": "alice", "id": "alice", "cores": 1,
     "memory_gib": 2.0}                                  # recorded by the hub
    {"t": ..., "ev": "boot", "kind": "gateway"}          # a (re)start of the gateway

``kind`` is ``server`` (a user's JupyterLab server), ``scheduler`` or ``worker`` (a gateway
cluster's processes or batch jobs). An interval is charged from its ``start`` (for batch jobs:
submission, when the cores are requested from the batch system; for a server: the spawn request)
to its ``stop``.

Who records what:

- gateway clusters: the gateway's backend (:func:`satco2.hub.gateway.with_usage`); a gateway
  interval left open by a crash ends at the gateway's next ``boot``, or now while it still runs;
- user servers: the hub's spawner hooks (:mod:`satco2.hub.hooks`, ``pre_spawn_hook`` and
  ``post_stop_hook``), charged the size the hub gives every server (``usage.server_cores``,
  ``usage.server_memory_gib``). JupyterHub runs ``post_stop_hook`` for every stop: by the user,
  the idle culler, a server that died (the hub's poll), the hub's own shutdown, and a server that
  died while the hub was down (at the hub's next start). So a server interval ends only at its
  ``stop``; a hub restart does not close it, because JupyterHub resumes a server still running.

Quotas (``usage.quotas`` in ``hub-config/settings.yaml``, a default and per-user overrides):

- ``max_concurrent_cores``: cores the user holds at once, the running server(s) and all gateway
  clusters (schedulers + workers), checked when a cluster is created and when it is scaled up;
- ``monthly_core_hours`` (optional): core-hours of the current calendar month (UTC), servers and
  clusters, checked when a cluster is created and when it is scaled up.

A server is never refused (it is the user's way to their files; the idle culler bounds it): the
quotas limit the clusters a user may add on top. A refusal is a :class:`QuotaExceeded` (a
:class:`satco2.SatCO2Error`) with one sentence. ``satco2 usage [--json] [--month YYYY-MM]``
prints the per-user totals; hub admins see them with the quotas at ``/services/dashboards/usage``.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

from . import SatCO2Error, config, io

LEDGER_NAME = "usage.jsonl"


class QuotaExceeded(SatCO2Error):
    """A request that would exceed the user's quota (one sentence)."""


def ledger_path(state_dir: str | os.PathLike | None = None) -> Path:
    """``<state>/usage.jsonl`` (``$SATCO2_USAGE_LEDGER`` overrides)."""
    if config.usage_ledger():
        return config.usage_ledger()
    if state_dir is None:
        state_dir = config.state_dir()
    return Path(state_dir) / LEDGER_NAME


def record(path: str | os.PathLike, ev: str, kind: str, user: str | None = None, id: str | None = None,
           cores: float | None = None, memory_gib: float | None = None, t: float | None = None) -> dict:
    """Append one event to the ledger at ``path`` (created 0600); return it."""
    entry = {"t": time.time() if t is None else float(t), "ev": ev, "kind": kind}
    if user is not None:
        entry["user"] = user
    if id is not None:
        entry["id"] = id
    if cores is not None:
        entry["cores"] = float(cores)
    if memory_gib is not None:
        entry["memory_gib"] = float(memory_gib)
    io.append(path, json.dumps(entry, sort_keys=True) + "\n", mode=0o600)  # one whole line per event
    return entry


def read(path: str | os.PathLike) -> list[dict]:
    """The ledger's events (a missing ledger is empty; a torn last line is skipped)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


#: the ``boot`` that closes an interval of each kind left open (servers: none, see the module doc)
RECORDER = {"scheduler": "gateway", "worker": "gateway"}


def intervals(events: list[dict], now: float | None = None) -> list[dict]:
    """Charged intervals ``{user, kind, id, cores, memory_gib, start, end}`` from ledger events."""
    now = time.time() if now is None else now
    open_, out = {}, []
    for e in sorted(events, key=lambda e: e["t"]):
        if e["ev"] == "boot":
            for key in [k for k in open_ if RECORDER.get(k[0]) == e["kind"]]:
                out.append({**open_.pop(key), "end": e["t"]})
        elif e["ev"] == "start":
            key = (e["kind"], e.get("id"))
            if key in open_:  # a repeated start closes the earlier one
                out.append({**open_.pop(key), "end": e["t"]})
            open_[key] = {"user": e["user"], "kind": e["kind"], "id": e.get("id"),
                          "cores": e.get("cores", 0.0), "memory_gib": e.get("memory_gib", 0.0), "start": e["t"]}
        elif e["ev"] == "stop":
            iv = open_.pop((e["kind"], e.get("id")), None)
            if iv is not None:
                out.append({**iv, "end": e["t"]})
    out.extend({**iv, "end": max(now, iv["start"])} for iv in open_.values())
    return out


def month_bounds(month: str | None = None, now: float | None = None) -> tuple[float, float]:
    """Start and end (epoch seconds, UTC) of ``month`` (``YYYY-MM``; default: the current month)."""
    if month:
        try:
            first = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            raise SatCO2Error(f"month must look like 2026-01, got {month!r}.") from None
    else:
        today = dt.datetime.fromtimestamp(time.time() if now is None else now, dt.timezone.utc)
        first = today.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    return first.timestamp(), nxt.timestamp()


def summarize(events: list[dict], start: float | None = None, end: float | None = None,
              now: float | None = None) -> dict:
    """Per user: core-hours and memory-hours (GiB-hours) of ``servers`` and ``clusters`` in
    ``[start, end)`` (default: everything), and the cores held now, servers and clusters
    (``cores_now``)."""
    now = time.time() if now is None else now
    start = float("-inf") if start is None else start
    end = float("inf") if end is None else end
    users: dict[str, dict] = {}
    for iv in intervals(events, now):
        u = users.setdefault(iv["user"], {
            "servers": {"core_hours": 0.0, "memory_gib_hours": 0.0},
            "clusters": {"core_hours": 0.0, "memory_gib_hours": 0.0}, "cores_now": 0.0})
        hours = max(0.0, min(iv["end"], end) - max(iv["start"], start)) / 3600.0
        part = u["servers" if iv["kind"] == "server" else "clusters"]
        part["core_hours"] += iv["cores"] * hours
        part["memory_gib_hours"] += iv["memory_gib"] * hours
        if iv["end"] >= now and iv["start"] <= now:
            u["cores_now"] += iv["cores"]
    for u in users.values():
        u["total"] = {k: u["servers"][k] + u["clusters"][k] for k in ("core_hours", "memory_gib_hours")}
    return users


def _quota(q: dict | None) -> dict:
    q = dict(q or {})
    q.setdefault("max_concurrent_cores", None)
    q.setdefault("monthly_core_hours", None)
    return q


def default_quota(settings: dict) -> dict:
    """``usage.quotas.default`` (no usage section: no quota)."""
    return _quota(((settings.get("usage") or {}).get("quotas") or {}).get("default"))


def user_quota(settings: dict, user: str) -> dict:
    """``usage.quotas.users[user]`` or ``usage.quotas.default`` (no usage section: no quota)."""
    quotas = (settings.get("usage") or {}).get("quotas") or {}
    return _quota((quotas.get("users") or {}).get(user) or quotas.get("default"))


def check_quota(settings: dict, user: str, cores_after: float, cores_before: float = 0.0,
                month_core_hours: float = 0.0) -> None:
    """Raise :class:`QuotaExceeded` when ``user`` may not go from ``cores_before`` to
    ``cores_after`` cores held at once (server and clusters), having used ``month_core_hours``
    (servers and clusters) this month.

    Scaling down (``cores_after <= cores_before``) is always allowed.
    """
    if cores_after <= cores_before:
        return
    q = user_quota(settings, user)
    limit = q["max_concurrent_cores"]
    if limit is not None and cores_after > limit:
        raise QuotaExceeded(
            f"refused: {user}'s server and clusters would use {cores_after:g} cores at once and the "
            f"quota is {limit:g} (usage.quotas max_concurrent_cores; {cores_before:g} in use now).")
    monthly = q["monthly_core_hours"]
    if monthly is not None and month_core_hours >= monthly:
        raise QuotaExceeded(
            f"refused: {user} has used {month_core_hours:.2f} of {monthly:g} core-hours this month "
            f"(servers and clusters; usage.quotas monthly_core_hours).")


def core_hours_this_month(events: list[dict], user: str, now: float | None = None) -> float:
    """``user``'s core-hours of the current calendar month (UTC), servers and clusters."""
    start, end = month_bounds(now=now)
    return summarize(events, start, end, now).get(user, {}).get("total", {}).get("core_hours", 0.0)


def running_cores(events: list[dict], user: str, kinds=("server",), now: float | None = None) -> float:
    """Cores of ``user``'s intervals of ``kinds`` open now (default: the running servers)."""
    now = time.time() if now is None else now
    return sum(iv["cores"] for iv in intervals(events, now)
               if iv["user"] == user and iv["kind"] in kinds and iv["start"] <= now <= iv["end"])


def server_id(user: str, server_name: str = "") -> str:
    """The ledger id of a user's server: ``alice`` (default server) or ``alice/<name>``."""
    return f"{user}/{server_name}" if server_name else user


def usage_settings() -> dict:
    """``{"usage": ...}`` of the running hub: the JSON the hub hands its services
    (``SATCO2_USAGE_SETTINGS``), else the hub settings file's ``usage`` section."""
    text = config.get("usage-settings")
    if text:
        try:
            return {"usage": json.loads(text)}
        except ValueError:
            raise SatCO2Error("SATCO2_USAGE_SETTINGS must be the JSON of the hub settings' usage section.") from None
    doc = config.load_yaml(config.hub_settings_file(), "hub settings file", default={}) or {}
    return {"usage": doc.get("usage") or {}}


def overview(events: list[dict], settings: dict, now: float | None = None) -> list[dict]:
    """One row per user for the admins' page: this month's and all-time ``summarize`` figures, the
    user's quotas, and how close the user is to each (``cores_fraction``: cores held now over
    ``max_concurrent_cores``; ``month_fraction``: this month's core-hours over
    ``monthly_core_hours``; None without that quota). Sorted by the user name."""
    now = time.time() if now is None else now
    start, end = month_bounds(now=now)
    month, total = summarize(events, start, end, now), summarize(events, now=now)
    rows = []
    for user in sorted(total):
        q = user_quota(settings, user)
        used = month[user]["total"]["core_hours"] if user in month else 0.0
        rows.append({
            "user": user, "month": month.get(user), "all_time": total[user],
            "cores_now": total[user]["cores_now"], "quota": q,
            "cores_fraction": (total[user]["cores_now"] / q["max_concurrent_cores"]
                               if q["max_concurrent_cores"] else None),
            "month_core_hours": used,
            "month_fraction": used / q["monthly_core_hours"] if q["monthly_core_hours"] else None,
        })
    return rows


# --- command line ---------------------------------------------------------------------------------
def format_table(summary: dict) -> str:
    head = f"{'user':<16} {'server core-h':>13} {'server GiB-h':>12} {'cluster core-h':>14} {'cluster GiB-h':>13} {'cores now':>9}"
    lines = [head]
    for user in sorted(summary):
        u = summary[user]
        lines.append(f"{user:<16} {u['servers']['core_hours']:>13.3f} {u['servers']['memory_gib_hours']:>12.3f} "
                     f"{u['clusters']['core_hours']:>14.3f} {u['clusters']['memory_gib_hours']:>13.3f} "
                     f"{u['cores_now']:>9g}")
    if not summary:
        lines.append("(no usage recorded)")
    return "\n".join(lines)


def register(app) -> None:
    import typer

    @app.command("usage")
    def usage_cmd(
        as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
        month: str = typer.Option("", "--month", help="only this calendar month (YYYY-MM, UTC); default: all time"),
        ledger: str = typer.Option("", "--ledger", help="the usage ledger (default <state>/usage.jsonl)"),
    ):
        """Core-hours and memory-hours per user (user servers and gateway clusters), as the hub recorded them."""
        path = Path(ledger) if ledger else ledger_path()
        try:
            events = read(path)
        except PermissionError:
            raise SatCO2Error(f"the usage ledger {path} is readable by the hub's administrator only.") from None
        start, end = month_bounds(month) if month else (None, None)
        summary = summarize(events, start, end)
        if as_json:
            typer.echo(json.dumps({"ledger": str(path), "month": month or None, "users": summary},
                                  indent=2, sort_keys=True))
        else:
            typer.echo(format_table(summary))
