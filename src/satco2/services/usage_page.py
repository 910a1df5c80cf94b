"""The hub admins' usage page of the dashboards service (``<prefix>/usage``).

Per user: the cores held now and the core-hours and memory-hours (GiB-hours) of this calendar
month (UTC) and of all time, user servers and gateway clusters apart, beside the user's quotas
and how close the user is to each (:func:`satco2.usage.overview`). The figures are the usage
ledger's, written by the hub (servers) and the gateway (clusters), never by users.

Only hub admins may open it (the hub OAuth user model's ``admin``); anyone else logged in gets
403, nobody logged in goes to the hub login (:class:`satco2.services.dashboards.BaseHandler`).
The page is a Jinja2 template with autoescape, as every page of the service.
"""
from __future__ import annotations

import datetime as dt
import time

from tornado import web

from .. import SatCO2Error, usage
from .dashboards import BaseHandler


def page_values(now: float | None = None) -> dict:
    """What ``usage.html`` shows: the ledger, its rows, the default quota, the month; or an error
    sentence when the ledger cannot be read."""
    now = time.time() if now is None else now
    path = usage.ledger_path()
    values = {"ledger": str(path), "rows": [], "error": None,
              "month": dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%Y-%m"),
              "default_quota": {"max_concurrent_cores": None, "monthly_core_hours": None}}
    try:
        settings = usage.usage_settings()
        values["default_quota"] = usage.default_quota(settings)
        values["rows"] = usage.overview(usage.read(path), settings, now)
    except PermissionError:
        values["error"] = f"the usage ledger {path} is not readable by the dashboards service's account."
    except OSError as e:
        values["error"] = f"the usage ledger {path} cannot be read ({e.strerror})."
    except SatCO2Error as e:
        values["error"] = str(e)
    return values


class UsageHandler(BaseHandler):
    """``GET <prefix>/usage``: the usage page, for hub admins only."""

    def get(self):
        if not self.current_user.get("admin"):
            raise web.HTTPError(403, "only hub admins may see the usage page")
        self.page("usage.html", title="Usage per user", **page_values())
