"""The hub's HTML forms as a client submits them: :func:`form_post`.

Used by :class:`satco2.hub.launcher.Hub` (the admin's first login through the real login form)
and by the tests (:mod:`satco2.testing.hub`: sign-up, login, password changes).
"""
from __future__ import annotations

import re

import requests

from .. import SatCO2Error


def form_post(session: requests.Session, url: str, data: dict, **kwargs) -> requests.Response:
    """GET a hub form page (sets the ``_xsrf`` cookie), then POST ``data`` with ``_xsrf``."""
    r = session.get(url, timeout=30)
    r.raise_for_status()
    xsrf = session.cookies.get("_xsrf")
    if not xsrf:
        m = re.search(r'name="_xsrf" value="([^"]+)"', r.text)
        xsrf = m.group(1) if m else None
    if not xsrf:
        raise SatCO2Error(f"the form at {url} set no _xsrf token.")
    return session.post(url, data={**data, "_xsrf": xsrf}, timeout=60, **kwargs)
