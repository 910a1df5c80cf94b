"""The hub services' token API, for the ``satco2`` CLI in a user's server that cannot write the
hub's state folder (root mode: each user runs as their own system account, the registries of
published dashboards and schedules belong to the hub).

:func:`service_url` says whether to go through the API; :func:`call` makes one request with the
server's own hub token (``JUPYTERHUB_API_TOKEN``) and turns a refusal into :class:`SatCO2Error`.
"""
from __future__ import annotations

import os
from pathlib import Path

from .. import SatCO2Error, config


def _writable(path: Path) -> bool:
    p = Path(path)
    try:
        while not p.exists() and p != p.parent:
            p = p.parent
    except OSError:  # a folder above is not ours to search
        return False
    return os.access(p, os.W_OK | os.X_OK)


def service_url(service: str) -> str | None:
    """``<hub>/services/<service>/`` when this process runs in a hub user's server and cannot
    write the services' state folder; None when the registries are to be written directly."""
    hub = config.env("SATCO2_HUB_URL")
    if not hub or not config.env("JUPYTERHUB_API_TOKEN") or _writable(config.service_state_dir()):
        return None
    return f"{hub.rstrip('/')}/services/{service}/"


def call(service: str, method: str, path: str, payload: dict | None = None, timeout: float = 600):
    """``method`` ``<hub>/services/<service>/<path>`` with the server's hub token; the JSON reply."""
    import requests

    base = service_url(service) or f"{config.env('SATCO2_HUB_URL', '').rstrip('/')}/services/{service}/"
    url = base + path.lstrip("/")
    try:
        r = requests.request(method, url, json=payload, timeout=timeout, allow_redirects=False,
                             headers={"Authorization": f"token {config.env('JUPYTERHUB_API_TOKEN', '')}"})
    except requests.RequestException as e:
        raise SatCO2Error(f"the hub's {service} service did not answer at {url} ({type(e).__name__}).") from None
    try:
        data = r.json()
    except ValueError:
        data = None
    if r.status_code >= 400 or data is None:
        msg = data.get("error") if isinstance(data, dict) else None
        raise SatCO2Error(f"the hub's {service} service refused: {msg or f'HTTP {r.status_code}'}.")
    return data
